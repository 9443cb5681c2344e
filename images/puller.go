package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pullerMaxAge bounds how long one go-containerregistry Puller (which keeps
// an authenticated transport per repository) is reused.
const pullerMaxAge = 30 * time.Minute

// maxPullers bounds the number of credential identities kept at once.
const maxPullers = 256

// credential is what a keychain gave for a registry: the authenticator and an
// identity that names it without revealing it (a truncated SHA-256 of the
// credential fields, or "anonymous").
type credential struct {
	auth     authn.Authenticator
	identity string
}

var anonymous = credential{auth: authn.Anonymous, identity: "anonymous"}

// credentialsFor resolves kc for ref's registry. A nil kc is anonymous.
func credentialsFor(ctx context.Context, kc authn.Keychain, ref Reference) (credential, error) {
	if kc == nil {
		return anonymous, nil
	}
	fail := func(err error) (credential, error) {
		return credential{}, &RegistryError{Kind: Credentials, Ref: ref.String(), Host: ref.Registry, Err: err}
	}
	reg, err := name.NewRegistry(ref.Registry)
	if err != nil {
		return fail(err)
	}
	auth, err := authn.Resolve(ctx, kc, reg)
	if err != nil {
		return fail(err)
	}
	if auth == nil || auth == authn.Anonymous {
		return anonymous, nil
	}
	cfg, err := authn.Authorization(ctx, auth)
	if err != nil {
		return fail(err)
	}
	if cfg == nil || *cfg == (authn.AuthConfig{}) {
		return anonymous, nil
	}
	h := sha256.New()
	for _, f := range []string{cfg.Username, cfg.Password, cfg.Auth, cfg.IdentityToken, cfg.RegistryToken} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return credential{auth: authn.FromConfig(*cfg), identity: "cred:" + hex.EncodeToString(h.Sum(nil)[:16])}, nil
}

type pullerEntry struct {
	p       *remote.Puller
	created time.Time
}

// puller returns the Puller for a credential identity, so that pings and
// token exchanges are made once per repository and identity, not per tag.
func (r *Resolver) puller(cred credential) (*remote.Puller, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if e, ok := r.pullers[cred.identity]; ok && now.Sub(e.created) < pullerMaxAge && now.Sub(e.created) >= 0 {
		return e.p, nil
	}
	opts := []remote.Option{
		remote.WithAuth(cred.auth),
		remote.WithTransport(&retryTransport{inner: &boundedTransport{inner: r.transport, maxBody: r.maxResponse}, policy: r.retry, now: r.now}),
		// Our transport retries (with Retry-After and ctx); turn go-containerregistry's off.
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
	}
	if r.userAgent != "" {
		opts = append(opts, remote.WithUserAgent(r.userAgent))
	}
	p, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, err
	}
	if len(r.pullers) >= maxPullers {
		clear(r.pullers)
	}
	r.pullers[cred.identity] = &pullerEntry{p: p, created: now}
	return p, nil
}

// ErrTooLarge marks a registry response over the Resolver's per-response cap, or a read
// past what a run may read from all registries together.
var ErrTooLarge = errors.New("registry sent too much")

// readBudget is what one run may still read from all registries together; it travels in
// the context of every request of the run.
type readBudget struct {
	limit int64
	left  atomic.Int64
}

type readBudgetKey struct{}

// withReadBudget returns ctx carrying a fresh budget of limit bytes, unless ctx already
// carries one (a run that resolves in several calls shares one budget).
func withReadBudget(ctx context.Context, limit int64) context.Context {
	if _, ok := ctx.Value(readBudgetKey{}).(*readBudget); ok {
		return ctx
	}
	b := &readBudget{limit: limit}
	b.left.Store(limit)
	return context.WithValue(ctx, readBudgetKey{}, b)
}

// boundedTransport caps every response body at maxBody bytes and counts it against the
// run's readBudget, when the request's context carries one. A request made after the budget
// is spent fails before it is sent.
type boundedTransport struct {
	inner   http.RoundTripper
	maxBody int64
}

func (t *boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	budget, _ := req.Context().Value(readBudgetKey{}).(*readBudget)
	if budget != nil && budget.left.Load() <= 0 {
		return nil, fmt.Errorf("%s %s: not sent: this run already read the %d bytes it may read from registries: %w",
			req.Method, req.URL.Redacted(), budget.limit, ErrTooLarge)
	}
	resp, err := t.inner.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &boundedBody{ReadCloser: resp.Body, url: req.URL.Redacted(), max: t.maxBody, budget: budget}
	return resp, nil
}

// boundedBody fails a read that takes its response over max bytes, or its run over budget.
type boundedBody struct {
	io.ReadCloser
	url    string
	max    int64
	read   int64
	budget *readBudget
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.read >= b.max {
		var one [1]byte
		if n, err := b.ReadCloser.Read(one[:]); n == 0 && err != nil {
			return 0, err // the body ended at the limit, or failed
		}
		return 0, fmt.Errorf("%s: response is longer than the limit of %d bytes: %w", b.url, b.max, ErrTooLarge)
	}
	if int64(len(p)) > b.max-b.read {
		p = p[:b.max-b.read]
	}
	if b.budget != nil {
		left := b.budget.left.Load()
		if left <= 0 {
			return 0, fmt.Errorf("%s: this run already read the %d bytes it may read from registries: %w", b.url, b.budget.limit, ErrTooLarge)
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if b.budget != nil {
		b.budget.left.Add(-int64(n))
	}
	return n, err
}
