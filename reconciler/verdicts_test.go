package reconciler

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
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
	// Every test of the package shares one API server: cluster-scoped orphans that other tests
	// made (their CRDs) are not this test's. This test's own carry its namespace in their names.
	kept := r.Findings[:0]
	for _, f := range r.Findings {
		if f.Type == report.Extra && f.Object.Namespace == "" && !strings.Contains(f.Object.Name, s.namespace) {
			continue
		}
		kept = append(kept, f)
	}
	r.Findings = kept
	r.Finalize(r.Summary.Objects)
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

// hotfixFields diffs the hotfix-story scenario and returns the fields of the findings on the
// objects of kind, failing on errors and on findings on any other object.
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

// The benign corpus stays clean after Plumbline's apply and after a person's
// `kubectl apply --server-side` of the same files on top (the client-side apply is in
// TestDryRunsCachedInSteadyState): the new verdicts add no false findings.
func TestVerdictBenignCorpusAfterServerSideApplies(t *testing.T) {
	s := newScenario(t, "benign-corpus")
	clean(t, s.diffDeclared(s.c, s.objects))
	for _, o := range s.objects {
		m, err := s.c.mappingFor(o.Object.GroupVersionKind())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.c.resource(m, s.namespace).Apply(s.ctx, o.Object.GetName(), o.Object,
			metav1.ApplyOptions{FieldManager: "kubectl", Force: true}); err != nil {
			t.Fatalf("kubectl apply --server-side %s: %v", o.Object.GetName(), err)
		}
	}
	clean(t, s.diffDeclared(s.c, s.objects))
}
