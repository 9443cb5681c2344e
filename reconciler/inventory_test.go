package reconciler

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/report"
)

// extra is what a test checks of an Extra finding.
type extra struct{ Kind, Namespace, Name, Reason string }

// extrasOf returns the report's Extra findings, and fails the test on any other finding or error.
func extrasOf(t *testing.T, r *report.Report) []extra {
	t.Helper()
	for _, e := range r.Errors {
		t.Errorf("report error: %+v", e)
	}
	var out []extra
	for _, f := range r.Findings {
		if f.Type != report.Extra {
			t.Errorf("unexpected finding %+v", f)
			continue
		}
		out = append(out, extra{f.Object.Kind, f.Object.Namespace, f.Object.Name, f.Reason})
	}
	return out
}

// eventually polls cond every 200 ms for up to 60 s and fails the test when it never holds.
func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 60*time.Second, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitForEndpoints waits until kube-controller-manager made the Service's Endpoints and
// EndpointSlice, both with the Service's labels copied, ownership label included.
func (s *scenario) waitForEndpoints(service string) {
	s.t.Helper()
	eventually(s.t, "Endpoints and EndpointSlice of Service "+service, func(ctx context.Context) (bool, error) {
		ep, err := env.Clientset.CoreV1().Endpoints(s.namespace).Get(ctx, service, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		slices, err := env.Clientset.DiscoveryV1().EndpointSlices(s.namespace).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + service})
		if err != nil || len(slices.Items) == 0 {
			return false, err
		}
		return ep.Labels[LabelSource] == s.source && slices.Items[0].Labels[LabelSource] == s.source, nil
	})
}

// dropInventory deletes the scenario's inventory, as on a cluster where Plumbline never recorded one.
func (s *scenario) dropInventory() {
	s.t.Helper()
	if err := s.c.DeleteInventory(s.ctx, s.source); err != nil {
		s.t.Fatal(err)
	}
	_, err := env.Clientset.CoreV1().ConfigMaps(InventoryNamespace).Get(s.ctx, inventoryName(s.source), metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		s.t.Fatalf("inventory ConfigMap after DeleteInventory: %v", err)
	}
	if err := s.c.DeleteInventory(s.ctx, s.source); err != nil {
		s.t.Fatalf("DeleteInventory of none: %v", err)
	}
}

// configMap returns a desired ConfigMap of the scenario's namespace.
func (s *scenario) configMap(name string) manifests.Object {
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.namespace}, Data: map[string]string{"a": "b"}}
	return toObject(s.t, cm, "config.yaml")
}

// createConfigMap makes a ConfigMap in the cluster as field manager, with labels.
func (s *scenario) createConfigMap(namespace, name, manager string, labels map[string]string, owners ...metav1.OwnerReference) {
	s.t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels, OwnerReferences: owners}}
	if _, err := env.Clientset.CoreV1().ConfigMaps(namespace).Create(s.ctx, cm, metav1.CreateOptions{FieldManager: manager}); err != nil {
		s.t.Fatal(err)
	}
}

func TestServiceEndpointsAreNeverExtra(t *testing.T) {
	s := newScenario(t, "nginx-story")
	s.waitForEndpoints("nginx")

	if got := extrasOf(t, s.diff(s.objects)); len(got) != 0 {
		t.Errorf("with the inventory: extra findings %+v, want none", got)
	}
	s.dropInventory()
	if got := extrasOf(t, s.diff(s.objects)); len(got) != 0 {
		t.Errorf("by the label, without an inventory: extra findings %+v, want none", got)
	}
}

