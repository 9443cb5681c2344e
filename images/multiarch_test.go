package images

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
)

// TestMultiArchRunningDigests: pods may report the index digest or a
// platform child; both are approved. An unapproved digest is a
// RunningMismatch naming the pod; a digest-less imageID is unknown.
func TestMultiArchRunningDigests(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t)
	r := newResolver(t)
	ref := reg.ref(t, "team/app:2.0")
	idx, children := platformIndex(t, amd64, arm64)
	indexDigest := reg.pushIndex(t, "team/app:2.0", idx)

	res, err := r.Resolve(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantRes := Resolution{
		Ref: ref, Digest: indexDigest, MediaType: "application/vnd.oci.image.index.v1+json",
		Platforms: []PlatformDigest{{Platform: "linux/amd64", Digest: children["linux/amd64"]}, {Platform: "linux/arm64/v8", Digest: children["linux/arm64/v8"]}},
	}
	if d := cmp.Diff(wantRes, res); d != "" {
		t.Fatalf("Resolve (-want +got):\n%s", d)
	}
	lock, _, err := RefreshLock(Lock{}, []Resolution{res}, newFakeClock().Now())
	if err != nil {
		t.Fatal(err)
	}
	approvals, err := NewApprovals(lock, []Reference{ref})
	if err != nil {
		t.Fatal(err)
	}
	approval, _ := approvals.For(ref)
	if d := cmp.Diff(res.Platforms, approval.Platforms); d != "" {
		t.Fatalf("lock platforms (-resolved +locked):\n%s", d)
	}

	host := reg.host + "/team/app"
	approvedPods := []RunningImage{
		{Pod: "index-pod", Container: "app", ImageID: "docker-pullable://" + host + "@" + indexDigest},
		{Pod: "amd64-pod", Container: "app", ImageID: host + "@" + children["linux/amd64"]},
		{Pod: "arm64-pod", Container: "app", ImageID: "containerd://" + host + "@" + children["linux/arm64/v8"]},
		{Pod: "local-id-pod", Container: "app", ImageID: "sha256:" + strings.Repeat("e", 64)},
		{Pod: "pending-pod", Container: "app", ImageID: ""},
	}
	got, err := Check(Input{Ref: ref, Container: "app", Approval: &approval, Resolution: &res, Running: approvedPods})
	if err != nil || len(got) != 0 {
		t.Fatalf("index digest and platform children: Check = %+v, %v; want nothing", got, err)
	}

	rogue := "sha256:" + strings.Repeat("c", 64)
	withRogue := append(approvedPods, RunningImage{Pod: "rogue-pod", Container: "app", ImageID: host + "@" + rogue})
	got, err = Check(Input{Ref: ref, Container: "app", Approval: &approval, Resolution: &res, Running: withRogue})
	if err != nil || len(got) != 1 {
		t.Fatalf("Check = %+v, %v; want one RunningMismatch", got, err)
	}
	m := got[0]
	if m.Kind != RunningMismatch || !cmp.Equal(m.Mismatched, []string{"rogue-pod"}) || !cmp.Equal(m.Unknown, []string{"local-id-pod", "pending-pod"}) {
		t.Fatalf("got %+v", m)
	}
	wantMsg := "Image: " + ref.String() + ": pod rogue-pod runs sha256:cccccccccccc…, which is not the approved " + Short(indexDigest) + "; different pods run 2 different digests of this image"
	if m.Message != wantMsg {
		t.Fatalf("message\n got: %s\nwant: %s", m.Message, wantMsg)
	}
}

// TestMultiArchTwoUnapprovedDigests: two pods on two different digests, none
// approved (IfNotPresent after two rebuilds): both are named, and the message
// says the pods disagree.
func TestMultiArchTwoUnapprovedDigests(t *testing.T) {
	ref, err := ParseReference("registry.example/team/app:2.0")
	if err != nil {
		t.Fatal(err)
	}
	approved, d1, d2 := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("1", 64), "sha256:"+strings.Repeat("2", 64)
	res := Resolution{Ref: ref, Digest: d2}
	got, err := Check(Input{Ref: ref, Approval: &Approval{Digest: approved}, Resolution: &res, Running: []RunningImage{
		{Pod: "a", Container: "app", ImageID: "registry.example/team/app@" + d1},
		{Pod: "b", Container: "app", ImageID: "registry.example/team/app@" + d2},
		{Pod: "c", Container: "app", ImageID: "registry.example/team/app@" + d2},
	}})
	if err != nil || len(got) != 2 || got[1].Kind != RunningMismatch {
		t.Fatalf("Check = %+v, %v", got, err)
	}
	want := "Image: registry.example/team/app:2.0: pod a runs sha256:111111111111…; pods b, c run sha256:222222222222…, none of them the approved sha256:aaaaaaaaaaaa…; different pods run 2 different digests of this image"
	if got[1].Message != want {
		t.Fatalf("message\n got: %s\nwant: %s", got[1].Message, want)
	}
}

// TestLayerChangesIndexes: two indexes are compared on linux/amd64; indexes
// without platforms (random.Index) cannot be compared and say so.
func TestLayerChangesIndexes(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t)
	r := newResolver(t)
	ref := reg.ref(t, "team/app:3.0")

	idx1, _ := platformIndex(t, amd64, arm64)
	d1 := reg.pushIndex(t, "team/app:3.0", idx1)
	idx2, _ := platformIndex(t, arm64, amd64)
	d2 := reg.pushIndex(t, "team/app:3.0", idx2)
	diff, err := r.LayerChanges(ctx, ref, d1, d2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (LayerDiff{Platform: "linux/amd64", Approved: 2, Served: 2, Changed: 2}); diff != want {
		t.Fatalf("LayerChanges = %+v, want %+v", diff, want)
	}

	r1, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	rd1 := reg.pushIndex(t, "team/noplatform:1", r1)
	rd2 := reg.pushIndex(t, "team/noplatform:1", r2)
	_, err = r.LayerChanges(ctx, reg.ref(t, "team/noplatform:1"), rd1, rd2, nil)
	if !errors.Is(err, ErrNoCommonPlatform) {
		t.Fatalf("random indexes: err = %v, want ErrNoCommonPlatform", err)
	}
	// A tag that moved from an index to a single image cannot be compared either.
	single := reg.pushImage(t, "team/app:3.0", imageOf(t, randomLayers(t, 1)...))
	if _, err := r.LayerChanges(ctx, ref, d2, single, nil); !errors.Is(err, ErrNoCommonPlatform) {
		t.Fatalf("index vs image: err = %v, want ErrNoCommonPlatform", err)
	}
}
