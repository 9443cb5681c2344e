package reconciler

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
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
	"sigs.k8s.io/yaml"

	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/report"
)

var (
	crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	svcGVR = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	depGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	saGVR  = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
)

// dyn is a dynamic client of the test control plane.
func dyn(t *testing.T) *dynamic.DynamicClient {
	t.Helper()
	d, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// edit changes an object the way a person's kubectl does: a patch of the given type, sent under
// that kubectl command's field manager.
func edit(t *testing.T, gvr schema.GroupVersionResource, namespace, name, manager string, pt types.PatchType, body string) {
	t.Helper()
	var r dynamic.ResourceInterface = dyn(t).Resource(gvr)
	if namespace != "" {
		r = dyn(t).Resource(gvr).Namespace(namespace)
	}
	if _, err := r.Patch(t.Context(), name, pt, []byte(body), metav1.PatchOptions{FieldManager: manager}); err != nil {
		t.Fatalf("%s %s/%s as %s: %v", pt, gvr.Resource, name, manager, err)
	}
}

// readFixture reads one object of testdata/<scenario>/<file>, with each old string of replace
// replaced by the new one that follows it.
func readFixture(t *testing.T, scenario, file string, replace ...string) manifests.Object {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", scenario, file))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer(replace...).Replace(string(data))
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(text), &u.Object); err != nil {
		t.Fatalf("%s/%s: %v", scenario, file, err)
	}
	return manifests.Object{Object: u, Source: scenario + "/" + file}
}

