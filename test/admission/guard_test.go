package admission

import (
	"context"
	"fmt"
	"testing"

	admv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/report"
)

func renderGuard(t *testing.T, ns string, actions []admv1.ValidationAction, objs ...*unstructured.Unstructured) {
	t.Helper()
	set, err := reconciler.RenderAdmission(nil, reconciler.AdmissionSpec{
		Source: sourceKey(ns), Repo: "platform/apps", Path: "overlays/prod", Actions: actions,
		Objects: objs, NamespaceOf: oneNamespace(ns), Guard: true, Config: guardConfig(),
	})
	if err != nil {
		t.Fatal(err)
	}
	applySet(t, set)
}

// TestGuardDeny: with the guard in deny, a person's kubectl set image, scale and delete of a
// managed Deployment are refused with the message that says what to do; the break-glass group,
// the controller's own revert and the HPA's scale pass; an unmanaged Deployment is not guarded.
func TestGuardDeny(t *testing.T) {
	ctx := context.Background()
	ns, err := env.NewNamespace(ctx, "guard")
	if err != nil {
		t.Fatal(err)
	}
	d := managedDeployment(t, ns, "nginx-deployment", true)
	managedDeployment(t, ns, "unmanaged", false)
	renderGuard(t, ns, []admv1.ValidationAction{admv1.Deny}, d)
	want := guardMessage(ns, "nginx-deployment")
	alice := impersonating(t, "alice", "system:masters")
	probe := 0
	eventually(t, "the guard refuses a person's edit", func() bool {
		probe++
		_, err := alice.AppsV1().Deployments(ns).Patch(ctx, "nginx-deployment", types.MergePatchType,
			fmt.Appendf(nil, `{"metadata":{"annotations":{"probe":"%d"}}}`, probe), metav1.PatchOptions{})
		return err != nil
	})
	// A dry run passes: kubectl diff and plumbline diff keep working for people.
	if _, stderr, err := kubectl(t, "--as", "alice", "--as-group", "system:masters", "-n", ns, "set", "image",
		"deployment/nginx-deployment", "nginx=nginx:latest", "--dry-run=server"); err != nil {
		t.Fatalf("a person's dry run refused: %v: %s", err, stderr)
	}
	_, stderr, err := kubectl(t, "--as", "alice", "--as-group", "system:masters", "-n", ns,
		"set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	if err == nil || !contains(stderr, want) {
		t.Fatalf("kubectl set image as a person: stderr %q, want the message %q", stderr, want)
	}
	if got := imageOf(t, ns, "nginx-deployment"); got != "nginx:1.27" {
		t.Fatalf("image after a refused edit: %s", got)
	}
	if _, stderr, err := kubectl(t, "--as", "alice", "--as-group", "system:masters", "-n", ns,
		"set", "image", "deployment/unmanaged", "nginx=nginx:latest"); err != nil {
		t.Fatalf("an unmanaged Deployment is guarded too: %v: %s", err, stderr)
	}

	// Break-glass: the edit passes, and is drift that the comparison reports.
	if _, stderr, err := kubectl(t, "--as", "bob", "--as-group", "system:masters", "--as-group", breakGlass, "-n", ns,
		"set", "image", "deployment/nginx-deployment", "nginx=nginx:latest"); err != nil {
		t.Fatalf("break-glass edit refused: %v: %s", err, stderr)
	}
	if got := imageOf(t, ns, "nginx-deployment"); got != "nginx:latest" {
		t.Fatalf("image after the break-glass edit: %s", got)
	}
	c, err := reconciler.NewCluster(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	opts := reconciler.DefaultDiffOptions()
	opts.SourceName = ns + ".apps"
	rep, err := c.Diff(ctx, []manifests.Object{{Object: d, Source: "deployment.yaml"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var drift []string
	for _, f := range rep.Findings {
		if f.Type == report.Modified {
			for _, fd := range f.Fields {
				drift = append(drift, fmt.Sprintf("%s %v->%v by %s", fd.Path, fd.Desired, fd.Live, fd.Manager))
			}
		}
	}
	if len(drift) != 1 || !contains(drift[0], `.image nginx:1.27->nginx:latest by kubectl-set`) {
		t.Fatalf("drift after break-glass: %q", drift)
	}

	// The controller's revert passes.
	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}}}`)
	if _, err := impersonating(t, controllerUser, "system:masters").AppsV1().Deployments(ns).Patch(ctx, "nginx-deployment",
		types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: "plumbline"}); err != nil {
		t.Fatalf("the controller's revert refused: %v", err)
	}

	// The HPA scales; a person does not; nor deletes.
	if _, stderr, err := kubectl(t, "--as", "system:serviceaccount:kube-system:horizontal-pod-autoscaler", "--as-group", "system:masters",
		"-n", ns, "scale", "deployment/nginx-deployment", "--replicas=3"); err != nil {
		t.Fatalf("the HPA's scale refused: %v: %s", err, stderr)
	}
	_, stderr, err = kubectl(t, "--as", "alice", "--as-group", "system:masters", "-n", ns, "scale", "deployment/nginx-deployment", "--replicas=5")
	if err == nil || !contains(stderr, want) {
		t.Fatalf("kubectl scale as a person: err %v, stderr %q; want refused with %q", err, stderr, want)
	}
	if _, stderr, err := kubectl(t, "--as", "system:serviceaccount:kube-system:horizontal-pod-autoscaler", "--as-group", "system:masters",
		"-n", ns, "set", "image", "deployment/nginx-deployment", "nginx=nginx:latest"); err == nil {
		t.Fatalf("the HPA changed the image, beyond the scale subresource: %s", stderr)
	}
	got, err := env.Clientset.AppsV1().Deployments(ns).Get(ctx, "nginx-deployment", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Spec.Replicas != 3 || got.Spec.Template.Spec.Containers[0].Image != "nginx:1.27" {
		t.Fatalf("replicas %d image %s, want 3 and nginx:1.27", *got.Spec.Replicas, got.Spec.Template.Spec.Containers[0].Image)
	}
	_, stderr, err = kubectl(t, "--as", "alice", "--as-group", "system:masters", "-n", ns, "delete", "deployment/nginx-deployment")
	if err == nil || !contains(stderr, want) {
		t.Fatalf("kubectl delete as a person: err %v, stderr %q", err, stderr)
	}
}

// TestGuardWarn: with the guard in warn, the edit goes through and kubectl prints the message
// as a warning.
func TestGuardWarn(t *testing.T) {
	ctx := context.Background()
	ns, err := env.NewNamespace(ctx, "guard-warn")
	if err != nil {
		t.Fatal(err)
	}
	d := managedDeployment(t, ns, "nginx-deployment", true)
	renderGuard(t, ns, []admv1.ValidationAction{admv1.Warn}, d)
	want := guardMessage(ns, "nginx-deployment")
	image := 0
	var stderr string
	eventually(t, "kubectl prints the guard's warning", func() bool {
		image++
		_, stderr, err = kubectl(t, "--as", "alice", "--as-group", "system:masters", "-n", ns,
			"set", "image", "deployment/nginx-deployment", fmt.Sprintf("nginx=nginx:1.%d", image))
		if err != nil {
			t.Fatalf("warn refused the edit: %v: %s", err, stderr)
		}
		return contains(stderr, "Warning:")
	})
	if !contains(stderr, want) {
		t.Fatalf("kubectl stderr %q, want a warning with %q", stderr, want)
	}
	if got := imageOf(t, ns, "nginx-deployment"); got != fmt.Sprintf("nginx:1.%d", image) {
		t.Fatalf("image after a warned edit: %s", got)
	}
}
