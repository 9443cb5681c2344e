package reconciler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestRenameForCreate(t *testing.T) {
	tests := []struct {
		name                  string
		obj                   map[string]any
		wantName, wantGenName string
		wantGroup             string
		wantErr               bool
	}{
		{
			name:        "a Deployment gets a generated name",
			obj:         map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"}},
			wantGenName: "web-",
		},
		{
			name:        "a long name is cut to leave room for the suffix",
			obj:         map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "a-very-long-config-map-name-that-goes-on-and-on"}},
			wantGenName: "a-very-long-config-map-name-that-goes-on-",
		},
		{
			name:        "no dot before the suffix",
			obj:         map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "app.config"}},
			wantGenName: "app.config-",
		},
		{
			name: "a CRD moves to another group, named <plural>.<group>",
			obj: map[string]any{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
				"metadata": map[string]any{"name": "gitrepositories.source.toolkit.fluxcd.io"},
				"spec":     map[string]any{"group": "source.toolkit.fluxcd.io", "names": map[string]any{"plural": "gitrepositories"}}},
			wantName:  "gitrepositories.plumbline-dry-run.source.toolkit.fluxcd.io",
			wantGroup: "plumbline-dry-run.source.toolkit.fluxcd.io",
		},
		{
			name: "a CRD without a group is an error",
			obj: map[string]any{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
				"metadata": map[string]any{"name": "x"}, "spec": map[string]any{}},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: tt.obj}
			err := renameForCreate(u)
			if (err != nil) != tt.wantErr {
				t.Fatalf("renameForCreate error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
			got := [3]string{u.GetName(), u.GetGenerateName(), group}
			if d := cmp.Diff([3]string{tt.wantName, tt.wantGenName, tt.wantGroup}, got); d != "" {
				t.Errorf("name, generateName, group (-want +got):\n%s", d)
			}
		})
	}
}

func TestDryRunKey(t *testing.T) {
	desired := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "web"}}}
	live := func(edit func(u *unstructured.Unstructured)) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": "web", "uid": "u-1", "resourceVersion": "10"},
			"spec":     map[string]any{"type": "ClusterIP"}, "status": map[string]any{}}}
		u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "plumbline", Operation: metav1.ManagedFieldsOperationApply,
			FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{}}`)}}})
		if edit != nil {
			edit(u)
		}
		return u
	}
	base, ok := dryRunKey("apply plumbline", desired, live(nil))
	if !ok {
		t.Fatal("no key for a live object with a UID")
	}
	tests := []struct {
		name     string
		verb     string
		edit     func(u *unstructured.Unstructured)
		desired  func(u *unstructured.Unstructured)
		wantSame bool
	}{
		{name: "the same objects", verb: "apply plumbline", wantSame: true},
		{name: "status and resourceVersion written by a controller", verb: "apply plumbline", wantSame: true, edit: func(u *unstructured.Unstructured) {
			u.Object["status"] = map[string]any{"loadBalancer": map[string]any{}}
			u.SetResourceVersion("11")
			mf := u.GetManagedFields()
			u.SetManagedFields(append(mf, metav1.ManagedFieldsEntry{Manager: "kube-controller-manager", Subresource: "status"}))
		}},
		{name: "another verb", verb: "apply kustomize-controller"},
		{name: "a spec change", verb: "apply plumbline", edit: func(u *unstructured.Unstructured) { u.Object["spec"] = map[string]any{"type": "NodePort"} }},
		{name: "a label", verb: "apply plumbline", edit: func(u *unstructured.Unstructured) { u.SetLabels(map[string]string{"a": "b"}) }},
		{name: "another owner", verb: "apply plumbline", edit: func(u *unstructured.Unstructured) {
			u.SetManagedFields(append(u.GetManagedFields(), metav1.ManagedFieldsEntry{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate}))
		}},
		{name: "another object with the same content", verb: "apply plumbline", edit: func(u *unstructured.Unstructured) { u.SetUID("u-2") }},
		{name: "another desired object", verb: "apply plumbline", desired: func(u *unstructured.Unstructured) { u.SetLabels(map[string]string{"a": "b"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := desired.DeepCopy()
			if tt.desired != nil {
				tt.desired(d)
			}
			key, ok := dryRunKey(tt.verb, d, live(tt.edit))
			if !ok {
				t.Fatal("no key")
			}
			if (key == base) != tt.wantSame {
				t.Errorf("same key = %v, want %v", key == base, tt.wantSame)
			}
		})
	}
	if _, ok := dryRunKey("create", desired, &unstructured.Unstructured{Object: map[string]any{}}); ok {
		t.Error("a live object without a UID got a key")
	}
	// A create's answer depends on the desired object only: a person's label on the live object
	// does not make it asked again.
	before, _ := dryRunKey("create", desired, live(nil))
	after, _ := dryRunKey("create", desired, live(func(u *unstructured.Unstructured) { u.SetLabels(map[string]string{"a": "b"}) }))
	if before != after {
		t.Error("a live label changed the key of a dry-run create")
	}
}
