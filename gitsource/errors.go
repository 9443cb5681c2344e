package gitsource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Kinds of failure that a caller decides on. Test them with errors.Is; every
// error that Fetch returns is an *Error, and at most one kind matches it.
var (
	// ErrAuth means the remote refused the credentials, or no usable
	// credentials were given (an SSH URL without an identity). Needs a human.
	ErrAuth = errors.New("authentication failed")
	// ErrHostKey means the SSH host key is unknown, does not match or is
	// revoked, or no known_hosts was given for an SSH URL. Needs a human.
	ErrHostKey = errors.New("host key verification failed")
	// ErrRefNotFound means the branch, tag or commit does not exist on the
	// remote, or the remote repository is empty. Needs a human.
	ErrRefNotFound = errors.New("ref not found")
	// ErrRepositoryNotFound means the remote has no repository at that
	// path. Some servers answer this for a repository the credentials may
	// not see.
	ErrRepositoryNotFound = errors.New("repository not found")
	// ErrUnreachable means the remote could not be reached or did not
	// answer in time: connection refused, DNS failure, time-out, HTTP 5xx
	// or 429. Transient: retry later.
	ErrUnreachable = errors.New("remote unreachable")
)

// Error is the error Fetch returns. Its text starts with the redacted URL
// and the ref it concerns, and never contains a credential.
type Error struct {
	// URL is the remote, redacted by RedactURL.
	URL string
	// Ref is the ref as the caller gave it; empty means the remote HEAD.
	Ref string
	// Op is the step that failed, such as "list refs" or "fetch".
	Op string
	// Kind is one of ErrAuth, ErrHostKey, ErrRefNotFound,
	// ErrRepositoryNotFound and ErrUnreachable, or nil when the failure is
	// none of those.
	Kind error
	// Err is the cause, with credentials scrubbed from its text. It may be
	// nil when Kind says it all.
	Err error
}

// Error reads "URL (ref R): op: kind: cause".
func (e *Error) Error() string {
	ref := e.Ref
	if ref == "" {
		ref = "HEAD"
	}
	url := e.URL
	if url == "" {
		url = "<no URL>"
	}
	var b strings.Builder
	b.WriteString(url + " (ref " + ref + "): " + e.Op)
	cause := ""
	if e.Err != nil {
		cause = e.Err.Error()
	}
	// Say the kind once: causes built here often start with it already.
	if e.Kind != nil && !strings.HasPrefix(cause, e.Kind.Error()) {
		b.WriteString(": " + e.Kind.Error())
	}
	if cause != "" {
		b.WriteString(": " + cause)
	}
	return b.String()
}

// Unwrap returns Kind and Err, so that errors.Is matches the kind and
// errors.As reaches the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// classify returns the kind of err, or nil when it is none of the known ones.
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, kind := range []error{ErrAuth, ErrHostKey, ErrRefNotFound, ErrRepositoryNotFound, ErrUnreachable} {
		if errors.Is(err, kind) {
			return kind
		}
	}
	switch {
	case anyCause(err, isHostKeyError):
		return ErrHostKey
	case anyCause(err, isAuthError):
		return ErrAuth
	case anyCause(err, func(e error) bool { return e == transport.ErrRepositoryNotFound }):
		return ErrRepositoryNotFound
	case anyCause(err, func(e error) bool { return e == transport.ErrEmptyRemoteRepository }):
		return ErrRefNotFound
	case anyCause(err, isCertificateError):
		return nil
	case anyCause(err, isNetworkError):
		return ErrUnreachable
	}
	return nil
}

func isHostKeyError(err error) bool {
	switch err.(type) {
	case *knownhosts.KeyError, *knownhosts.RevokedError:
		return true
	}
	return false
}

func isAuthError(err error) bool {
	if err == transport.ErrAuthenticationRequired || err == transport.ErrAuthorizationFailed {
		return true
	}
	// golang.org/x/crypto/ssh reports a refused key with text only.
	return strings.HasPrefix(err.Error(), "ssh: unable to authenticate")
}

func isCertificateError(err error) bool {
	switch err.(type) {
	case *tls.CertificateVerificationError, x509.UnknownAuthorityError, x509.HostnameError,
		x509.CertificateInvalidError:
		return true
	}
	return false
}

func isNetworkError(err error) bool {
	if err == context.DeadlineExceeded {
		return true
	}
	switch e := err.(type) {
	case *net.OpError, *net.DNSError, *net.AddrError:
		return true
	case syscall.Errno:
		switch e {
		case syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
			syscall.ETIMEDOUT, syscall.ECONNABORTED, syscall.EPIPE:
			return true
		}
	case *githttp.Err:
		code := e.StatusCode()
		return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
	case net.Error:
		return e.Timeout()
	}
	return false
}

// anyCause reports whether match holds for err or any error it wraps,
// including go-git's UnexpectedError and PermanentError, which wrap without
// an Unwrap method.
func anyCause(err error, match func(error) bool) bool {
	if err == nil {
		return false
	}
	if match(err) {
		return true
	}
	switch e := err.(type) {
	case *plumbing.UnexpectedError:
		return anyCause(e.Err, match)
	case *plumbing.PermanentError:
		return anyCause(e.Err, match)
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			if anyCause(inner, match) {
				return true
			}
		}
		return false
	case interface{ Unwrap() error }:
		return anyCause(e.Unwrap(), match)
	}
	return false
}
