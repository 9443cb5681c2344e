package diff

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// invalid is the API server's answer to an object that fails validation on the given fields.
func invalid(fields ...string) error {
	var errs field.ErrorList
	for _, f := range fields {
		errs = append(errs, field.Invalid(field.NewPath(f), "x", "is wrong"))
	}
	return fmt.Errorf("as web-: %w", apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "web", errs))
}

func TestRefused(t *testing.T) {
	tests := []struct {
		name                  string
		err                   error
		wantRefused, wantName bool
	}{
		{name: "no error"},
		{name: "timeout", err: errors.New("context deadline exceeded")},
		{name: "forbidden", err: apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, "web", errors.New("no"))},
		{name: "invalid spec", err: invalid("spec.ports[1].name"), wantRefused: true},
		{name: "invalid name", err: invalid("metadata.name"), wantRefused: true, wantName: true},
		{name: "invalid generateName", err: invalid("metadata.generateName"), wantRefused: true, wantName: true},
		{name: "invalid name and spec", err: invalid("metadata.name", "spec.group"), wantRefused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := refused(tt.err); got != tt.wantRefused {
				t.Errorf("refused = %v, want %v", got, tt.wantRefused)
			}
			if got := refusedName(tt.err); got != tt.wantName {
				t.Errorf("refusedName = %v, want %v", got, tt.wantName)
			}
		})
	}
}

