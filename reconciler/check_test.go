package reconciler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/report"
)

// TestCheckDefaultsTheNamespace: objects that declare no namespace are checked in
// DefaultNamespace, as diff and kubectl apply -n place them, unless their kind is
// cluster-scoped: a built-in one, or one whose CRD the source declares with scope Cluster.
func TestCheckDefaultsTheNamespace(t *testing.T) {
	// A rule that fails on every namespaced object: it names the namespace each one got.
	ps, err := policy.ParsePolicySet([]byte(`apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
metadata: {name: where}
spec:
  builtins:
    disallow-latest-tag: {enabled: false}
  policies:
  - name: namespaced
    severity: low
    match: {namespaces: ["*"]}
    validations:
    - expression: "false"
      messageExpression: "'in ' + object.metadata.namespace"
`), "where.yaml")
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.NewEngine(ps)
	if err != nil {
		t.Fatal(err)
	}
	obj := func(apiVersion, kind, namespace, name string, spec map[string]any) manifests.Object {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name}}}
		if namespace != "" {
			u.SetNamespace(namespace)
		}
		if spec != nil {
			u.Object["spec"] = spec
		}
		return manifests.Object{Object: u, Source: name + ".yaml"}
	}
	crd := func(kind, scope string) manifests.Object {
		return obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", kind+"s.example.com", map[string]any{
			"group": "example.com", "scope": scope, "names": map[string]any{"kind": kind, "plural": kind + "s"},
		})
	}
	objs := []manifests.Object{
		obj("v1", "ConfigMap", "", "settings", nil),
		obj("v1", "ConfigMap", "team-a", "pinned", nil),
		obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader", nil),
		obj("v1", "Namespace", "", "prod-eu", nil),
		crd("Tenant", "Cluster"),
		obj("example.com/v1", "Tenant", "", "acme", nil),
		crd("Widget", "Namespaced"),
		obj("example.com/v1", "Widget", "", "knob", nil),
		obj("other.example.com/v1", "Gadget", "", "unknown-kind", nil),
	}
	r, err := Check(t.Context(), objs, CheckOptions{Policy: engine, DefaultNamespace: "prod-eu"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range r.Findings {
		if f.Rule == "namespaced" {
			got[f.Object.Kind+"/"+f.Object.Name] = f.Object.Namespace + " " + f.Message
		}
	}
	want := map[string]string{
		"ConfigMap/settings":  "prod-eu in prod-eu",
		"ConfigMap/pinned":    "team-a in team-a",
		"Widget/knob":         "prod-eu in prod-eu",
		"Gadget/unknown-kind": "prod-eu in prod-eu",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("namespaced findings (-want +got):\n%s", d)
	}
	for _, e := range r.Errors {
		t.Errorf("error: %s", e.Message)
	}
	if objs[0].Object.GetNamespace() != "" {
		t.Error("Check changed the caller's object")
	}

	r, err = Check(t.Context(), objs[:1], CheckOptions{Policy: engine})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 || r.Findings[0].Object != (report.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: "settings"}) {
		t.Errorf("without DefaultNamespace: findings %+v, want one on default/settings", r.Findings)
	}
}
