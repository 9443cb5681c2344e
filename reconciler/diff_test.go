package reconciler

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/plumbline/plumbline/diff"
	"github.com/plumbline/plumbline/report"
)

// patch edits an object the way kubectl does: a strategic merge patch under kubectl's field
// manager for that command.
func (s *scenario) patch(resource, name, manager, body string) {
	s.t.Helper()
	var err error
	opts := metav1.PatchOptions{FieldManager: manager}
	switch resource {
	case "deployments":
		_, err = env.Clientset.AppsV1().Deployments(s.namespace).Patch(s.ctx, name, types.StrategicMergePatchType, []byte(body), opts)
	case "secrets":
		_, err = env.Clientset.CoreV1().Secrets(s.namespace).Patch(s.ctx, name, types.StrategicMergePatchType, []byte(body), opts)
	case "services":
		_, err = env.Clientset.CoreV1().Services(s.namespace).Patch(s.ctx, name, types.StrategicMergePatchType, []byte(body), opts)
	default:
		s.t.Fatalf("no patch for %s", resource)
	}
	if err != nil {
		s.t.Fatalf("patch %s/%s as %s: %v", resource, name, manager, err)
	}
}

// ignoreTime drops field times, which the API server sets; tests check them separately.
var ignoreTime = cmpopts.IgnoreFields(report.Field{}, "Time")

func TestDiffNoDriftRightAfterApply(t *testing.T) {
	s := newScenario(t, "nginx-story")
	r := s.diff(s.objects)
	if r.HasFindings() || r.HasErrors() {
		t.Fatalf("want no findings right after apply, got %+v %+v", r.Findings, r.Errors)
	}
	if r.Summary.Objects != 2 {
		t.Errorf("summary objects = %d, want 2", r.Summary.Objects)
	}
}

func TestDiffKubectlSetImage(t *testing.T) {
	s := newScenario(t, "nginx-story")
	s.patch("deployments", "nginx-deployment", "kubectl-set",
		`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:latest"}]}}}}`)

	r := s.diff(s.objects)
	want := []report.Finding{{
		Type:    report.Modified,
		Object:  report.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: s.namespace, Name: "nginx-deployment"},
		Message: "Image changed from 'nginx:1.21.0' to 'nginx:latest'",
		Source:  "nginx-story/deployment.yaml",
		Fields: []report.Field{{
			Path:    `.spec.template.spec.containers[name="nginx"].image`,
			Desired: "nginx:1.21.0", Live: "nginx:latest", Manager: "kubectl-set",
		}},
	}}
	if d := cmp.Diff(want, r.Findings, ignoreTime); d != "" {
		t.Fatalf("findings (-want +got):\n%s", d)
	}
	if r.Findings[0].Fields[0].Time == nil {
		t.Error("the drifted field carries no time of the edit")
	}
}

func TestDiffKubectlScale(t *testing.T) {
	s := newScenario(t, "nginx-story")
	scale := &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx-deployment", Namespace: s.namespace},
		Spec:       autoscalingv1.ScaleSpec{Replicas: 5},
	}
	if _, err := env.Clientset.AppsV1().Deployments(s.namespace).UpdateScale(s.ctx, "nginx-deployment", scale,
		metav1.UpdateOptions{FieldManager: "kubectl-scale"}); err != nil {
		t.Fatal(err)
	}
	r := s.diff(s.objects)
	want := []report.Field{{Path: ".spec.replicas", Desired: int64(3), Live: int64(5), Manager: "kubectl-scale"}}
	if len(r.Findings) != 1 {
		t.Fatalf("want one finding, got %+v", r.Findings)
	}
	if d := cmp.Diff(want, r.Findings[0].Fields, ignoreTime); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	if got := r.Findings[0].Message; got != "Replicas changed from 3 to 5" {
		t.Errorf("message = %q", got)
	}
}

