package images

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRefreshLock(t *testing.T) {
	before := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2025, 6, 1, 12, 0, 0, 500, time.UTC)
	nginx, redis, gone := mustRef(t, "nginx:1.27"), mustRef(t, "redis:7"), mustRef(t, "memcached:1")
	old := Lock{Entries: []LockEntry{
		{Ref: nginx, Digest: digestOf("a"), ApprovedAt: before},
		{Ref: redis, Digest: digestOf("b"), ApprovedAt: before},
		{Ref: gone, Digest: digestOf("c"), ApprovedAt: before},
	}}
	platforms := []PlatformDigest{{Platform: "linux/amd64", Digest: digestOf("e")}}
	resolved := []Resolution{
		{Ref: nginx, Digest: digestOf("a"), MediaType: "index", Platforms: platforms}, // unchanged: keeps approvedAt
		{Ref: redis, Digest: digestOf("f")},                                           // rebuilt: re-approved now
		{Ref: nginx, Digest: digestOf("a")},                                           // a second workload
		{Ref: mustRef(t, "busybox:1@"+digestOf("9")), Digest: digestOf("9"), Pinned: true},
	}
	got, stale, err := RefreshLock(old, resolved, now)
	if err != nil {
		t.Fatal(err)
	}
	want := Lock{Entries: []LockEntry{
		{Ref: nginx, Digest: digestOf("a"), MediaType: "index", Platforms: platforms, ApprovedAt: before},
		{Ref: redis, Digest: digestOf("f"), ApprovedAt: now.Truncate(time.Second)},
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("lock (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]LockEntry{old.Entries[2]}, stale); d != "" {
		t.Fatalf("stale (-want +got):\n%s", d)
	}

	_, _, err = RefreshLock(Lock{}, []Resolution{{Ref: nginx, Digest: digestOf("a")}, {Ref: nginx, Digest: digestOf("b")}}, now)
	if err == nil || !strings.Contains(err.Error(), "resolved to both") {
		t.Fatalf("disagreeing resolutions: %v", err)
	}
	if _, _, err = RefreshLock(Lock{}, []Resolution{{Ref: nginx}}, now); !errors.Is(err, ErrInvalidDigest) {
		t.Fatalf("empty digest: %v", err)
	}
}

func TestApprovals(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	lock := Lock{Entries: []LockEntry{{Ref: mustRef(t, "nginx:1.27"), Digest: digestOf("a"), Platforms: []PlatformDigest{{Digest: digestOf("c")}}, ApprovedAt: at}}}
	inUse := []Reference{
		mustRef(t, "nginx:1.27"),
		mustRef(t, "docker.io/library/nginx:1.27@"+digestOf("a")), // agrees with the lock
		mustRef(t, "redis:7@"+digestOf("b")),                      // approved by its pin
		mustRef(t, "redis:7"),                                     // same tag elsewhere, unpinned
		mustRef(t, "busybox@"+digestOf("d")),
		mustRef(t, "memcached:1"),
	}
	a, err := NewApprovals(lock, inUse)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref  string
		want Approval
		ok   bool
	}{
		{"nginx:1.27", Approval{Digest: digestOf("a"), Platforms: lock.Entries[0].Platforms, Source: FromLock, ApprovedAt: at}, true},
		{"nginx:1.27@" + digestOf("a"), Approval{Digest: digestOf("a"), Platforms: lock.Entries[0].Platforms, Source: FromLock, ApprovedAt: at}, true},
		{"redis:7", Approval{Digest: digestOf("b"), Source: FromManifest}, true},
		{"redis:7@" + digestOf("b"), Approval{Digest: digestOf("b"), Source: FromManifest}, true},
		{"busybox@" + digestOf("d"), Approval{Digest: digestOf("d"), Source: FromManifest}, true},
		{"memcached:1", Approval{}, false},
	}
	for _, tt := range tests {
		got, ok := a.For(mustRef(t, tt.ref))
		if ok != tt.ok || !cmp.Equal(tt.want, got) {
			t.Errorf("For(%s) = %+v, %v; want %+v, %v", tt.ref, got, ok, tt.want, tt.ok)
		}
	}
}

func TestApprovalsConflict(t *testing.T) {
	lock := Lock{Entries: []LockEntry{{Ref: mustRef(t, "registry.example/team/nginx:1.21.0"), Digest: digestOf("1"), ApprovedAt: time.Now()}}}
	_, err := NewApprovals(lock, []Reference{mustRef(t, "registry.example/team/nginx:1.21.0@"+digestOf("2"))})
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *ConflictError", err)
	}
	want := "registry.example/team/nginx:1.21.0: conflicting approvals in Git: plumbline.lock.yaml approves " + digestOf("1") +
		", a manifest pins " + digestOf("2") + "; make them agree (re-run `images lock` or fix the pin)"
	if err.Error() != want {
		t.Fatalf("message\n got: %s\nwant: %s", err, want)
	}

	// Two manifests pinning different digests for one tag, and no lock.
	_, err = NewApprovals(Lock{}, []Reference{mustRef(t, "redis:7@"+digestOf("3")), mustRef(t, "docker.io/redis:7@"+digestOf("4"))})
	if !errors.As(err, &ce) || ce.Locked != "" || !cmp.Equal(ce.Pinned, []string{digestOf("3"), digestOf("4")}) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "manifests pin "+digestOf("3")+" and "+digestOf("4")) {
		t.Fatalf("message: %s", err)
	}
}