func TestKeyField(t *testing.T) {
	tests := []struct {
		name string
		path fieldpath.Path
		want bool
	}{
		{"a key field", portPath("protocol"), true},
		{"the other key field", portPath("port"), true},
		{"a field that is no key", portPath("targetPort"), false},
		{"the element itself", portPath(""), false},
		{"a field of a map", fieldpath.MakePathOrDie("spec", "selector"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keyField(tt.path); got != tt.want {
				t.Errorf("keyField(%s) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

// portPath is .spec.ports[port=80,protocol="TCP"], then leaf when it is not empty.
func portPath(leaf string) fieldpath.Path {
	p := fieldpath.MakePathOrDie("spec", "ports", fieldpath.KeyByFields("port", int64(80), "protocol", "TCP"))
	if leaf != "" {
		p = append(p, fieldpath.PathElement{FieldName: &leaf})
	}
	return p
}

func TestDeclaresNameOnly(t *testing.T) {
	tests := []struct {
		name string
		obj  map[string]any
		want bool
	}{
		{"name only", map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "web"}}, true},
		{"name and namespace", map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "web", "namespace": "a"}}, true},
		{"a label", map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "web", "labels": map[string]any{"a": "b"}}}, false},
		{"a field", map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "web"}, "automountServiceAccountToken": false}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := declaresNameOnly(&unstructured.Unstructured{Object: tt.obj}); got != tt.want {
				t.Errorf("declaresNameOnly = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSetValueAt(t *testing.T) {
	svc := func() map[string]any {
		return map[string]any{"spec": map[string]any{"ports": []any{map[string]any{"port": int64(80)}}}}
	}
	tests := []struct {
		name   string
		path   fieldpath.Path
		value  any
		want   map[string]any
		wantOK bool
	}{
		{
			name: "a field of a map", path: fieldpath.MakePathOrDie("spec", "type"), value: "NodePort", wantOK: true,
			want: map[string]any{"spec": map[string]any{"type": "NodePort", "ports": []any{map[string]any{"port": int64(80)}}}},
		},
		{
			name: "maps made on the way", path: fieldpath.MakePathOrDie("spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"), value: int64(60), wantOK: true,
			want: map[string]any{"spec": map[string]any{"ports": []any{map[string]any{"port": int64(80)}},
				"sessionAffinityConfig": map[string]any{"clientIP": map[string]any{"timeoutSeconds": int64(60)}}}},
		},
		{
			name: "a field of a keyed element that is there", path: append(portPath(""), fieldpath.PathElement{FieldName: strPtr("nodePort")}), value: int64(30080), wantOK: true,
			want: map[string]any{"spec": map[string]any{"ports": []any{map[string]any{"port": int64(80), "nodePort": int64(30080)}}}},
		},
		{
			name: "a keyed element itself", path: portPath(""), value: map[string]any{}, want: svc(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := svc()
			if got := setValueAt(obj, tt.path, tt.value); got != tt.wantOK {
				t.Errorf("setValueAt = %v, want %v", got, tt.wantOK)
			}
			if d := cmp.Diff(tt.want, obj); d != "" {
				t.Errorf("object (-want +got):\n%s", d)
			}
		})
	}
}

func strPtr(s string) *string { return &s }

func TestAppliedMetadata(t *testing.T) {
	c := &comparison{Differ: &Differ{opts: Options{AppliedMetadata: []string{"example.com/", "app.kubernetes.io/managed-by"}}}}
	tests := []struct {
		path fieldpath.Path
		want bool
	}{
		{fieldpath.MakePathOrDie("metadata", "labels", "example.com/source"), true},
		{fieldpath.MakePathOrDie("metadata", "annotations", "example.com/inventory"), true},
		{fieldpath.MakePathOrDie("metadata", "labels", "app.kubernetes.io/managed-by"), true},
		{fieldpath.MakePathOrDie("metadata", "labels", "app.kubernetes.io/name"), false},
		{fieldpath.MakePathOrDie("metadata", "labels", "kustomize.toolkit.fluxcd.io/name"), true},
		{fieldpath.MakePathOrDie("metadata", "annotations", "argocd.argoproj.io/tracking-id"), true},
		{fieldpath.MakePathOrDie("metadata", "labels", "team"), false},
		{fieldpath.MakePathOrDie("spec", "labels", "example.com/source"), false},
	}
	for _, tt := range tests {
		t.Run(tt.path.String(), func(t *testing.T) {
			if got := c.appliedMetadata(tt.path); got != tt.want {
				t.Errorf("appliedMetadata = %v, want %v", got, tt.want)
			}
		})
	}
}

// When the server refuses Git's object merged onto the live one, the local comparison decides,
// normalised by a dry-run create of Git's object alone, and each field says so.
func TestCompareMergedDryRunRefused(t *testing.T) {
	desired, live, server := scenario(t, "image-set-by-kubectl")
	server.applyErr = invalid("spec.template.spec.containers[0].ports[1].name")
	server.created = desired.DeepCopy()
	got := compareScenario(t, desired, live, server)
	note := fmt.Sprintf(noteUnconfirmed, `Deployment.apps "web" is invalid: spec.template.spec.containers[0].ports[1].name: Invalid value: "x": is wrong`)
	want := []Field{{
		Path: nginxContainer + ".image", Desired: "nginx:1.21.0", Live: "nginx:latest",
		Manager: "kubectl-set", Time: at("2026-11-28T22:47:27Z"), Note: note,
	}}
	if d := cmp.Diff(want, got.Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
}

// Git's object alone invalid as well: an error, not drift.
func TestCompareDesiredItselfInvalid(t *testing.T) {
	desired, live, server := scenario(t, "image-set-by-kubectl")
	server.applyErr = invalid("spec.replicas")
	server.createErr = invalid("spec.replicas")
	d, err := New(server, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Compare(t.Context(), desired, live); !apierrors.IsInvalid(err) {
		t.Errorf("Compare error = %v, want the server's invalid", err)
	}
}

// A create refused on the name alone leaves the defaults unknown: the creator's fields are taken
// for defaults, a later person's are reported with a note, and nothing is an error.
func TestCompareCreateRefusedOnName(t *testing.T) {
	desired, live, server := scenario(t, "env-added-by-kubectl-edit")
	server.createErr = invalid("metadata.generateName")
	got := compareScenario(t, desired, live, server)
	if len(got.Fields) != 1 || got.Fields[0].Path != nginxContainer+`.env[name="DEBUG"]` {
		t.Fatalf("fields = %+v, want the env var kubectl-edit added", got.Fields)
	}
	if want := fmt.Sprintf(noteNoDefaults, `Deployment.apps "web" is invalid: metadata.generateName: Invalid value: "x": is wrong`); got.Fields[0].Note != want {
		t.Errorf("note = %q, want %q", got.Fields[0].Note, want)
	}
}

// An applier applied minReadySeconds from an earlier commit; Git dropped it, and a dry-run apply
// as that applier removes it: drift, attributed to it. A field it shares with another manager,
// or that applying Git keeps, is not.
func TestCompareFieldGitDropped(t *testing.T) {
	tests := []struct {
		name      string
		manager   string
		fields    string                             // the applier's managedFields
		applied   func(u *unstructured.Unstructured) // the dry-run apply's answer, from desired
		want      []Field
		wantApply []string
	}{
		{
			name: "dropped from Plumbline's apply", manager: "plumbline",
			fields:    `{"f:spec":{"f:minReadySeconds":{},"f:replicas":{}}}`,
			want:      []Field{{Path: ".spec.minReadySeconds", Live: int64(10), Manager: "plumbline", Note: fmt.Sprintf(noteDropped, "plumbline")}},
			wantApply: []string{"plumbline"},
		},
		{
			name: "dropped from Flux's apply", manager: "kustomize-controller",
			fields:    `{"f:metadata":{"f:labels":{"f:kustomize.toolkit.fluxcd.io/name":{}}},"f:spec":{"f:minReadySeconds":{},"f:replicas":{}}}`,
			want:      []Field{{Path: ".spec.minReadySeconds", Live: int64(10), Manager: "kustomize-controller", Note: fmt.Sprintf(noteDropped, "kustomize-controller")}},
			wantApply: []string{"kustomize-controller"},
		},
		{
			name: "applying Git keeps it", manager: "plumbline",
			fields:    `{"f:spec":{"f:minReadySeconds":{},"f:replicas":{}}}`,
			applied:   func(u *unstructured.Unstructured) { u.Object["spec"].(map[string]any)["minReadySeconds"] = int64(10) },
			wantApply: []string{"plumbline"},
		},
		{
			name: "a manager that does not apply Git's objects", manager: "cert-manager",
			fields: `{"f:spec":{"f:minReadySeconds":{},"f:replicas":{}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desired, live, server := scenario(t, "in-sync")
			mf := live.GetManagedFields()
			for i := range mf {
				if mf[i].Manager == "plumbline" {
					mf[i].Manager = tt.manager
					mf[i].FieldsV1.Raw = []byte(tt.fields)
				}
			}
			live.SetManagedFields(mf)
			live.Object["spec"].(map[string]any)["minReadySeconds"] = int64(10)
			live.SetLabels(map[string]string{"app": "nginx", "kustomize.toolkit.fluxcd.io/name": "apps"})
			server.applied = desired.DeepCopy()
			if tt.applied != nil {
				tt.applied(server.applied)
			}
			got := compareScenario(t, desired, live, server)
			if d := cmp.Diff(tt.want, got.Fields, cmpopts.IgnoreFields(Field{}, "Time")); d != "" {
				t.Errorf("fields (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantApply, server.applyManagers); d != "" {
				t.Errorf("dry-run applies as (-want +got):\n%s", d)
			}
		})
	}
}

func TestLeftToOthers(t *testing.T) {
	tests := []struct {
		path fieldpath.Path
		want bool
	}{
		{fieldpath.MakePathOrDie("spec", "replicas"), true},
		{fieldpath.MakePathOrDie("spec", "template", "spec", "replicas"), false},
		{fieldpath.MakePathOrDie("spec", "strategy", "type"), false},
	}
	for _, tt := range tests {
		t.Run(tt.path.String(), func(t *testing.T) {
			if got := leftToOthers(tt.path); got != tt.want {
				t.Errorf("leftToOthers = %v, want %v", got, tt.want)
			}
		})
	}
}

// countingSchemas is a SchemaSource that knows no group-version and counts the questions.
type countingSchemas struct{ asked []schema.GroupVersion }

func (c *countingSchemas) TypeConverter(_ context.Context, gv schema.GroupVersion) (managedfields.TypeConverter, error) {
	c.asked = append(c.asked, gv)
	return nil, errors.New("fake: no schema")
}

// Built-in kinds never cost a schema request, not even when they do not match their schema; a
// custom resource whose schema cannot be had is read with a deduced one, and compared by value.
func TestSchemaSourceAskedForCustomKindsOnly(t *testing.T) {
	schemas := &countingSchemas{}
	d, err := New(&fakeServer{}, DefaultOptions(), WithSchemas(schemas))
	if err != nil {
		t.Fatal(err)
	}
	bad := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web"}, "spec": map[string]any{"replicas": "three"}}}
	if _, err := d.toTyped(t.Context(), bad); err == nil {
		t.Error("a Deployment with replicas \"three\" converted")
	}
	cr := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "source.example.com/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": "x", "namespace": "n"}, "spec": map[string]any{"interval": "1m0s"}}}
	live := cr.DeepCopy()
	live.Object["spec"].(map[string]any)["interval"] = "5m0s"
	live.SetUID("u-1")
	server := &fakeServer{applied: cr.DeepCopy()}
	d.server = server
	got, err := d.Compare(t.Context(), cr, live)
	if err != nil {
		t.Fatal(err)
	}
	want := []Field{{Path: ".spec.interval", Desired: "1m0s", Live: "5m0s"}}
	if diff := cmp.Diff(want, got.Fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	// Asked for desired and live; caching the answer is the SchemaSource's business.
	gv := schema.GroupVersion{Group: "source.example.com", Version: "v1"}
	if diff := cmp.Diff([]schema.GroupVersion{gv, gv}, schemas.asked); diff != "" {
		t.Errorf("schema requests (-want +got):\n%s", diff)
	}
}

// The server's refusal may quote a Secret's value; the note that carries it is scrubbed.
func TestCompareSecretRefusalIsScrubbed(t *testing.T) {
	desired, live, server := scenario(t, "secret-edited-by-kubectl")
	server.applyErr = apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "db-credentials", field.ErrorList{
		field.Invalid(field.NewPath("data", "password"), "hunter2", "is not s3cr3t-Pa55"),
	})
	server.created = server.applied
	got := compareScenario(t, desired, live, server)
	if len(got.Fields) == 0 {
		t.Fatal("no fields")
	}
	for _, f := range got.Fields {
		for _, secret := range []string{"hunter2", "s3cr3t-Pa55"} {
			if strings.Contains(f.Note, secret) {
				t.Errorf("field %s: note %q shows a secret value", f.Path, f.Note)
			}
		}
		if !strings.Contains(f.Note, "not confirmed") && f.Path == ".data.password" {
			t.Errorf("field %s: note %q", f.Path, f.Note)
		}
	}
}
