package images

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestTagMutatedThenRelocked is the story: nginx:1.21.0 is pushed,
// approved in the lock, rebuilt under the same tag (one of three layers
// changed); Plumbline reports TagMutated with both digests and the layer
// count, and pods on the old and new digest; re-locking clears it.
func TestTagMutatedThenRelocked(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t)
	clock := newFakeClock()
	r := newResolver(t, WithClock(clock.Now))
	ref := reg.ref(t, "team/nginx:1.21.0")

	layers := randomLayers(t, 4)
	approved := reg.pushImage(t, "team/nginx:1.21.0", imageOf(t, layers[0], layers[1], layers[2]))

	// images lock: resolve what is in use, write the lock file into the kustomization folder.
	res, err := r.Resolve(ctx, ref, nil)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if res.Digest != approved {
		t.Fatalf("resolved %s, pushed %s", res.Digest, approved)
	}
	lock, stale, err := RefreshLock(Lock{}, []Resolution{res}, clock.Now())
	if err != nil || len(stale) != 0 {
		t.Fatalf("RefreshLock: stale %v, err %v", stale, err)
	}
	dir := t.TempDir()
	writeLock(t, dir, lock)

	// A developer rebuilds and pushes under the same tag; Git does not change.
	served := reg.pushImage(t, "team/nginx:1.21.0", imageOf(t, layers[0], layers[1], layers[3]))
	clock.Advance(DefaultCacheTTL + time.Second)

	lock = readLockDir(t, dir)
	approvals, err := NewApprovals(lock, []Reference{ref})
	if err != nil {
		t.Fatal(err)
	}
	approval, ok := approvals.For(ref)
	if !ok {
		t.Fatal("no approval for the locked tag")
	}
	now, err := r.Resolve(ctx, ref, nil)
	if err != nil {
		t.Fatalf("Resolve after push: %v", err)
	}
	diff, err := r.LayerChanges(ctx, ref, approval.Digest, now.Digest, nil)
	if err != nil {
		t.Fatalf("LayerChanges: %v", err)
	}
	if want := (LayerDiff{Approved: 3, Served: 3, Changed: 1}); diff != want {
		t.Fatalf("LayerChanges = %+v, want %+v", diff, want)
	}
	running := []RunningImage{
		{Pod: "web-0", Container: "nginx", ImageID: "docker-pullable://" + ref.Name() + "@" + approved},
		{Pod: "web-1", Container: "nginx", ImageID: ref.Name() + "@" + served},
		{Pod: "web-1", Container: "sidecar", ImageID: ref.Name() + "@" + served},
	}
	got, err := Check(Input{Ref: ref, Container: "nginx", Approval: &approval, Resolution: &now, Running: running, Layers: &diff})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	runs := []Running{{Digest: approved, Pods: []string{"web-0"}}, {Digest: served, Pods: []string{"web-1"}}}
	if runs[0].Digest > runs[1].Digest {
		runs[0], runs[1] = runs[1], runs[0]
	}
	want := []Result{
		{
			Kind: TagMutated, Ref: ref.String(), Container: "nginx", Approved: approved, Resolved: served, Running: runs,
			LayersChanged: 1, LayersKnown: true,
			Message: "Image: " + ref.String() + " was rebuilt under the same tag: approved " + Short(approved) + ", registry now serves " + Short(served) + " (1 layer changed)",
		},
		{
			Kind: RunningMismatch, Ref: ref.String(), Container: "nginx", Approved: approved, Resolved: served, Running: runs,
			Mismatched: []string{"web-1"},
			Message:    "Image: " + ref.String() + ": pod web-1 runs " + Short(served) + ", which is not the approved " + Short(approved) + "; different pods run 2 different digests of this image",
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Check (-want +got):\n%s", d)
	}

	// Re-lock (the PR a human merges): the new digest is approved, no finding.
	relocked, stale, err := RefreshLock(lock, []Resolution{now}, clock.Now())
	if err != nil || len(stale) != 0 {
		t.Fatalf("RefreshLock: stale %v, err %v", stale, err)
	}
	writeLock(t, dir, relocked)
	approvals, err = NewApprovals(readLockDir(t, dir), []Reference{ref})
	if err != nil {
		t.Fatal(err)
	}
	approval, _ = approvals.For(ref)
	if !approval.ApprovedAt.Equal(clock.Now().Truncate(time.Second)) {
		t.Errorf("re-approved at %s, want %s", approval.ApprovedAt, clock.Now())
	}
	running = running[1:2] // the rollout replaced web-0
	got, err = Check(Input{Ref: ref, Container: "nginx", Approval: &approval, Resolution: &now, Running: running})
	if err != nil || len(got) != 0 {
		t.Fatalf("after re-lock: Check = %+v, %v; want no finding", got, err)
	}
}

func writeLock(t *testing.T, dir string, l Lock) {
	t.Helper()
	data, err := MarshalLock(l)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, LockFileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readLockDir(t *testing.T, dir string) Lock {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, LockFileName))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ParseLock(LockFileName, data)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
