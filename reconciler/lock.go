package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/manifests"
)

// LockChange says what `images lock` did to one tag.
type LockChange struct {
	Ref string
	// Old is the digest the lock approved before, "" for a new entry.
	Old string
	// New is the digest the lock approves now, "" for a removed (stale) entry.
	New string
}

// LockResult is a refreshed lock and what changed.
type LockResult struct {
	Lock images.Lock
	// Changes lists every tag of the new lock, in its order, then every stale one.
	Changes []LockChange
}

// LockImages resolves every tag that the workloads of objs use and returns the lock that
// approves what the registries serve now, keeping the approval time of unchanged entries and
// dropping entries no longer used. Any image that cannot be read or resolved fails the whole
// call: what cannot be seen cannot be approved.
func LockImages(ctx context.Context, objs []manifests.Object, old images.Lock, opts ImageOptions, now time.Time) (*LockResult, error) {
	if opts.Resolver == nil {
		return nil, errors.New("images lock: no resolver")
	}
	targets := make([]*target, len(objs))
	for i, o := range objs {
		targets[i] = &target{desired: o}
	}
	ic := &imageChecks{}
	uses := ic.collect(targets)
	if err := joinReportErrors(ic); err != nil {
		return nil, err
	}
	batch := make([]images.Use, len(uses))
	for i, u := range uses {
		batch[i] = images.Use{Ref: u.ref, Container: u.container, Keychain: opts.Keychain}
	}
	results, err := images.CheckAll(ctx, batch, images.CheckOptions{Resolver: opts.Resolver})
	if err != nil {
		return nil, err // manifests that pin one tag to two digests, or ctx ended
	}
	var resolutions []images.Resolution
	var errs []error
	// Walk the uses in the order of the rendered objects: the errors then come in the same
	// order on every run.
	done := map[images.Reference]bool{}
	for i, u := range uses {
		if done[u.ref] {
			continue
		}
		done[u.ref] = true
		in := results[i].Input
		if in.ResolveErr != nil {
			errs = append(errs, in.ResolveErr)
			continue
		}
		if !u.ref.Pinned() {
			resolutions = append(resolutions, *in.Resolution)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	lock, stale, err := images.RefreshLock(old, resolutions, now)
	if err != nil {
		return nil, err
	}
	res := &LockResult{Lock: lock}
	for _, e := range lock.Entries {
		c := LockChange{Ref: e.Ref.String(), New: e.Digest}
		if prev, ok := old.Entry(e.Ref); ok {
			c.Old = prev.Digest
		}
		res.Changes = append(res.Changes, c)
	}
	for _, e := range stale {
		res.Changes = append(res.Changes, LockChange{Ref: e.Ref.String(), Old: e.Digest})
	}
	return res, nil
}

func joinReportErrors(ic *imageChecks) error {
	var errs []error
	for _, e := range ic.errors {
		name := e.Image
		if e.Object != nil {
			name = e.Object.String()
		}
		errs = append(errs, fmt.Errorf("%s: %s", name, e.Message))
	}
	return errors.Join(errs...)
}