// diffDeclared diffs objs without the search for objects Git stopped declaring (the Endpoints
// that controllers copy the ownership label onto are another issue's): only what happened to the
// declared objects is reported.
func (s *scenario) diffDeclared(c *Cluster, objs []manifests.Object) *report.Report {
	s.t.Helper()
	r, err := c.Diff(s.ctx, objs, DefaultDiffOptions())
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// only returns the report's single finding, failing on errors or on any other finding.
func only(t *testing.T, r *report.Report) report.Finding {
	t.Helper()
	if r.HasErrors() || len(r.Findings) != 1 {
		out, _ := json.MarshalIndent(r, "", "  ")
		t.Fatalf("want exactly one finding and no error, got:\n%s", out)
	}
	return r.Findings[0]
}

// clean fails unless the report has neither findings nor errors.
func clean(t *testing.T, r *report.Report) {
	t.Helper()
	if r.HasFindings() || r.HasErrors() {
		out, _ := json.MarshalIndent(r, "", "  ")
		t.Fatalf("want no findings and no errors, got:\n%s", out)
	}
}

// emptyScenario is a fresh namespace with nothing applied in it.
func emptyScenario(t *testing.T, prefix string) *scenario {
	t.Helper()
	ns, err := env.NewNamespace(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCluster(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return &scenario{t: t, ctx: t.Context(), c: c, namespace: ns, source: "test-" + ns}
}

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

// hotfix runs the hotfix-story fixture and returns the scenario and its Deployment's and
// Service's findings after the edits.
func hotfixFields(t *testing.T, s *scenario, kind string) []report.Field {
	t.Helper()
	r := s.diffDeclared(s.c, s.objects)
	if r.HasErrors() {
		out, _ := json.MarshalIndent(r.Errors, "", "  ")
		t.Fatalf("want no errors, got:\n%s", out)
	}
	var fields []report.Field
	for _, f := range r.Findings {
		if f.Object.Kind == kind {
			fields = append(fields, f.Fields...)
		} else {
			t.Errorf("unexpected finding on %s %s: %s", f.Object.Kind, f.Object.Name, f.Message)
		}
	}
	return fields
}

func TestVerdictServicePortChangedByHand(t *testing.T) {
	s := newScenario(t, "hotfix-story")
	clean(t, s.diffDeclared(s.c, s.objects))
	// The hotfix moves the port to 8080 (kubectl edit sends the whole list), and labels the
	// Service: Git's port merged onto the live one makes two unnamed ports, which is invalid.
	edit(t, svcGVR, s.namespace, "web", "kubectl-edit", types.MergePatchType,
		`{"metadata":{"labels":{"hotfix":"INC-1234"}},"spec":{"ports":[{"port":8080,"targetPort":"http","protocol":"TCP"}]}}`)

	fields := hotfixFields(t, s, "Service")
	type verdict struct {
		Path, Manager string
		Desired, Live any
		Unconfirmed   bool
	}
	var got []verdict
	for _, f := range fields {
		got = append(got, verdict{f.Path, f.Manager, f.Desired, f.Live, strings.HasPrefix(f.Note, "not confirmed by the API server")})
	}
	want := []verdict{
		{Path: ".metadata.labels.hotfix", Manager: "kubectl-edit", Live: "INC-1234"},
		{Path: `.spec.ports[port=80,protocol="TCP"]`, Desired: map[string]any{"port": int64(80), "targetPort": "http"}, Unconfirmed: true},
		{Path: `.spec.ports[port=8080,protocol="TCP"]`, Manager: "kubectl-edit", Live: map[string]any{"port": int64(8080), "targetPort": "http", "protocol": "TCP"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
}

func TestVerdictDeploymentStrategyAndPortProtocolChangedByHand(t *testing.T) {
	s := newScenario(t, "hotfix-story")
	// Recreate instead of a rolling update (Git's maxSurge then makes the merge invalid), and
	// the container port's protocol flipped to UDP (two ports named http).
	edit(t, depGVR, s.namespace, "web", "kubectl-edit", types.JSONPatchType,
		`[{"op":"replace","path":"/spec/strategy","value":{"type":"Recreate"}},
		  {"op":"replace","path":"/spec/template/spec/containers/0/ports/0/protocol","value":"UDP"}]`)

	fields := hotfixFields(t, s, "Deployment")
	var paths []string
	for _, f := range fields {
		paths = append(paths, f.Path)
		if f.Path == ".spec.strategy.rollingUpdate" && !strings.Contains(f.Note, "not confirmed by the API server") {
			t.Errorf("field %s: note %q does not say the server could not confirm it", f.Path, f.Note)
		}
	}
	want := []string{
		".spec.strategy.rollingUpdate",
		".spec.strategy.type",
		`.spec.template.spec.containers[name="web"].ports[containerPort=8080,protocol="TCP"]`,
		`.spec.template.spec.containers[name="web"].ports[containerPort=8080,protocol="UDP"]`,
	}
	if d := cmp.Diff(want, paths); d != "" {
		t.Errorf("paths (-want +got):\n%s", d)
	}
}

func TestVerdictFieldGitDroppedIsDrift(t *testing.T) {
	s := newScenario(t, "hotfix-story")
	// An earlier commit declared an owner annotation and minReadySeconds; Plumbline applied it.
	// The current commit (the fixture) no longer declares them.
	var earlier []manifests.Object
	for _, o := range s.objects {
		u := o.Object.DeepCopy()
		if u.GetKind() == "Deployment" {
			u.SetAnnotations(map[string]string{"example.com/owner": "team-a"})
			if err := unstructured.SetNestedField(u.Object, int64(10), "spec", "minReadySeconds"); err != nil {
				t.Fatal(err)
			}
		}
		earlier = append(earlier, manifests.Object{Object: u, Source: o.Source})
	}
	s.apply(earlier)

	fields := hotfixFields(t, s, "Deployment")
	var got []report.Field
	for _, f := range fields {
		if !strings.Contains(f.Note, "Git no longer declares it; plumbline applied it") {
			t.Errorf("field %s: note %q", f.Path, f.Note)
		}
		f.Note = ""
		got = append(got, f)
	}
	want := []report.Field{
		{Path: ".metadata.annotations.example.com/owner", Live: "team-a", Manager: "plumbline"},
		{Path: ".spec.minReadySeconds", Live: int64(10), Manager: "plumbline"},
	}
	if d := cmp.Diff(want, got, ignoreTime); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
}

func TestVerdictLabelOnObjectDeclaredByNameOnly(t *testing.T) {
	s := newScenario(t, "hotfix-story")
	// Applied as Git declares it, with nothing but its name: no managedFields entry at all.
	if err := env.Clientset.CoreV1().ServiceAccounts(s.namespace).Delete(s.ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var sa *unstructured.Unstructured
	for _, o := range s.objects {
		if o.Object.GetKind() == "ServiceAccount" {
			sa = o.Object
		}
	}
	if err := s.c.Apply(s.ctx, []*unstructured.Unstructured{sa}, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	clean(t, s.diffDeclared(s.c, s.objects))
	edit(t, saGVR, s.namespace, "web", "kubectl-label", types.MergePatchType, `{"metadata":{"labels":{"team":"payments"}}}`)

	fields := hotfixFields(t, s, "ServiceAccount")
	want := []report.Field{{Path: ".metadata.labels.team", Live: "payments"}}
	if d := cmp.Diff(want, fields, ignoreTime); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
}

func TestVerdictDefaultsCausedByAPersonsEdit(t *testing.T) {
	tests := []struct {
		name  string
		patch string
		want  []report.Field
	}{
		{
			name:  "sessionAffinity ClientIP brings sessionAffinityConfig",
			patch: `{"spec":{"sessionAffinity":"ClientIP"}}`,
			want:  []report.Field{{Path: ".spec.sessionAffinity", Desired: "None", Live: "ClientIP", Manager: "kubectl-patch"}},
		},
		{
			name:  "type NodePort brings externalTrafficPolicy and a node port",
			patch: `{"spec":{"type":"NodePort"}}`,
			want:  []report.Field{{Path: ".spec.type", Desired: "ClusterIP", Live: "NodePort", Manager: "kubectl-patch"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScenario(t, "hotfix-story")
			edit(t, svcGVR, s.namespace, "web", "kubectl-patch", types.MergePatchType, tt.patch)
			fields := hotfixFields(t, s, "Service")
			for i := range fields {
				if fields[i].Note != "Git leaves this field to the server's default, which was changed in the cluster" {
					t.Errorf("field %s: note %q", fields[i].Path, fields[i].Note)
				}
				fields[i].Note = ""
			}
			if d := cmp.Diff(tt.want, fields, ignoreTime); d != "" {
				t.Errorf("fields (-want +got):\n%s", d)
			}
		})
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
