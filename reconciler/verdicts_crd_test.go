package reconciler

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/report"
)

// crdScenario installs the custom-resources fixture's CRD under a group of its own, waits until
// the API server serves it, and returns a Cluster that knows it, and the CRD and CR as Git
// declares them. The CRD is created by create, the CR applied by Plumbline.
func crdScenario(t *testing.T, create func(s *scenario, crd *unstructured.Unstructured)) (*scenario, *Cluster, manifests.Object, manifests.Object) {
	t.Helper()
	s := emptyScenario(t, "custom-resources")
	group := s.namespace + ".example.com"
	crd := readFixture(t, "custom-resources", "crd.yaml", "GROUP", group)
	cr := readFixture(t, "custom-resources", "gitrepository.yaml", "GROUP", group)
	cr.Object.SetNamespace(s.namespace)
	create(s, crd.Object)
	name := crd.Object.GetName()
	err := wait.PollUntilContextTimeout(s.ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := dyn(t).Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD %s not established: %v", name, err)
	}
	// The API server publishes a new CRD's OpenAPI schema a moment after it is established.
	rc := env.Clientset.Discovery().RESTClient()
	err = wait.PollUntilContextTimeout(s.ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		raw, err := rc.Get().AbsPath("/openapi/v3/apis/" + group + "/v1").Do(ctx).Raw()
		return err == nil && strings.Contains(string(raw), `"GitRepository"`), nil
	})
	if err != nil {
		t.Fatalf("OpenAPI schema of %s not published: %v", group, err)
	}
	t.Cleanup(func() {
		if err := dyn(t).Resource(crdGVR).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete CRD %s: %v", name, err)
		}
	})
	c, err := NewCluster(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(s.ctx, []*unstructured.Unstructured{cr.Object}, ApplyOptions{SourceName: s.source}); err != nil {
		t.Fatal(err)
	}
	return s, c, crd, cr
}

// applyCRD installs the CRD as Plumbline does.
func applyCRD(s *scenario, crd *unstructured.Unstructured) {
	if err := s.c.Apply(s.ctx, []*unstructured.Unstructured{crd}, ApplyOptions{SourceName: s.source}); err != nil {
		s.t.Fatal(err)
	}
}

// createClientSide installs an object as `kubectl apply` without --server-side does: a create
// under kubectl's client-side manager that stores the last-applied configuration.
func createClientSide(t *testing.T, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) {
	t.Helper()
	u := obj.DeepCopy()
	last, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	u.SetAnnotations(map[string]string{"kubectl.kubernetes.io/last-applied-configuration": string(last)})
	var r dynamic.ResourceInterface = dyn(t).Resource(gvr)
	if u.GetNamespace() != "" {
		r = dyn(t).Resource(gvr).Namespace(u.GetNamespace())
	}
	if _, err := r.Create(t.Context(), u, metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"}); err != nil {
		t.Fatalf("create %s %s as kubectl-client-side-apply: %v", u.GetKind(), u.GetName(), err)
	}
}

func TestVerdictCustomResourcePatched(t *testing.T) {
	s, c, crd, cr := crdScenario(t, applyCRD)
	objs := []manifests.Object{crd, cr}
	clean(t, s.diffDeclared(c, objs))

	gvr := schema.GroupVersionResource{Group: cr.Object.GroupVersionKind().Group, Version: "v1", Resource: "gitrepositories"}
	edit(t, gvr, s.namespace, "flux-system", "kubectl-patch", types.MergePatchType, `{"spec":{"interval":"5m0s"}}`)

	f := only(t, s.diffDeclared(c, objs))
	want := []report.Field{{Path: ".spec.interval", Desired: "1m0s", Live: "5m0s", Manager: "kubectl-patch"}}
	if d := cmp.Diff(want, f.Fields, ignoreTime); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	if f.Type != report.Modified || f.Object.Kind != "GitRepository" {
		t.Errorf("finding %s on %s, want Modified on the GitRepository", f.Type, f.Object.Kind)
	}
}

func TestVerdictCustomResourceDefinitionVersionsPatched(t *testing.T) {
	s, c, crd, cr := crdScenario(t, applyCRD)
	objs := []manifests.Object{crd, cr}
	// A person points the URL column at another field; spec.versions is a list that a JSON
	// merge patch replaces whole, as `kubectl patch --type=merge` does.
	versions, _, _ := unstructured.NestedSlice(crd.Object.Object, "spec", "versions")
	v := versions[0].(map[string]any)
	v["additionalPrinterColumns"] = []any{map[string]any{"name": "URL", "type": "string", "jsonPath": ".spec.ref.branch"}}
	body, _ := json.Marshal(map[string]any{"spec": map[string]any{"versions": versions}})
	edit(t, crdGVR, "", crd.Object.GetName(), "kubectl-patch", types.MergePatchType, string(body))

	f := only(t, s.diffDeclared(c, objs))
	if f.Object.Kind != "CustomResourceDefinition" {
		t.Fatalf("finding on %s, want the CRD", f.Object.Kind)
	}
	var paths []string
	for _, fd := range f.Fields {
		paths = append(paths, fd.Path)
		if fd.Manager != "kubectl-patch" {
			t.Errorf("field %s: manager %q, want kubectl-patch", fd.Path, fd.Manager)
		}
	}
	// The published schema makes spec.versions an atomic list: it is compared whole.
	if d := cmp.Diff([]string{".spec.versions"}, paths); d != "" {
		t.Fatalf("paths (-want +got):\n%s", d)
	}
	desired, _ := json.Marshal(f.Fields[0].Desired)
	live, _ := json.Marshal(f.Fields[0].Live)
	if !strings.Contains(string(desired), `"jsonPath":".spec.url"`) || !strings.Contains(string(live), `"jsonPath":".spec.ref.branch"`) {
		t.Errorf("desired %s / live %s do not show Git's and the person's column", desired, live)
	}
}

