package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// RetryPolicy bounds how registry requests are retried on 408, 429 and 5xx
// answers (501 excepted) and on connection resets. go-containerregistry's own
// retry (remote.WithRetryBackoff and friends) ignores Retry-After and sleeps
// without watching the context, so the Resolver turns it off and retries in
// its own transport instead.
type RetryPolicy struct {
	// MaxAttempts is the number of tries, the first included. Default 4; 1
	// disables retries.
	MaxAttempts int
	// BaseDelay is the first backoff when the registry gives no Retry-After;
	// it doubles on each retry, with ±10% jitter. Default 250ms.
	BaseDelay time.Duration
	// MaxDelay caps a computed backoff. Default 5s.
	MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After that is waited for; a registry
	// asking for longer gets no retry and the request fails at once.
	// Default 30s.
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy returns the policy a Resolver uses unless WithRetry is given.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, BaseDelay: 250 * time.Millisecond, MaxDelay: 5 * time.Second, MaxRetryAfter: 30 * time.Second}
}

func (p RetryPolicy) validate() error {
	if p.MaxAttempts < 1 || p.BaseDelay < 0 || p.MaxDelay < 0 || p.MaxRetryAfter < 0 {
		return fmt.Errorf("retry policy: MaxAttempts must be at least 1 and durations not negative, got %+v", p)
	}
	return nil
}

// retryTransport retries idempotent requests (GET, HEAD) that met a
// retryable status or a connection reset, honouring Retry-After (seconds or
// an HTTP date) and the request's context.
type retryTransport struct {
	inner  http.RoundTripper
	policy RetryPolicy
	now    func() time.Time
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return t.inner.RoundTrip(req)
	}
	ctx := req.Context()
	for attempt := 1; ; attempt++ {
		resp, err := t.inner.RoundTrip(req)
		if attempt >= t.policy.MaxAttempts {
			return resp, err
		}
		var wait time.Duration
		switch {
		case err != nil:
			if !resetByPeer(err) {
				return nil, err
			}
			wait = t.backoff(attempt)
		case retryableStatus(resp.StatusCode):
			after, ok := retryAfter(resp.Header.Get("Retry-After"), t.now())
			if ok && after > t.policy.MaxRetryAfter {
				return resp, nil
			}
			if !ok {
				after = t.backoff(attempt)
			}
			wait = after
			drain(resp)
		default:
			return resp, nil
		}
		if deadline, ok := ctx.Deadline(); ok && t.now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("%s %s: retry in %s would pass the deadline: %w", req.Method, req.URL.Redacted(), wait, context.DeadlineExceeded)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func (t *retryTransport) backoff(attempt int) time.Duration {
	d := t.policy.BaseDelay << (attempt - 1)
	if d > t.policy.MaxDelay || d <= 0 {
		d = t.policy.MaxDelay
	}
	jitter := time.Duration(float64(d) * 0.1 * (2*rand.Float64() - 1))
	return d + jitter
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	when, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := when.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

func resetByPeer(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func drain(resp *http.Response) {
	// Read a little so the connection can be reused; a huge error body is not worth it.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	_ = resp.Body.Close()
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
