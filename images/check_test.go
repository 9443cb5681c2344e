package images

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheck(t *testing.T) {
	ref := mustRef(t, "registry.example/team/nginx:1.21.0")
	pinned := mustRef(t, "registry.example/team/nginx:1.21.0@"+digestOf("a"))
	host := "registry.example/team/nginx@"
	errDown := &RegistryError{Kind: Unreachable, Ref: ref.String(), Host: "registry.example", Err: errors.New("connection refused")}
	tests := []struct {
		name    string
		in      Input
		want    []Result
		wantErr error
	}{
		{
			name: "approved and served and running: nothing",
			in: Input{Ref: ref, Approval: &Approval{Digest: digestOf("a")}, Resolution: &Resolution{Digest: digestOf("a")},
				Running: []RunningImage{{Pod: "p", ImageID: host + digestOf("a")}}},
		},
		{
			name: "mutated, layers unknown",
			in:   Input{Ref: ref, Approval: &Approval{Digest: digestOf("a")}, Resolution: &Resolution{Digest: digestOf("b")}},
			want: []Result{{Kind: TagMutated, Ref: ref.String(), Approved: digestOf("a"), Resolved: digestOf("b"),
				Message: "Image: registry.example/team/nginx:1.21.0 was rebuilt under the same tag: approved sha256:aaaaaaaaaaaa…, registry now serves sha256:bbbbbbbbbbbb…"}},
		},
		{
			name: "mutated, config only: 0 layers changed",
			in: Input{Ref: ref, Approval: &Approval{Digest: digestOf("a")}, Resolution: &Resolution{Digest: digestOf("b")},
				Layers: &LayerDiff{Approved: 4, Served: 4}},
			want: []Result{{Kind: TagMutated, Ref: ref.String(), Approved: digestOf("a"), Resolved: digestOf("b"), LayersKnown: true,
				Message: "Image: registry.example/team/nginx:1.21.0 was rebuilt under the same tag: approved sha256:aaaaaaaaaaaa…, registry now serves sha256:bbbbbbbbbbbb… (0 layers changed)"}},
		},
		{
			name: "unpinned, pods disagree",
			in: Input{Ref: ref, Resolution: &Resolution{Digest: digestOf("b")}, Running: []RunningImage{
				{Pod: "p1", ImageID: host + digestOf("a")}, {Pod: "p2", ImageID: host + digestOf("b")}}},
			want: []Result{{Kind: Unpinned, Ref: ref.String(), Resolved: digestOf("b"),
				Running: []Running{{Digest: digestOf("a"), Pods: []string{"p1"}}, {Digest: digestOf("b"), Pods: []string{"p2"}}},
				Message: "Image: registry.example/team/nginx:1.21.0 has no approved digest in Git (no entry in plumbline.lock.yaml, no pinned digest); registry serves sha256:bbbbbbbbbbbb…; pods run 2 different digests of it"}},
		},
		{
			name:    "registry down: unpinned still reported, error returned",
			in:      Input{Ref: ref, ResolveErr: errDown},
			want:    []Result{{Kind: Unpinned, Ref: ref.String(), Message: "Image: registry.example/team/nginx:1.21.0 has no approved digest in Git (no entry in plumbline.lock.yaml, no pinned digest)"}},
			wantErr: errDown,
		},
		{
			name: "registry down: a lock platform child running is fine, a stranger is not",
			in: Input{Ref: ref, ResolveErr: errDown, Approval: &Approval{Digest: digestOf("a"), Platforms: []PlatformDigest{{Platform: "linux/amd64", Digest: digestOf("c")}}},
				Running: []RunningImage{{Pod: "ok", ImageID: host + digestOf("c")}, {Pod: "bad", ImageID: host + digestOf("d")}}},
			want: []Result{{Kind: RunningMismatch, Ref: ref.String(), Approved: digestOf("a"), Mismatched: []string{"bad"},
				Running: []Running{{Digest: digestOf("c"), Pods: []string{"ok"}}, {Digest: digestOf("d"), Pods: []string{"bad"}}},
				Message: "Image: registry.example/team/nginx:1.21.0: pod bad runs sha256:dddddddddddd…, which is not the approved sha256:aaaaaaaaaaaa…; different pods run 2 different digests of this image"}},
			wantErr: errDown,
		},
		{
			name: "pinned: no request, runs its digest",
			in: Input{Ref: pinned, Approval: &Approval{Digest: digestOf("a"), Source: FromManifest}, Resolution: &Resolution{Digest: digestOf("a"), Pinned: true},
				Running: []RunningImage{{Pod: "p", ImageID: "docker-pullable://" + host + digestOf("a")}}},
		},
		{
			name: "container filter",
			in: Input{Ref: ref, Container: "app", Approval: &Approval{Digest: digestOf("a")}, Resolution: &Resolution{Digest: digestOf("a")},
				Running: []RunningImage{{Pod: "p", Container: "other", ImageID: host + digestOf("e")}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Check(tt.in)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestShort(t *testing.T) {
	if got := Short(digestOf("f")); got != "sha256:ffffffffffff…" {
		t.Fatal(got)
	}
	if got := Short("sha256:abc"); got != "sha256:abc" {
		t.Fatal(got)
	}
}
