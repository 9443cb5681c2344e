package diff

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// managedFields entries as the API server writes them for a Deployment that Plumbline applied
// and people then edited.
const (
	plumblineFields = `{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{}}}}}}}`
	kubectlSetImage = `{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{"f:image":{}}}}}}}`
	kubectlEditEnv  = `{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{"f:env":{".":{},"k:{\"name\":\"DEBUG\"}":{".":{},"f:name":{},"f:value":{}}}}}}}}}`
	hpaReplicas     = `{"f:spec":{"f:replicas":{}}}`
)

var (
	appliedAt = time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC)
	setAt     = time.Date(2026, 11, 28, 22, 47, 27, 0, time.UTC)
	editedAt  = time.Date(2026, 11, 28, 23, 5, 0, 0, time.UTC)
)

func entry(manager string, op metav1.ManagedFieldsOperationType, at *time.Time, fields string) metav1.ManagedFieldsEntry {
	e := metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: "apps/v1", FieldsType: "FieldsV1"}
	if at != nil {
		e.Time = &metav1.Time{Time: *at}
	}
	if fields != "" {
		e.FieldsV1 = &metav1.FieldsV1{Raw: []byte(fields)}
	}
	return e
}

func withManagedFields(entries ...metav1.ManagedFieldsEntry) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apps/v1")
	u.SetKind("Deployment")
	u.SetName("nginx-deployment")
	u.SetManagedFields(entries)
	return u
}

// ownerView is an owner in comparable form.
type ownerView struct {
	Manager   string
	Operation metav1.ManagedFieldsOperationType
	Time      *time.Time
	Fields    []string
}

func viewOwners(all []owner) []ownerView {
	var out []ownerView
	for _, o := range all {
		out = append(out, ownerView{Manager: o.manager, Operation: o.operation, Time: o.time, Fields: pathStrings(o.fields)})
	}
	return out
}

func TestOwners(t *testing.T) {
	inCET := setAt.In(time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		live *unstructured.Unstructured
		want []ownerView
	}{
		{name: "no managedFields", live: withManagedFields(), want: nil},
		{
			name: "entries are decoded, times in UTC",
			live: withManagedFields(
				entry("plumbline", metav1.ManagedFieldsOperationApply, &appliedAt, plumblineFields),
				entry("kubectl-set", metav1.ManagedFieldsOperationUpdate, &inCET, kubectlSetImage),
			),
			want: []ownerView{
				{
					Manager: "plumbline", Operation: metav1.ManagedFieldsOperationApply, Time: &appliedAt,
					Fields: []string{
						".metadata.labels.app",
						".spec.replicas",
						`.spec.template.spec.containers[name="nginx"]`,
						`.spec.template.spec.containers[name="nginx"].image`,
						`.spec.template.spec.containers[name="nginx"].name`,
					},
				},
				{
					Manager: "kubectl-set", Operation: metav1.ManagedFieldsOperationUpdate, Time: &setAt,
					Fields: []string{`.spec.template.spec.containers[name="nginx"].image`},
				},
			},
		},
		{
			name: "entries without fields or with unparsable fields are skipped",
			live: withManagedFields(
				entry("broken", metav1.ManagedFieldsOperationUpdate, &editedAt, `{"f:spec":{"k:{\"name\":":{}}}`),
				entry("empty", metav1.ManagedFieldsOperationUpdate, &editedAt, ""),
				entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, nil, hpaReplicas),
			),
			want: []ownerView{
				{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, Fields: []string{".spec.replicas"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, viewOwners(owners(tt.live))); d != "" {
				t.Errorf("owners (-want +got):\n%s", d)
			}
		})
	}
}

