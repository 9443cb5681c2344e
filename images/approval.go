package images

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ApprovalSource says where in Git a digest was approved.
type ApprovalSource string

const (
	// FromLock: an entry of plumbline.lock.yaml.
	FromLock ApprovalSource = "lock"
	// FromManifest: a digest pinned in the image string of a manifest
	// (`repo:tag@sha256:…`, which is also what kustomize renders for
	// `images: [{name, newTag, digest}]`).
	FromManifest ApprovalSource = "manifest"
)

// Approval is the digest Git approves for one tag.
type Approval struct {
	Digest string
	// MediaType and Platforms come from the lock when it has them; a digest
	// pinned only in a manifest has neither.
	MediaType string
	Platforms []PlatformDigest
	Source    ApprovalSource
	// ApprovedAt is zero for FromManifest.
	ApprovedAt time.Time
}

// Approvals answers which digest Git approves for a tag, merging the lock and
// the digests pinned in manifests. The zero value approves nothing but
// digest-only references.
type Approvals struct {
	byTag map[Reference]Approval
}

// ConflictError means Git approves two digests for one tag: the lock and a
// pinned manifest disagree, or two manifests pin different digests.
type ConflictError struct {
	// Ref is the canonical tag form.
	Ref string
	// Locked is the lock's digest, "" when the lock has no entry.
	Locked string
	// Pinned are the digests pinned in manifests, sorted.
	Pinned []string
}

// Error names the tag and every digest approved for it, in full.
func (e *ConflictError) Error() string {
	var parts []string
	if e.Locked != "" {
		parts = append(parts, fmt.Sprintf("%s approves %s", LockFileName, e.Locked))
	}
	if len(e.Pinned) == 1 {
		parts = append(parts, fmt.Sprintf("a manifest pins %s", e.Pinned[0]))
	} else {
		parts = append(parts, fmt.Sprintf("manifests pin %s", strings.Join(e.Pinned, " and ")))
	}
	return fmt.Sprintf("%s: conflicting approvals in Git: %s; make them agree (re-run `images lock` or fix the pin)", e.Ref, strings.Join(parts, ", "))
}

// NewApprovals merges lock with the references in use (as written in the
// manifests). Every disagreement is a *ConflictError, all of them joined;
// nothing is chosen silently.
func NewApprovals(lock Lock, inUse []Reference) (Approvals, error) {
	a := Approvals{byTag: map[Reference]Approval{}}
	for _, e := range lock.Entries {
		a.byTag[e.Ref.WithoutDigest()] = Approval{Digest: e.Digest, MediaType: e.MediaType, Platforms: e.Platforms, Source: FromLock, ApprovedAt: e.ApprovedAt}
	}
	pins := map[Reference]map[string]bool{}
	for _, ref := range inUse {
		if !ref.Pinned() || ref.Tag == "" {
			continue
		}
		key := ref.WithoutDigest()
		if pins[key] == nil {
			pins[key] = map[string]bool{}
		}
		pins[key][ref.Digest] = true
	}
	var conflicts []error
	for key, digests := range pins {
		locked, inLock := a.byTag[key]
		pinned := make([]string, 0, len(digests))
		for d := range digests {
			pinned = append(pinned, d)
		}
		sort.Strings(pinned)
		switch {
		case len(pinned) > 1 || (inLock && locked.Digest != pinned[0]):
			ce := &ConflictError{Ref: key.String(), Pinned: pinned}
			if inLock {
				ce.Locked = locked.Digest
			}
			conflicts = append(conflicts, ce)
		case !inLock:
			a.byTag[key] = Approval{Digest: pinned[0], Source: FromManifest}
		}
	}
	if len(conflicts) > 0 {
		sort.Slice(conflicts, func(i, j int) bool { return conflicts[i].Error() < conflicts[j].Error() })
		return Approvals{}, errors.Join(conflicts...)
	}
	return a, nil
}

// For returns the approval that applies to ref. A pinned reference is always
// approved by its own digest (with the lock's platforms when the lock agrees);
// a tag is approved by the lock or by a pin of the same tag elsewhere in Git.
// ok is false when Git approves no digest: the image is Unpinned.
func (a Approvals) For(ref Reference) (Approval, bool) {
	if ref.Pinned() {
		if ref.Tag != "" {
			if got, ok := a.byTag[ref.WithoutDigest()]; ok && got.Digest == ref.Digest {
				return got, true
			}
		}
		return Approval{Digest: ref.Digest, Source: FromManifest}, true
	}
	got, ok := a.byTag[ref]
	return got, ok
}