func TestRemovedFromGitIsExtraByInventoryWithoutTheLabel(t *testing.T) {
	s := newScenario(t, "nginx-story")
	// Someone takes the ownership label off; Git then stops declaring the Service, and no other
	// Service, so the orphan search does not look at Services at all.
	_, err := env.Clientset.CoreV1().Services(s.namespace).Patch(s.ctx, "nginx", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"plumbline.dev/source":null}}}`), metav1.PatchOptions{FieldManager: "kubectl-label"})
	if err != nil {
		t.Fatal(err)
	}
	objs := s.without("Service", "nginx")
	want := []extra{{"Service", s.namespace, "nginx", report.ReasonPrunedFromGit}}
	r := s.diff(objs)
	if d := cmp.Diff(want, extrasOf(t, r)); d != "" {
		t.Fatalf("extra findings (-want +got):\n%s", d)
	}
	if msg, wantMsg := r.Findings[0].Message, "No longer declared in Git, but Plumbline applied it (inventory of source "+s.source+")"; msg != wantMsg {
		t.Errorf("message = %q, want %q", msg, wantMsg)
	}
	// Applying what Git declares now does not prune, so the Service stays Plumbline's, and Extra.
	s.apply(objs)
	if d := cmp.Diff(want, extrasOf(t, s.diff(objs))); d != "" {
		t.Errorf("after applying Git again, extra findings (-want +got):\n%s", d)
	}
}

func TestLabelledObjectOutsideTheInventoryIsNotPruned(t *testing.T) {
	s := newScenario(t, "nginx-story")
	objs := append(s.objects, s.configMap("app-config"))
	s.apply(objs)
	other, err := env.NewNamespace(s.ctx, "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	// Made by hand with this source's label: one where the source declares ConfigMaps, one in
	// a namespace the source does not use.
	label := map[string]string{LabelSource: s.source}
	s.createConfigMap(s.namespace, "labelled-here", "kubectl-create", label)
	s.createConfigMap(other, "labelled-elsewhere", "kubectl-create", label)

	want := []extra{{"ConfigMap", s.namespace, "labelled-here", report.ReasonNotInGit}}
	if d := cmp.Diff(want, extrasOf(t, s.diff(objs))); d != "" {
		t.Errorf("with the inventory, extra findings (-want +got):\n%s", d)
	}

	// Without an inventory the label is all there is to go by.
	s.dropInventory()
	want = []extra{
		{"ConfigMap", other, "labelled-elsewhere", report.ReasonPrunedFromGit},
		{"ConfigMap", s.namespace, "labelled-here", report.ReasonPrunedFromGit},
	}
	if d := cmp.Diff(want, extrasOf(t, s.diff(objs))); d != "" {
		t.Errorf("by the label, extra findings (-want +got):\n%s", d)
	}
}

func TestControllerMadeObjectsAreNeverExtra(t *testing.T) {
	s := newScenario(t, "nginx-story")
	dep, err := env.Clientset.AppsV1().Deployments(s.namespace).Get(s.ctx, "nginx-deployment", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID}
	label := map[string]string{LabelSource: s.source}
	s.createConfigMap(s.namespace, "operator-made", "some-operator", label, owner)
	s.createConfigMap(s.namespace, "control-plane-made", "kube-controller-manager", label)
	s.createConfigMap(s.namespace, "hand-made", "kubectl-create", label)
	// Plumbline applied this one; Git dropped it and a controller adopted it since.
	adopted := s.configMap("adopted")
	s.apply(append(s.objects, adopted))
	_, err = env.Clientset.CoreV1().ConfigMaps(s.namespace).Patch(s.ctx, "adopted", types.MergePatchType,
		[]byte(`{"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"`+dep.Name+`","uid":"`+string(dep.UID)+`"}]}}`),
		metav1.PatchOptions{FieldManager: "some-operator"})
	if err != nil {
		t.Fatal(err)
	}

	if got := extrasOf(t, s.diff(s.objects)); len(got) != 0 {
		t.Errorf("with the inventory: extra findings %+v, want none", got)
	}
	s.dropInventory()
	want := []extra{{"ConfigMap", s.namespace, "hand-made", report.ReasonPrunedFromGit}}
	if d := cmp.Diff(want, extrasOf(t, s.diff(s.objects))); d != "" {
		t.Errorf("by the label, extra findings (-want +got):\n%s", d)
	}
}

func TestRecreatedObjectIsNoLongerPlumblines(t *testing.T) {
	s := newScenario(t, "nginx-story")
	// Git drops the Service but declares another, so Services here are searched for orphans.
	other := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: s.namespace}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	objs := append(s.without("Service", "nginx"), toObject(t, other, "api.yaml"))
	s.apply(objs)
	// Then someone deletes the Service that Plumbline applied and makes another of that name,
	// labels copied.
	svc, err := env.Clientset.CoreV1().Services(s.namespace).Get(s.ctx, "nginx", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Clientset.CoreV1().Services(s.namespace).Delete(s.ctx, "nginx", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	byHand := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: s.namespace, Labels: svc.Labels},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 8080}}}}
	if _, err := env.Clientset.CoreV1().Services(s.namespace).Create(s.ctx, byHand, metav1.CreateOptions{FieldManager: "kubectl-create"}); err != nil {
		t.Fatal(err)
	}

	want := []extra{{"Service", s.namespace, "nginx", report.ReasonNotInGit}}
	if d := cmp.Diff(want, extrasOf(t, s.diff(objs))); d != "" {
		t.Errorf("extra findings (-want +got):\n%s", d)
	}
	// The next complete apply forgets it.
	us := []*unstructured.Unstructured{objs[0].Object, objs[1].Object}
	if err := s.c.Apply(s.ctx, us, ApplyOptions{SourceName: s.source, Complete: true}); err != nil {
		t.Fatal(err)
	}
	inv, err := s.c.inventoryStore().Load(s.ctx, s.source)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range inv.Entries {
		if e.Kind == "Service" && e.Name == "nginx" {
			t.Errorf("the inventory still holds the Service made by hand: %+v", e)
		}
	}
}
