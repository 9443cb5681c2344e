package images

import (
	"context"
	"errors"

	"github.com/google/go-containerregistry/pkg/authn"
)

// ErrOffline is the resolution error of every image when CheckAll has no Resolver: approvals
// are checked, the registry is not asked. It is not a failure to report.
var ErrOffline = errors.New("registry not asked")

// Use is one container image of one workload, as CheckAll checks it.
type Use struct {
	Ref       Reference
	Container string
	// Creds names the credentials the image is pulled with ("" for the caller's); uses with the
	// same reference and Creds are resolved once. Keychain gives them; nil is anonymous.
	Creds    string
	Keychain authn.Keychain
	// Running are the container statuses of the workload's pods; nil when they are not known.
	Running []RunningImage
}

// CheckOptions tune CheckAll.
type CheckOptions struct {
	// Resolver asks the registries; nil checks approvals only (every image gets ErrOffline).
	Resolver *Resolver
	// Lock holds the approved digests of the source's lock file.
	Lock Lock
}

// UseResult is what CheckAll found of one Use: what was known (Input, for the policy's image
// facts), the results, and the error that kept the image from being checked whole (a registry
// error, or ErrOffline).
type UseResult struct {
	Input   Input
	Results []Result
	Err     error
}

// CheckAll checks a batch of image uses against Git's approvals and what the registries serve:
// each distinct reference is resolved once per set of credentials (a cached digest that differs
// from the approved one is asked again), layers are compared once per approved and served
// pair, and each use is checked by the pure Check. The results are in the order of uses. An
// error is returned only for a batch that cannot be checked at all: Git approving two digests
// for one tag, or ctx ending.
func CheckAll(ctx context.Context, uses []Use, opts CheckOptions) ([]UseResult, error) {
	refs := make([]Reference, len(uses))
	for i, u := range uses {
		refs[i] = u.Ref
	}
	approvals, err := NewApprovals(opts.Lock, refs)
	if err != nil {
		return nil, err
	}
	resolved := resolveUses(ctx, uses, opts.Resolver, approvals)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	layers := map[[3]string]*LayerDiff{}
	out := make([]UseResult, len(uses))
	for i, u := range uses {
		outcome := resolved[useKey{u.Ref, u.Creds}]
		in := Input{Ref: u.Ref, Container: u.Container, ResolveErr: outcome.Err, Running: u.Running}
		if outcome.Err == nil {
			in.Resolution = &outcome.Resolution
		}
		if a, ok := approvals.For(u.Ref); ok {
			in.Approval = &a
			if in.Resolution != nil && a.Digest != in.Resolution.Digest && opts.Resolver != nil {
				in.Layers = layerDiff(ctx, opts.Resolver, layers, u, a.Digest, in.Resolution.Digest)
			}
		}
		results, err := Check(in)
		out[i] = UseResult{Input: in, Results: results, Err: err}
	}
	return out, nil
}

// useKey is one resolution: a reference with one set of credentials.
type useKey struct {
	ref   Reference
	creds string
}

// resolveUses resolves each distinct reference once per set of credentials; without a resolver
// every outcome is ErrOffline.
func resolveUses(ctx context.Context, uses []Use, r *Resolver, approvals Approvals) map[useKey]Outcome {
	out := map[useKey]Outcome{}
	var keys []useKey
	var reqs []Request
	for _, u := range uses {
		k := useKey{u.Ref, u.Creds}
		if _, ok := out[k]; ok {
			continue
		}
		out[k] = Outcome{Err: ErrOffline}
		req := Request{Ref: u.Ref, Keychain: u.Keychain}
		if a, ok := approvals.For(u.Ref); ok {
			req.Expect = a.Digest
		}
		keys, reqs = append(keys, k), append(reqs, req)
	}
	if r == nil {
		return out
	}
	outcomes, _ := r.ResolveAll(ctx, reqs) // an error means ctx ended; the caller checks
	for i, o := range outcomes {
		out[keys[i]] = o
	}
	return out
}

// layerDiff counts the layers that changed between the approved and the served image, once per
// pair; nil when the manifests cannot be compared.
func layerDiff(ctx context.Context, r *Resolver, cache map[[3]string]*LayerDiff, u Use, approved, served string) *LayerDiff {
	key := [3]string{u.Ref.Name(), approved, served}
	if d, ok := cache[key]; ok {
		return d
	}
	var d *LayerDiff
	if diff, err := r.LayerChanges(ctx, u.Ref, approved, served, u.Keychain); err == nil {
		d = &diff
	}
	cache[key] = d
	return d
}