func TestLastWriter(t *testing.T) {
	image := fieldpath.MakePathOrDie("spec", "template", "spec", "containers", fieldpath.KeyByFields("name", "nginx"), "image")
	env := fieldpath.MakePathOrDie("spec", "template", "spec", "containers", fieldpath.KeyByFields("name", "nginx"), "env", fieldpath.KeyByFields("name", "DEBUG"))
	replicas := fieldpath.MakePathOrDie("spec", "replicas")
	paused := fieldpath.MakePathOrDie("spec", "paused")
	later := editedAt.Add(time.Hour)
	tests := []struct {
		name     string
		entries  []metav1.ManagedFieldsEntry
		path     fieldpath.Path
		want     string
		wantTime *time.Time
	}{
		{
			name:    "the only owner",
			entries: []metav1.ManagedFieldsEntry{entry("plumbline", metav1.ManagedFieldsOperationApply, &appliedAt, plumblineFields)},
			path:    replicas, want: "plumbline", wantTime: &appliedAt,
		},
		{
			name: "the most recent of two owners",
			entries: []metav1.ManagedFieldsEntry{
				entry("plumbline", metav1.ManagedFieldsOperationApply, &appliedAt, plumblineFields),
				entry("kubectl-set", metav1.ManagedFieldsOperationUpdate, &setAt, kubectlSetImage),
			},
			path: image, want: "kubectl-set", wantTime: &setAt,
		},
		{
			name: "the most recent, listed first",
			entries: []metav1.ManagedFieldsEntry{
				entry("plumbline", metav1.ManagedFieldsOperationApply, &later, plumblineFields),
				entry("kubectl-set", metav1.ManagedFieldsOperationUpdate, &setAt, kubectlSetImage),
			},
			path: image, want: "plumbline", wantTime: &later,
		},
		{
			name: "an owner with a time beats one without",
			entries: []metav1.ManagedFieldsEntry{
				entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, nil, hpaReplicas),
				entry("plumbline", metav1.ManagedFieldsOperationApply, &appliedAt, plumblineFields),
			},
			path: replicas, want: "plumbline", wantTime: &appliedAt,
		},
		{
			name: "an owner without a time does not replace one with",
			entries: []metav1.ManagedFieldsEntry{
				entry("plumbline", metav1.ManagedFieldsOperationApply, &appliedAt, plumblineFields),
				entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, nil, hpaReplicas),
			},
			path: replicas, want: "plumbline", wantTime: &appliedAt,
		},
		{
			name: "equal times: the first listed",
			entries: []metav1.ManagedFieldsEntry{
				entry("plumbline", metav1.ManagedFieldsOperationApply, &setAt, plumblineFields),
				entry("kubectl-set", metav1.ManagedFieldsOperationUpdate, &setAt, kubectlSetImage),
			},
			path: image, want: "plumbline", wantTime: &setAt,
		},
		{
			name: "a list element owned through its '.' member",
			entries: []metav1.ManagedFieldsEntry{
				entry("plumbline", metav1.ManagedFieldsOperationApply, &appliedAt, plumblineFields),
				entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, &editedAt, kubectlEditEnv),
			},
			path: env, want: "kubectl-edit", wantTime: &editedAt,
		},
		{
			name: "an unparsable entry is skipped",
			entries: []metav1.ManagedFieldsEntry{
				entry("plumbline", metav1.ManagedFieldsOperationApply, &appliedAt, plumblineFields),
				entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, &editedAt, `{"f:spec":{"f:replicas":"x"}}`),
			},
			path: replicas, want: "plumbline", wantTime: &appliedAt,
		},
		{
			name:    "nobody owns a removed field",
			entries: []metav1.ManagedFieldsEntry{entry("plumbline", metav1.ManagedFieldsOperationApply, &appliedAt, plumblineFields)},
			path:    paused, want: "",
		},
		{name: "no managedFields", path: replicas, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := lastWriter(owners(withManagedFields(tt.entries...)), tt.path)
			var got string
			var gotTime *time.Time
			if w != nil {
				got, gotTime = w.manager, w.time
			}
			if got != tt.want {
				t.Errorf("lastWriter(%s) = %q, want %q", tt.path, got, tt.want)
			}
			if d := cmp.Diff(tt.wantTime, gotTime); d != "" {
				t.Errorf("lastWriter(%s) time (-want +got):\n%s", tt.path, d)
			}
		})
	}
}

func TestInteractive(t *testing.T) {
	defaults := DefaultOptions().InteractiveManagers
	tests := []struct {
		name     string
		patterns []string
		manager  string
		want     bool
	}{
		{name: "kubectl edit", patterns: defaults, manager: "kubectl-edit", want: true},
		{name: "kubectl set", patterns: defaults, manager: "kubectl-set", want: true},
		{name: "kubectl client-side apply", patterns: defaults, manager: "kubectl-client-side-apply", want: true},
		{name: "kubectl server-side apply", patterns: defaults, manager: "kubectl", want: true},
		{name: "k9s", patterns: defaults, manager: "k9s", want: true},
		{name: "k9s is matched exactly", patterns: defaults, manager: "k9s-plugin", want: false},
		// The API server names a manager that sets none after its user agent up to the first
		// '/': a browser's "Mozilla/5.0 (...)" becomes "Mozilla".
		{name: "a browser", patterns: defaults, manager: "Mozilla", want: true},
		// path.Match's '*' does not cross '/', so a manager that spells out the version is not
		// matched by Mozilla*.
		{name: "a manager named with a slash", patterns: defaults, manager: "Mozilla/5.0", want: false},
		{name: "a controller", patterns: defaults, manager: "kube-controller-manager", want: false},
		{name: "plumbline itself", patterns: defaults, manager: "plumbline", want: false},
		{name: "no manager", patterns: defaults, manager: "", want: false},
		{name: "no patterns turn the check off", patterns: nil, manager: "kubectl-edit", want: false},
		{name: "a malformed pattern matches nothing", patterns: []string{"kubectl-[", "helm"}, manager: "kubectl-edit", want: false},
		{name: "a custom pattern", patterns: []string{"kubectl-[ep]*"}, manager: "kubectl-patch", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := interactive(tt.patterns, tt.manager); got != tt.want {
				t.Errorf("interactive(%q, %q) = %v, want %v", tt.patterns, tt.manager, got, tt.want)
			}
		})
	}
}
