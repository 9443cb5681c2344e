package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
		remote.WithTransport(&retryTransport{inner: r.transport, policy: r.retry, now: r.now}),
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
