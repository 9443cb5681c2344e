package images

import (
	"errors"
	"sort"
)

// errNotResolved is returned by Check when it was given neither a
// resolution nor a resolution error.
var errNotResolved = errors.New("no resolution and no resolution error given")

// Kind is the kind of an image check result. The reconciler maps it to the
// report's finding types (ImageTagMutated, ImageUnpinned, RunningImageMismatch).
type Kind string

const (
	// TagMutated: the registry now serves another digest for the tag than
	// the one approved in Git.
	TagMutated Kind = "TagMutated"
	// Unpinned: Git approves no digest for the image (no lock entry, no pin).
	Unpinned Kind = "Unpinned"
	// RunningMismatch: a pod runs a digest that is neither the approved one
	// nor one of its platform children.
	RunningMismatch Kind = "RunningMismatch"
)

// Running is one digest that pods run, with the pods, sorted.
type Running struct {
	Digest string   `json:"digest"`
	Pods   []string `json:"pods"`
}

// Result is one image finding, plain data for the report's `image` block.
type Result struct {
	Kind Kind `json:"kind"`
	// Ref is the canonical reference as written in the manifest (with its
	// digest when pinned).
	Ref       string `json:"ref"`
	Container string `json:"container,omitempty"`
	// Approved is the digest Git approves, "" for Unpinned.
	Approved string `json:"approved,omitempty"`
	// Resolved is the digest the registry serves, "" when not resolved.
	Resolved string `json:"resolved,omitempty"`
	// Running lists every digest the workload's pods run for this container.
	Running []Running `json:"running,omitempty"`
	// Mismatched are the pods running an unapproved digest (RunningMismatch).
	Mismatched []string `json:"mismatched,omitempty"`
	// Unknown are pods whose imageID carries no digest; never a mismatch.
	Unknown []string `json:"unknown,omitempty"`
	// LayersChanged is set for TagMutated when LayersKnown.
	LayersChanged int  `json:"layersChanged,omitempty"`
	LayersKnown   bool `json:"layersKnown,omitempty"`
	// Message is the one-line text a human reads.
	Message string `json:"message"`
}

// Input is everything known about one container image of one workload.
type Input struct {
	Ref Reference
	// Container filters Running to one container name; "" keeps all.
	Container string
	// Approval is Git's approval, nil when there is none.
	Approval *Approval
	// Resolution is what the registry serves; nil when ResolveErr is set.
	Resolution *Resolution
	ResolveErr error
	// Running are the workload's pods' container statuses.
	Running []RunningImage
	// Layers is the layer comparison of approved vs served, nil when unknown.
	Layers *LayerDiff
}

// Check is pure: it turns an Input into results. With a ResolveErr it still
// returns the results that do not need the registry (Unpinned, and
// RunningMismatch against the approved digest and its known platforms) and
// returns ResolveErr too: the caller reports it as an error for the image,
// never as "no drift". Input with neither Resolution nor ResolveErr is an
// error.
func Check(in Input) ([]Result, error) {
	var resolveErr error
	switch {
	case in.ResolveErr != nil:
		resolveErr = in.ResolveErr
	case in.Resolution == nil:
		return nil, errorf(in.Ref, "check: %w", errNotResolved)
	}
	base := Result{Ref: in.Ref.String(), Container: in.Container}
	if in.Resolution != nil && resolveErr == nil {
		base.Resolved = in.Resolution.Digest
	}
	byDigest, unknown := groupRunning(in.Running, in.Container)
	base.Running, base.Unknown = byDigest, unknown

	if in.Approval == nil {
		r := base
		r.Kind = Unpinned
		r.Message = unpinnedMessage(in.Ref, r.Resolved, len(byDigest))
		return []Result{r}, resolveErr
	}
	base.Approved = in.Approval.Digest
	var out []Result
	if base.Resolved != "" && base.Resolved != base.Approved {
		r := base
		r.Kind = TagMutated
		if in.Layers != nil {
			r.LayersChanged, r.LayersKnown = in.Layers.Changed, true
		}
		r.Message = mutatedMessage(in.Ref, r.Approved, r.Resolved, in.Layers)
		out = append(out, r)
	}
	allowed := approvedDigests(*in.Approval, in.Resolution)
	var bad []Running
	approvedRunning := false
	for _, run := range byDigest {
		if allowed[run.Digest] {
			approvedRunning = true
			continue
		}
		bad = append(bad, run)
	}
	if len(bad) > 0 {
		r := base
		r.Kind = RunningMismatch
		for _, b := range bad {
			r.Mismatched = append(r.Mismatched, b.Pods...)
		}
		sort.Strings(r.Mismatched)
		variants := len(bad)
		if approvedRunning {
			variants++
		}
		r.Message = mismatchMessage(in.Ref, r.Approved, bad, variants)
		out = append(out, r)
	}
	return out, resolveErr
}

// approvedDigests is the approved digest and every platform child known for
// it: from the lock, or from the registry when it still serves that digest.
func approvedDigests(a Approval, res *Resolution) map[string]bool {
	ok := map[string]bool{a.Digest: true}
	for _, p := range a.Platforms {
		ok[p.Digest] = true
	}
	if res != nil && res.Digest == a.Digest {
		for _, p := range res.Platforms {
			ok[p.Digest] = true
		}
	}
	return ok
}

// groupRunning groups the container statuses by digest (sorted, pods sorted
// and unique) and lists the pods whose digest is unknown.
func groupRunning(running []RunningImage, container string) ([]Running, []string) {
	pods := map[string]map[string]bool{}
	unknown := map[string]bool{}
	for _, ri := range running {
		if container != "" && ri.Container != container {
			continue
		}
		d, ok := ImageIDDigest(ri.ImageID)
		if !ok {
			unknown[ri.Pod] = true
			continue
		}
		if pods[d] == nil {
			pods[d] = map[string]bool{}
		}
		pods[d][ri.Pod] = true
	}
	var out []Running
	for d, set := range pods {
		out = append(out, Running{Digest: d, Pods: sortedKeys(set)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out, sortedKeys(unknown)
}

func sortedKeys(set map[string]bool) []string {
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
