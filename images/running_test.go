package images

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestImageIDDigest(t *testing.T) {
	d := "sha256:" + strings.Repeat("a1", 32)
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"dockershim docker-pullable", "docker-pullable://registry.example/team/nginx@" + d, d, true},
		{"containerd repo digest", "registry.example/team/nginx@" + d, d, true},
		{"docker hub repo digest", "docker.io/library/nginx@" + d, d, true},
		{"other scheme", "containerd://registry.example/team/nginx@" + d, d, true},
		{"bare local image id is not a manifest digest", d, "", false},
		{"docker:// image id", "docker://" + d, "", false},
		{"empty: not pulled yet", "", "", false},
		{"digest without repository", "@" + d, "", false},
		{"malformed digest", "registry.example/nginx@sha256:abc", "", false},
		{"tag, no digest", "registry.example/nginx:1.21", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ImageIDDigest(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("ImageIDDigest(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRunningImages(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0"},
		Status: corev1.PodStatus{
			InitContainerStatuses:      []corev1.ContainerStatus{{Name: "init", ImageID: "i"}},
			ContainerStatuses:          []corev1.ContainerStatus{{Name: "app", ImageID: "a"}, {Name: "sidecar", ImageID: ""}},
			EphemeralContainerStatuses: []corev1.ContainerStatus{{Name: "debug", ImageID: "e"}},
		},
	}
	want := []RunningImage{
		{Pod: "web-0", Container: "init", ImageID: "i"},
		{Pod: "web-0", Container: "app", ImageID: "a"},
		{Pod: "web-0", Container: "sidecar"},
		{Pod: "web-0", Container: "debug", ImageID: "e"},
	}
	if d := cmp.Diff(want, RunningImages(pod)); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	if RunningImages(nil) != nil {
		t.Fatal("nil pod")
	}
}
