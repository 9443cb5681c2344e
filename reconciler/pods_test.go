package reconciler

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/report"
)

// TestRunningImagesOfABarePod: a Pod that Git declares without labels is its own one pod. The
// other pods of its namespace, which run other digests of the same image, are not its pods
// (an empty label set selects them all), so they give no RunningImageMismatch.
func TestRunningImagesOfABarePod(t *testing.T) {
	ctx := t.Context()
	ns, err := env.NewNamespace(ctx, "bare-pod")
	if err != nil {
		t.Fatal(err)
	}
	const image = "registry.example.com/team/web:1.0"
	approved := "sha256:" + strings.Repeat("a", 64)
	other := "sha256:" + strings.Repeat("b", 64)
	ref, err := images.ParseReference(image)
	if err != nil {
		t.Fatal(err)
	}
	lock := images.Lock{Entries: []images.LockEntry{{Ref: ref, Digest: approved, ApprovedAt: time.Now().UTC().Truncate(time.Second)}}}

	debug := toObject(t, &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "debug", Namespace: ns},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
	}, "debug-pod.yaml")
	c, err := NewCluster(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(ctx, []*unstructured.Unstructured{debug.Object}, ApplyOptions{SourceName: "test-" + ns}); err != nil {
		t.Fatal(err)
	}
	pods := env.Clientset.CoreV1().Pods(ns)
	// The kubelet's report for the declared pod: it runs the approved digest.
	runs := func(pod *corev1.Pod, digest string) {
		t.Helper()
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", Image: image, ImageID: "registry.example.com/team/web@" + digest, Ready: true}}
		if _, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	live, err := pods.Get(ctx, "debug", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runs(live, approved)
	// Another workload's pod (not declared by this source) runs another build of the image.
	rogue, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d9c-abcde", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
	}, metav1.CreateOptions{FieldManager: "kube-controller-manager"})
	if err != nil {
		t.Fatal(err)
	}
	runs(rogue, other)

	diffOf := func() *report.Report {
		t.Helper()
		opts := DefaultDiffOptions()
		opts.Images = &ImageOptions{Lock: lock}
		r, err := c.Diff(ctx, []manifests.Object{debug}, opts)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := diffOf()
	for _, f := range r.Findings {
		if f.Type == report.RunningImageMismatch {
			t.Errorf("the declared pod runs the approved digest, yet: %s", f.Message)
		}
	}
	if len(r.Errors) > 0 {
		t.Errorf("errors: %+v", r.Errors)
	}

	// The declared pod itself running another digest is still seen, and named.
	live, err = pods.Get(ctx, "debug", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runs(live, other)
	r = diffOf()
	var got []string
	for _, f := range r.Findings {
		if f.Type == report.RunningImageMismatch {
			got = append(got, f.Message)
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], "pod debug runs") || strings.Contains(got[0], "web-7d9c-abcde") {
		t.Errorf("RunningImageMismatch messages %q: want one naming pod debug and not the other workload's pod", got)
	}
}