func TestDiffKubectlEditAddsWhatGitDoesNotDeclare(t *testing.T) {
	s := newScenario(t, "nginx-story")
	s.patch("deployments", "nginx-deployment", "kubectl-edit",
		`{"spec":{"template":{"spec":{"containers":[
			{"name":"nginx","env":[{"name":"DEBUG","value":"1"}]},
			{"name":"sidecar","image":"busybox:1.36","command":["sleep","infinity"]}]}}}}`)

	r := s.diff(s.objects)
	if len(r.Findings) != 1 {
		t.Fatalf("want one Modified finding, got %+v", r.Findings)
	}
	var paths []string
	byPath := map[string]report.Field{}
	for _, f := range r.Findings[0].Fields {
		paths = append(paths, f.Path)
		byPath[f.Path] = f
		if f.Desired != nil || f.Manager != "kubectl-edit" {
			t.Errorf("field %s: desired %v manager %q, want null and kubectl-edit", f.Path, f.Desired, f.Manager)
		}
	}
	wantPaths := []string{
		`.spec.template.spec.containers[name="nginx"].env`,
		`.spec.template.spec.containers[name="sidecar"]`,
	}
	if d := cmp.Diff(wantPaths, paths); d != "" {
		t.Fatalf("paths (-want +got):\n%s", d)
	}
	env := byPath[wantPaths[0]].Live
	if d := cmp.Diff([]any{map[string]any{"name": "DEBUG", "value": "1"}}, env); d != "" {
		t.Errorf("env live value (-want +got):\n%s", d)
	}
	sidecar, _ := byPath[wantPaths[1]].Live.(map[string]any)
	if sidecar["image"] != "busybox:1.36" {
		t.Errorf("sidecar live value = %v", sidecar)
	}
}

func TestDiffDeletedServiceIsMissing(t *testing.T) {
	s := newScenario(t, "nginx-story")
	if err := env.Clientset.CoreV1().Services(s.namespace).Delete(s.ctx, "nginx", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r := s.diff(s.objects)
	want := []report.Finding{{
		Type:    report.Missing,
		Object:  report.ObjectRef{APIVersion: "v1", Kind: "Service", Namespace: s.namespace, Name: "nginx"},
		Message: "Declared in Git but absent from the cluster",
		Source:  "nginx-story/service.yaml",
	}}
	if d := cmp.Diff(want, r.Findings); d != "" {
		t.Fatalf("findings (-want +got):\n%s", d)
	}
}

func TestDiffExtraObjects(t *testing.T) {
	s := newScenario(t, "nginx-story")
	// A ConfigMap made by hand next to the declared objects, and the kinds the control plane
	// makes by itself, which are not drift.
	byHand := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "debug-flags", Namespace: s.namespace}, Data: map[string]string{"x": "1"}}
	if _, err := env.Clientset.CoreV1().ConfigMaps(s.namespace).Create(s.ctx, byHand, metav1.CreateOptions{FieldManager: "kubectl-create"}); err != nil {
		t.Fatal(err)
	}
	// kube-controller-manager has made kube-root-ca.crt and the default ServiceAccount in the
	// namespace by now: they must not be Extra.
	if err := wait.PollUntilContextTimeout(s.ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := env.Clientset.CoreV1().ConfigMaps(s.namespace).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatal("kube-controller-manager made no kube-root-ca.crt")
	}
	owned := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owned", Namespace: s.namespace,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "nginx", UID: "00000000-0000-0000-0000-000000000001"}}}}
	if _, err := env.Clientset.CoreV1().ConfigMaps(s.namespace).Create(s.ctx, owned, metav1.CreateOptions{FieldManager: "some-operator"}); err != nil {
		t.Fatal(err)
	}
	// The source declares a ConfigMap, so ConfigMaps in this namespace are looked at; and Git
	// stops declaring the Service that Plumbline applied with its ownership label.
	declared := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "app-config", Namespace: s.namespace}, Data: map[string]string{"a": "b"}}
	objs := append(s.without("Service", "nginx"), toObject(t, declared, "nginx-story/config.yaml"))
	s.apply(objs)

	r := s.diff(objs)
	type got struct{ Kind, Name, Reason string }
	var gots []got
	for _, f := range r.Findings {
		if f.Type != report.Extra {
			t.Errorf("unexpected finding %+v", f)
			continue
		}
		gots = append(gots, got{f.Object.Kind, f.Object.Name, f.Reason})
	}
	want := []got{{"ConfigMap", "debug-flags", "not-in-git"}, {"Service", "nginx", "pruned-from-git"}}
	if d := cmp.Diff(want, gots); d != "" {
		t.Fatalf("extra findings (-want +got):\n%s", d)
	}
	if msg := r.Findings[0].Message; !strings.HasPrefix(msg, "Not declared in Git: created in the cluster by kubectl-create at ") {
		t.Errorf("orphan message = %q", msg)
	}
}

