package images

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrorKind says why a registry request failed, so that a caller can decide
// between retrying later and asking a human.
type ErrorKind string

const (
	// Unreachable: no HTTP answer (connection refused, DNS, TLS, timeout).
	Unreachable ErrorKind = "Unreachable"
	// Unauthorized: 401 or 403; the credentials are missing or wrong.
	Unauthorized ErrorKind = "Unauthorized"
	// NotFound: 404; the repository or tag does not exist.
	NotFound ErrorKind = "NotFound"
	// RateLimited: 429 after every retry.
	RateLimited ErrorKind = "RateLimited"
	// ServerError: 5xx after every retry.
	ServerError ErrorKind = "ServerError"
	// Protocol: any other answer that could not be used.
	Protocol ErrorKind = "Protocol"
	// Canceled: the caller's context ended first.
	Canceled ErrorKind = "Canceled"
	// Credentials: the keychain failed to give credentials for the registry.
	Credentials ErrorKind = "Credentials"
	// Timeout: the image's own deadline passed (see WithImageTimeout) while the run's had not.
	Timeout ErrorKind = "Timeout"
	// TooLarge: a response was longer than the Resolver allows, or the run had read all it
	// may read from registries (see WithMaxResponseBytes and WithRunReadLimit).
	TooLarge ErrorKind = "TooLarge"
)

// RegistryError is the error of one image's registry request. It is never a
// finding: the caller reports it as an error for that image, never as "no
// drift". Its message starts with the reference and names the registry host;
// it carries no credentials.
type RegistryError struct {
	Kind ErrorKind
	// Ref is the canonical reference that was being resolved.
	Ref string
	// Host is the registry host, e.g. "index.docker.io".
	Host string
	// StatusCode is the last HTTP status, 0 when there was none.
	StatusCode int
	Err        error
}

// Error is "<ref>: registry <host>: <kind>: <cause>".
func (e *RegistryError) Error() string {
	return fmt.Sprintf("%s: registry %s: %s: %v", e.Ref, e.Host, e.Kind, e.Err)
}

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *RegistryError) Unwrap() error { return e.Err }

// Transient reports whether trying again later may succeed without a human.
func (e *RegistryError) Transient() bool {
	switch e.Kind {
	case Unreachable, RateLimited, ServerError, Canceled, Timeout:
		return true
	}
	return false
}

// registryError classifies err from go-containerregistry for ref.
func registryError(ref Reference, err error) *RegistryError {
	var existing *RegistryError
	if errors.As(err, &existing) {
		return existing
	}
	re := &RegistryError{Kind: Protocol, Ref: ref.String(), Host: ref.Registry, Err: err}
	var terr *transport.Error
	var nerr net.Error
	switch {
	case errors.Is(err, ErrTooLarge):
		re.Kind = TooLarge
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		re.Kind = Canceled
	case errors.As(err, &terr):
		re.StatusCode = terr.StatusCode
		switch code := terr.StatusCode; {
		case code == http.StatusUnauthorized, code == http.StatusForbidden:
			re.Kind = Unauthorized
		case code == http.StatusNotFound:
			re.Kind = NotFound
		case code == http.StatusTooManyRequests:
			re.Kind = RateLimited
		case code >= 500:
			re.Kind = ServerError
		}
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &nerr):
		re.Kind = Unreachable
	}
	return re
}

// headFallsBack reports whether a failed HEAD should be tried again as a GET:
// the registry answered 200 but left out a header HEAD needs (such as
// Docker-Content-Digest), or it does not do HEAD (405, 501). Other HTTP
// errors and network failures do not fall back: a GET would fail the same way
// and cost a request.
func headFallsBack(err error) bool {
	var terr *transport.Error
	var nerr net.Error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrTooLarge):
		return false
	case errors.As(err, &terr):
		return terr.StatusCode == http.StatusMethodNotAllowed || terr.StatusCode == http.StatusNotImplemented
	case errors.As(err, &nerr), errors.Is(err, syscall.ECONNREFUSED):
		return false
	}
	return true
}
