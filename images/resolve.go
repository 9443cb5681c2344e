package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// PlatformDigest is one child of an image index: its platform as
// "os/arch[/variant][:osversion]" ("" when the index gives none) and digest.
type PlatformDigest struct {
	Platform string `json:"platform,omitempty" yaml:"platform,omitempty"`
	Digest   string `json:"digest" yaml:"digest"`
}

// Resolution is what a registry serves for a reference.
type Resolution struct {
	// Ref is the reference that was resolved.
	Ref Reference
	// Digest is the manifest digest served for the tag (for a multi-arch tag,
	// the index digest).
	Digest string
	// MediaType is the manifest's media type; "" for a pinned reference,
	// which is never fetched.
	MediaType string
	// Platforms lists an index's children sorted by platform; nil for a
	// single-platform manifest and for a pinned reference. Attestation
	// manifests are left out.
	Platforms []PlatformDigest
	// Pinned is true when the digest came from the reference itself, with no
	// request.
	Pinned bool
}

// IsIndex reports whether the tag points at an image index (multi-arch).
func (r Resolution) IsIndex() bool { return types.MediaType(r.MediaType).IsIndex() }

// Request is one reference to resolve with the credentials of the workload
// that uses it. A nil Keychain means anonymous.
type Request struct {
	Ref      Reference
	Keychain authn.Keychain
	// Expect is the digest the caller holds approved, "" for none. A cached resolution that
	// differs from it is asked of the registry again before it is returned: a cache may hide a
	// change for its TTL, but it never reports one that the registry no longer serves.
	Expect string
}

// Outcome is the result of one Request: a Resolution, or an error (a
// *RegistryError for registry failures) that must be reported as an error for
// that image.
type Outcome struct {
	Resolution Resolution
	Err        error
}

// Resolve returns the digest the registry serves for ref, using kc for
// credentials (nil: anonymous). A pinned reference costs no request: its own
// digest is returned with Pinned set. A tag is resolved with a manifest HEAD,
// falling back to GET when the registry leaves out Docker-Content-Digest; an
// index is then read (by digest, cached) for its platform children. Results
// are cached per (reference, credential identity) for the TTL; errors are not
// cached. Concurrent calls for the same key share one request, made with the
// first caller's ctx. Failures are *RegistryError values naming the
// reference and registry host.
func (r *Resolver) Resolve(ctx context.Context, ref Reference, kc authn.Keychain) (Resolution, error) {
	return r.resolveExpecting(ctx, ref, kc, "")
}

// resolveExpecting is Resolve, with a cached answer other than expect (when set) checked again.
func (r *Resolver) resolveExpecting(ctx context.Context, ref Reference, kc authn.Keychain, expect string) (Resolution, error) {
	if ref.Pinned() {
		return Resolution{Ref: ref, Digest: ref.Digest, Pinned: true}, nil
	}
	if ref.Registry == "" || ref.Repository == "" || ref.Tag == "" {
		return Resolution{}, fmt.Errorf("%q: not a parsed image reference", ref.String())
	}
	cred, err := credentialsFor(ctx, kc, ref)
	if err != nil {
		return Resolution{}, err
	}
	key := cacheKey{ref: ref.String(), identity: cred.identity}
	trusted := func(res Resolution) bool { return expect == "" || res.Digest == expect }
	if res, ok := r.cache.get(key); ok && trusted(res) {
		return res, nil
	}
	v, err, _ := r.flight.Do(key.ref+"\x00"+key.identity, func() (any, error) {
		if res, ok := r.cache.get(key); ok && trusted(res) {
			return res, nil
		}
		res, err := r.resolve(ctx, ref, cred)
		if err != nil {
			return nil, err
		}
		r.cache.put(key, res)
		return res, nil
	})
	if err != nil {
		return Resolution{}, registryError(ref, err)
	}
	return v.(Resolution), nil
}

// ResolveAll resolves every request, at most the Resolver's concurrency at
// once, and returns one Outcome per request in the same order. The error is
// non-nil only when ctx ended; the outcomes then hold what was done.
//
// Each image has its own deadline: the image timeout, and never later than
// when three quarters of the time ctx had left at the call have passed, so a
// registry that never answers fails its images with a Timeout error naming
// the image and host while ctx still has time for the rest of the run. One
// registry host gets at most three quarters of the concurrency, so a silent
// one leaves slots to the others. All the requests share one read budget
// (WithRunReadLimit), and every response is capped (WithMaxResponseBytes).
func (r *Resolver) ResolveAll(ctx context.Context, reqs []Request) ([]Outcome, error) {
	out := make([]Outcome, len(reqs))
	ctx = withReadBudget(ctx, r.runLimit)
	cutoff := time.Time{}
	if d, ok := ctx.Deadline(); ok {
		now := time.Now() // context deadlines are wall-clock, whatever r.now says
		cutoff = now.Add(d.Sub(now) * 3 / 4)
	}
	// Requests are grouped by registry host, and one host gets at most 3/4 of the
	// concurrency, so that a registry that never answers cannot hold every slot
	// while the images of the others wait out the deadline.
	var hosts []string
	byHost := map[string][]int{}
	for i, req := range reqs {
		if _, ok := byHost[req.Ref.Registry]; !ok {
			hosts = append(hosts, req.Ref.Registry)
		}
		byHost[req.Ref.Registry] = append(byHost[req.Ref.Registry], i)
	}
	perHost := max(1, r.concurrency*3/4)
	var g errgroup.Group
	g.SetLimit(r.concurrency)
	for _, host := range hosts {
		g.Go(func() error {
			var hg errgroup.Group
			hg.SetLimit(perHost)
			for _, i := range byHost[host] {
				hg.Go(func() error {
					res, err := r.resolveBefore(ctx, reqs[i], cutoff)
					out[i] = Outcome{Resolution: res, Err: err}
					return ctx.Err()
				})
			}
			return hg.Wait()
		})
	}
	if err := g.Wait(); err != nil {
		return out, fmt.Errorf("resolving %d images: %w", len(reqs), err)
	}
	return out, nil
}