func TestDiffControllersAndDefaultsAreNotDrift(t *testing.T) {
	s := newScenario(t, "benign-corpus")
	// What controllers do to these objects all day: scale (an HPA, Git declares no replicas),
	// annotate, label, write status.
	scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: s.namespace}, Spec: autoscalingv1.ScaleSpec{Replicas: 4}}
	if _, err := env.Clientset.AppsV1().Deployments(s.namespace).UpdateScale(s.ctx, "web", scale, metav1.UpdateOptions{FieldManager: "kube-controller-manager"}); err != nil {
		t.Fatal(err)
	}
	s.patch("deployments", "web", "kube-controller-manager", `{"metadata":{"annotations":{"deployment.kubernetes.io/revision":"3"}}}`)
	s.patch("deployments", "web", "istio-operator", `{"metadata":{"labels":{"istio.io/rev":"stable"}},"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/status":"injected"}}}}}`)
	s.patch("services", "web", "cloud-controller", `{"metadata":{"annotations":{"cloud.example.com/lb-id":"lb-123"}}}`)
	// The real deployment controller writes this status too: re-read on a conflict.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dep, err := env.Clientset.AppsV1().Deployments(s.namespace).Get(s.ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		dep.Status.Replicas, dep.Status.ReadyReplicas, dep.Status.ObservedGeneration = 4, 4, dep.Generation
		_, err = env.Clientset.AppsV1().Deployments(s.namespace).UpdateStatus(s.ctx, dep, metav1.UpdateOptions{FieldManager: "kube-controller-manager"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A person scaling a Deployment whose replicas Git does not declare is not drift either.
	scale.Spec.Replicas = 6
	if _, err := env.Clientset.AppsV1().Deployments(s.namespace).UpdateScale(s.ctx, "web", scale, metav1.UpdateOptions{FieldManager: "kubectl-scale"}); err != nil {
		t.Fatal(err)
	}

	r := s.diff(s.objects)
	if r.HasFindings() || r.HasErrors() {
		out, _ := json.MarshalIndent(r, "", "  ")
		t.Fatalf("benign corpus gave findings:\n%s", out)
	}
	if r.Summary.Objects != len(s.objects) || len(s.objects) < 12 {
		t.Errorf("compared %d of %d objects", r.Summary.Objects, len(s.objects))
	}
}

func TestDiffMasksSecrets(t *testing.T) {
	s := newScenario(t, "secret-masking")
	s.patch("secrets", "db-credentials", "kubectl-edit",
		`{"data":{"password":"bGl2ZS1zZWNyZXQtdmFsdWU=","token":"YWRkZWQtYnktaGFuZA=="}}`) // live-secret-value, added-by-hand

	r := s.diff(s.objects)
	want := []report.Field{
		{Path: ".data.password", Desired: diff.MaskedValue, Live: diff.MaskedDiffers, Manager: "kubectl-edit", Masked: true},
		{Path: ".data.token", Desired: nil, Live: diff.MaskedValue, Manager: "kubectl-edit", Masked: true},
	}
	if len(r.Findings) != 1 {
		t.Fatalf("want one finding, got %+v", r.Findings)
	}
	if d := cmp.Diff(want, r.Findings[0].Fields, ignoreTime); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	var text, js strings.Builder
	if err := report.WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2-from-git", "aHVudGVyMi1mcm9tLWdpdA", "live-secret-value", "bGl2ZS1zZWNyZXQtdmFsdWU", "added-by-hand", "YWRkZWQtYnktaGFuZA"} {
		if strings.Contains(text.String(), secret) || strings.Contains(js.String(), secret) {
			t.Errorf("output shows secret %q:\n%s\n%s", secret, text.String(), js.String())
		}
	}
}

func TestDiffIgnoreRules(t *testing.T) {
	s := newScenario(t, "nginx-story")
	scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "nginx-deployment", Namespace: s.namespace}, Spec: autoscalingv1.ScaleSpec{Replicas: 7}}
	if _, err := env.Clientset.AppsV1().Deployments(s.namespace).UpdateScale(s.ctx, "nginx-deployment", scale, metav1.UpdateOptions{FieldManager: "kube-controller-manager"}); err != nil {
		t.Fatal(err)
	}
	s.patch("deployments", "nginx-deployment", "kubectl-set",
		`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.22.0"}]}}}}`)

	opts := DefaultDiffOptions()
	opts.Diff.Ignore = []diff.IgnoreRule{{
		Kinds: []string{"Deployment"}, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
		Paths: []string{".spec.replicas"},
	}}
	r, err := s.c.Diff(s.ctx, s.objects, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 || len(r.Findings[0].Fields) != 1 || !strings.HasSuffix(r.Findings[0].Fields[0].Path, ".image") {
		t.Fatalf("want only the image drift, replicas ignored; got %+v", r.Findings)
	}
}
