package report

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func deployment(ns, name string) ObjectRef {
	return ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: name}
}

func TestFinalizeOrder(t *testing.T) {
	web := deployment("prod", "web")
	tests := []struct {
		name string
		in   []Finding
		want []Finding
	}{
		{
			name: "by namespace, cluster-scoped first",
			in: []Finding{
				{Type: Modified, Object: deployment("prod", "a")},
				{Type: Modified, Object: deployment("dev", "z")},
				{Type: Extra, Object: ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: "zz"}},
			},
			want: []Finding{
				{Type: Extra, Object: ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: "zz"}},
				{Type: Modified, Object: deployment("dev", "z")},
				{Type: Modified, Object: deployment("prod", "a")},
			},
		},
		{
			name: "then kind, then name, then apiVersion",
			in: []Finding{
				{Type: Modified, Object: ObjectRef{APIVersion: "v1", Kind: "Service", Namespace: "prod", Name: "a"}},
				{Type: Modified, Object: ObjectRef{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler", Namespace: "prod", Name: "web"}},
				{Type: Modified, Object: ObjectRef{APIVersion: "autoscaling/v1", Kind: "HorizontalPodAutoscaler", Namespace: "prod", Name: "web"}},
				{Type: Modified, Object: deployment("prod", "web")},
				{Type: Modified, Object: deployment("prod", "api")},
			},
			want: []Finding{
				{Type: Modified, Object: deployment("prod", "api")},
				{Type: Modified, Object: deployment("prod", "web")},
				{Type: Modified, Object: ObjectRef{APIVersion: "autoscaling/v1", Kind: "HorizontalPodAutoscaler", Namespace: "prod", Name: "web"}},
				{Type: Modified, Object: ObjectRef{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler", Namespace: "prod", Name: "web"}},
				{Type: Modified, Object: ObjectRef{APIVersion: "v1", Kind: "Service", Namespace: "prod", Name: "a"}},
			},
		},
		{
			name: "within an object by type: what changed, then what it breaks",
			in: []Finding{
				{Type: PolicyViolation, Object: web},
				{Type: ImageUnpinned, Object: web},
				{Type: RunningImageMismatch, Object: web},
				{Type: ImageTagMutated, Object: web},
				{Type: Modified, Object: web},
				{Type: Extra, Object: web},
				{Type: Missing, Object: web},
			},
			want: []Finding{
				{Type: Missing, Object: web},
				{Type: Extra, Object: web},
				{Type: Modified, Object: web},
				{Type: ImageTagMutated, Object: web},
				{Type: RunningImageMismatch, Object: web},
				{Type: ImageUnpinned, Object: web},
				{Type: PolicyViolation, Object: web},
			},
		},
		{
			name: "an unknown type goes last",
			in: []Finding{
				{Type: "SomethingNew", Object: web},
				{Type: PolicyViolation, Object: web},
			},
			want: []Finding{
				{Type: PolicyViolation, Object: web},
				{Type: "SomethingNew", Object: web},
			},
		},
		{
			name: "then container, then message",
			in: []Finding{
				{Type: PolicyViolation, Object: web, Container: "sidecar", Message: "a"},
				{Type: PolicyViolation, Object: web, Container: "app", Message: "b"},
				{Type: PolicyViolation, Object: web, Container: "app", Message: "a"},
				{Type: PolicyViolation, Object: web, Message: "z"},
			},
			want: []Finding{
				{Type: PolicyViolation, Object: web, Message: "z"},
				{Type: PolicyViolation, Object: web, Container: "app", Message: "a"},
				{Type: PolicyViolation, Object: web, Container: "app", Message: "b"},
				{Type: PolicyViolation, Object: web, Container: "sidecar", Message: "a"},
			},
		},
		{
			name: "equal findings keep their order",
			in: []Finding{
				{Type: Modified, Object: web, Message: "same", Source: "first.yaml"},
				{Type: Modified, Object: web, Message: "same", Source: "second.yaml"},
			},
			want: []Finding{
				{Type: Modified, Object: web, Message: "same", Source: "first.yaml"},
				{Type: Modified, Object: web, Message: "same", Source: "second.yaml"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Findings: tt.in}
			r.Finalize(len(tt.in))
			if d := cmp.Diff(tt.want, r.Findings); d != "" {
				t.Errorf("Finalize findings (-want +got):\n%s", d)
			}
		})
	}
}

func TestFinalizeErrorOrder(t *testing.T) {
	api, web := deployment("prod", "api"), deployment("prod", "web")
	r := &Report{Errors: []Error{
		{Object: &web, Message: "dry-run apply: b"},
		{Object: &web, Image: "nginx:1.27", Message: "registry unreachable"},
		{Object: &api, Message: "dry-run apply: a"},
		{Image: "redis:7", Message: "unauthorized"},
		{Image: "alpine:3", Message: "unauthorized"},
	}}
	r.Finalize(2)
	want := []Error{
		{Image: "alpine:3", Message: "unauthorized"},
		{Image: "redis:7", Message: "unauthorized"},
		{Object: &api, Message: "dry-run apply: a"},
		{Object: &web, Message: "dry-run apply: b"},
		{Object: &web, Image: "nginx:1.27", Message: "registry unreachable"},
	}
	if d := cmp.Diff(want, r.Errors); d != "" {
		t.Errorf("Finalize errors (-want +got):\n%s", d)
	}
}

func TestFinalizeSummary(t *testing.T) {
	web, api := deployment("prod", "web"), deployment("prod", "api")
	tests := []struct {
		name    string
		in      Report
		objects int
		want    Summary
	}{
		{
			name:    "empty report",
			objects: 4,
			want:    Summary{Objects: 4, Findings: 0, ByType: map[FindingType]int{}},
		},
		{
			name: "counts per type and errors",
			in: Report{
				Findings: []Finding{
					{Type: Modified, Object: web},
					{Type: PolicyViolation, Object: web, Rule: "a"},
					{Type: PolicyViolation, Object: api, Rule: "b"},
					{Type: Missing, Object: api},
					{Type: ImageTagMutated, Object: web},
				},
				Errors: []Error{{Message: "x"}},
			},
			objects: 7,
			want: Summary{
				Objects: 7, Findings: 5, Errors: 1,
				ByType: map[FindingType]int{Modified: 1, PolicyViolation: 2, Missing: 1, ImageTagMutated: 1},
			},
		},
		{
			name: "a stale summary is recomputed",
			in: Report{
				Summary:  Summary{Objects: 99, Findings: 99, Errors: 99, ByType: map[FindingType]int{Extra: 99}},
				Findings: []Finding{{Type: Extra, Object: web}},
			},
			objects: 1,
			want:    Summary{Objects: 1, Findings: 1, ByType: map[FindingType]int{Extra: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.in
			r.Finalize(tt.objects)
			if d := cmp.Diff(tt.want, r.Summary); d != "" {
				t.Errorf("Finalize summary (-want +got):\n%s", d)
			}
		})
	}
}

// A report without findings must print "findings": [] so that consumers can iterate without a
// null check, and a zero-valued summary still prints byType as an object.
func TestFinalizeNilFindingsPrintAsEmptyList(t *testing.T) {
	r := &Report{APIVersion: APIVersion, Kind: Kind}
	r.Finalize(0)
	if r.Findings == nil {
		t.Fatal("Finalize left Findings nil")
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"apiVersion": APIVersion,
		"kind":       Kind,
		"source":     map[string]any{"repo": "", "ref": "", "revision": "", "path": ""},
		"summary":    map[string]any{"objects": float64(0), "findings": float64(0), "byType": map[string]any{}},
		"findings":   []any{},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("JSON of an empty report (-want +got):\n%s", d)
	}
}

func TestNew(t *testing.T) {
	src := Source{Repo: "https://github.com/acme/deploy.git", Ref: "main", Revision: "4f2c9e1", Path: "apps"}
	got := New(src)
	want := &Report{APIVersion: "plumbline.dev/v1alpha1", Kind: "DriftReport", Source: src, Findings: []Finding{}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("New (-want +got):\n%s", d)
	}
	if got.HasFindings() || got.HasErrors() {
		t.Errorf("New report: HasFindings() = %v, HasErrors() = %v, want false, false", got.HasFindings(), got.HasErrors())
	}
}