// resolveBefore resolves one request within the image timeout and before cutoff (when set).
func (r *Resolver) resolveBefore(ctx context.Context, req Request, cutoff time.Time) (Resolution, error) {
	deadline := time.Now().Add(r.imageTimeout)
	if !cutoff.IsZero() && cutoff.Before(deadline) {
		deadline = cutoff
	}
	limit := time.Until(deadline)
	if limit <= 0 {
		return Resolution{}, &RegistryError{Kind: Timeout, Ref: req.Ref.String(), Host: req.Ref.Registry,
			Err: errors.New("not asked: the run's time for registries ran out while this image waited for a connection")}
	}
	ictx, cancel := context.WithDeadlineCause(ctx, deadline, errImageTimeout)
	defer cancel()
	res, err := r.resolveExpecting(ictx, req.Ref, req.Keychain, req.Expect)
	var re *RegistryError
	switch {
	case err == nil || ctx.Err() != nil:
	case context.Cause(ictx) == errImageTimeout:
		return Resolution{}, &RegistryError{Kind: Timeout, Ref: req.Ref.String(), Host: req.Ref.Registry,
			Err: fmt.Errorf("no answer within %s", limit.Round(time.Millisecond))}
	case errors.Is(err, context.DeadlineExceeded) && errors.As(err, &re) && re.Kind == Canceled:
		// A retry that would have passed the image's deadline: the registry was too slow.
		timedOut := *re
		timedOut.Kind = Timeout
		return Resolution{}, &timedOut
	}
	return res, err
}

// followUpContext bounds the requests made for one image after ResolveAll (LayerChanges):
// the image timeout, and at most a quarter of the time ctx has left, so that a registry that
// answers HEAD but never GET holds up the run for a bounded share of what is left.
func (r *Resolver) followUpContext(ctx context.Context) (context.Context, context.CancelFunc) {
	limit := r.imageTimeout
	if d, ok := ctx.Deadline(); ok {
		limit = min(limit, time.Until(d)/4)
	}
	return context.WithTimeoutCause(ctx, limit, errImageTimeout)
}

// errImageTimeout is the cause of an image's own deadline.
var errImageTimeout = errors.New("image deadline")

func (r *Resolver) resolve(ctx context.Context, ref Reference, cred credential) (Resolution, error) {
	release, err := r.acquire(ctx)
	if err != nil {
		return Resolution{}, err
	}
	defer release()
	p, err := r.puller(cred)
	if err != nil {
		return Resolution{}, err
	}
	tag, err := ref.ggcr()
	if err != nil {
		return Resolution{}, err
	}
	res := Resolution{Ref: ref}
	desc, err := p.Head(ctx, tag)
	switch {
	case err == nil:
		res.Digest, res.MediaType = desc.Digest.String(), string(desc.MediaType)
	case headFallsBack(err):
		got, gerr := p.Get(ctx, tag)
		if gerr != nil {
			return Resolution{}, fmt.Errorf("HEAD failed (%v), then GET: %w", err, gerr)
		}
		res.Digest, res.MediaType = got.Digest.String(), string(got.MediaType)
		r.manifests.put(ref.Name()+"@"+res.Digest, manifest{mediaType: res.MediaType, raw: got.Manifest})
	default:
		return Resolution{}, err
	}
	if !res.IsIndex() {
		return res, nil
	}
	m, err := r.fetchManifest(ctx, p, ref, res.Digest)
	if err != nil {
		return Resolution{}, err
	}
	res.Platforms, err = indexPlatforms(m.raw)
	if err != nil {
		return Resolution{}, fmt.Errorf("index %s: %w", res.Digest, err)
	}
	return res, nil
}

// fetchManifest GETs ref's manifest by digest, through the manifest cache.
// The caller holds a concurrency slot.
func (r *Resolver) fetchManifest(ctx context.Context, p *remote.Puller, ref Reference, digest string) (manifest, error) {
	key := ref.Name() + "@" + digest
	if m, ok := r.manifests.get(key); ok {
		return m, nil
	}
	d, err := name.NewDigest(key)
	if err != nil {
		return manifest{}, err
	}
	got, err := p.Get(ctx, d)
	if err != nil {
		return manifest{}, err
	}
	m := manifest{mediaType: string(got.MediaType), raw: got.Manifest}
	r.manifests.put(key, m)
	return m, nil
}

func indexPlatforms(raw []byte) ([]PlatformDigest, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	var out []PlatformDigest
	for _, m := range im.Manifests {
		if m.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		pd := PlatformDigest{Digest: m.Digest.String()}
		if m.Platform != nil {
			pd.Platform = m.Platform.String()
		}
		out = append(out, pd)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Platform != out[j].Platform {
			return out[i].Platform < out[j].Platform
		}
		return out[i].Digest < out[j].Digest
	})
	return out, nil
}

func (r *Resolver) acquire(ctx context.Context) (func(), error) {
	select {
	case r.sem <- struct{}{}:
		return func() { <-r.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