func TestVerdictCRDAppliedClientSide(t *testing.T) {
	s, c, crd, cr := crdScenario(t, func(s *scenario, crd *unstructured.Unstructured) { createClientSide(s.t, crdGVR, crd) })
	objs := []manifests.Object{crd, cr}
	clean(t, s.diffDeclared(c, objs))

	edit(t, crdGVR, "", crd.Object.GetName(), "kubectl-label", types.MergePatchType, `{"metadata":{"labels":{"team":"payments"}}}`)
	f := only(t, s.diffDeclared(c, objs))
	want := []report.Field{{Path: ".metadata.labels.team", Live: "payments", Manager: "kubectl-label"}}
	if d := cmp.Diff(want, f.Fields, ignoreTime); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
}

// An IPAddress must be named by its address, which a dry-run create under a generated name can
// never be: the defaults stay unknown, and that is no error. The fields Git's creator wrote are
// taken for defaults; a person's label is still reported, with a note.
func TestVerdictNameConstrainedKindAppliedClientSide(t *testing.T) {
	s := emptyScenario(t, "ipaddress")
	ip := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.k8s.io/v1", "kind": "IPAddress",
		"metadata": map[string]any{"name": "10.96.250.250"},
		"spec":     map[string]any{"parentRef": map[string]any{"group": "", "resource": "services", "namespace": s.namespace, "name": "reserved"}},
	}}
	gvr := schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ipaddresses"}
	createClientSide(t, gvr, ip)
	t.Cleanup(func() {
		if err := dyn(t).Resource(gvr).Delete(context.Background(), ip.GetName(), metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete IPAddress: %v", err)
		}
	})
	objs := []manifests.Object{{Object: ip, Source: "ipaddress.yaml"}}
	edit(t, gvr, "", ip.GetName(), "kubectl-label", types.MergePatchType, `{"metadata":{"labels":{"owner":"someone"}}}`)

	f := only(t, s.diffDeclared(s.c, objs))
	if len(f.Fields) != 1 || f.Fields[0].Path != ".metadata.labels.owner" || f.Fields[0].Manager != "kubectl-label" {
		t.Fatalf("fields = %+v, want the label kubectl-label added", f.Fields)
	}
	if !strings.Contains(f.Fields[0].Note, "defaults are unknown") {
		t.Errorf("note = %q, want it to say the defaults are unknown", f.Fields[0].Note)
	}
}

// The CRD's published schema makes spec.include a list keyed by name: a person's added element
// is reported as that element, not as the whole list changed.
func TestVerdictCustomResourceKeyedListElementAdded(t *testing.T) {
	s, c, crd, cr := crdScenario(t, applyCRD)
	objs := []manifests.Object{crd, cr}
	gvr := schema.GroupVersionResource{Group: cr.Object.GroupVersionKind().Group, Version: "v1", Resource: "gitrepositories"}
	edit(t, gvr, s.namespace, "flux-system", "kubectl-patch", types.JSONPatchType,
		`[{"op":"add","path":"/spec/include/-","value":{"name":"debug","path":"./debug"}}]`)

	f := only(t, s.diffDeclared(c, objs))
	want := []report.Field{{
		Path: `.spec.include[name="debug"]`, Live: map[string]any{"name": "debug", "path": "./debug"}, Manager: "kubectl-patch",
	}}
	if d := cmp.Diff(want, f.Fields, ignoreTime); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
}

// Flux applied the GitRepository from an earlier commit that declared spec.ignore; Git dropped
// it. Flux's next apply removes it, so it is drift, attributed to Flux's manager.
func TestVerdictFieldFluxAppliedAndGitDropped(t *testing.T) {
	s, c, crd, cr := crdScenario(t, applyCRD)
	earlier := cr.Object.DeepCopy()
	if err := unstructured.SetNestedStringSlice(earlier.Object, []string{"/docs"}, "spec", "ignore"); err != nil {
		t.Fatal(err)
	}
	earlier.SetLabels(map[string]string{"kustomize.toolkit.fluxcd.io/name": "flux-system"})
	gvr := schema.GroupVersionResource{Group: cr.Object.GroupVersionKind().Group, Version: "v1", Resource: "gitrepositories"}
	if _, err := dyn(t).Resource(gvr).Namespace(s.namespace).Apply(s.ctx, earlier.GetName(), earlier,
		metav1.ApplyOptions{FieldManager: "kustomize-controller", Force: true}); err != nil {
		t.Fatal(err)
	}

	f := only(t, s.diffDeclared(c, []manifests.Object{crd, cr}))
	want := []report.Field{{
		Path: ".spec.ignore", Live: []any{"/docs"}, Manager: "kustomize-controller",
		Note: "Git no longer declares it; kustomize-controller applied it from an earlier commit, and applying Git now would remove it",
	}}
	if d := cmp.Diff(want, f.Fields, ignoreTime); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
}
