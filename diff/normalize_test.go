package diff

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/yaml"
)

func TestEquivalent(t *testing.T) {
	nginx := []any{"spec", "template", "spec", "containers", fieldpath.KeyByFields("name", "nginx")}
	resourcePath := func(list, name string) fieldpath.Path {
		return fieldpath.MakePathOrDie(append(append([]any{}, nginx...), "resources", list, name)...)
	}
	limitsCPU := resourcePath("limits", "cpu")
	requestsMemory := resourcePath("requests", "memory")
	targetPort := fieldpath.MakePathOrDie("spec", "ports", fieldpath.KeyByFields("port", 80, "protocol", "TCP"), "targetPort")
	annotation := fieldpath.MakePathOrDie("metadata", "annotations", "example.com/version")

	tests := []struct {
		name string
		path fieldpath.Path
		a, b any
		want bool
	}{
		{name: "equal strings", path: annotation, a: "1.0", b: "1.0", want: true},
		{name: "equal objects", path: fieldpath.MakePathOrDie(nginx...), a: map[string]any{"name": "nginx", "ports": []any{int64(80)}}, b: map[string]any{"name": "nginx", "ports": []any{int64(80)}}, want: true},
		{name: "both null", path: annotation, a: nil, b: nil, want: true},
		{name: "null and a value", path: annotation, a: nil, b: "1", want: false},
		{name: "int64 and float64 of one value", path: fieldpath.MakePathOrDie("spec", "replicas"), a: int64(3), b: float64(3), want: true},
		{name: "int and int64", path: fieldpath.MakePathOrDie("spec", "replicas"), a: 3, b: int64(3), want: true},
		{name: "different numbers", path: fieldpath.MakePathOrDie("spec", "replicas"), a: int64(3), b: float64(3.5), want: false},
		{name: "millicores and cores", path: limitsCPU, a: "1000m", b: "1", want: true},
		{name: "binary units", path: requestsMemory, a: "1Gi", b: "1024Mi", want: true},
		{name: "a number and a quantity string", path: limitsCPU, a: int64(2), b: "2", want: true},
		{name: "a fraction and millicores", path: resourcePath("requests", "cpu"), a: 0.5, b: "500m", want: true},
		{name: "1 and 1.0 as quantities", path: limitsCPU, a: "1", b: "1.0", want: true},
		{name: "ResourceQuota hard", path: fieldpath.MakePathOrDie("spec", "hard", "requests.cpu"), a: "2000m", b: "2", want: true},
		{name: "LimitRange default", path: fieldpath.MakePathOrDie("spec", "limits", fieldpath.KeyByFields("type", "Container"), "default", "memory"), a: "512Mi", b: "0.5Gi", want: true},
		{name: "different quantities", path: limitsCPU, a: "500m", b: "1", want: false},
		{name: "decimal and binary units differ", path: requestsMemory, a: "1G", b: "1Gi", want: false},
		{name: "not quantities", path: limitsCPU, a: "one", b: "1", want: false},
		{name: "int-or-string port stays a string", path: targetPort, a: "8080", b: int64(8080), want: false},
		{name: "1 and 1.0 outside a resource list", path: annotation, a: "1", b: "1.0", want: false},
		{name: "quantities outside a resource list", path: fieldpath.MakePathOrDie("spec", "cpu"), a: "1000m", b: "1", want: false},
		{name: "a string and a boolean", path: annotation, a: "true", b: true, want: false},
		{name: "a short path", path: fieldpath.MakePathOrDie("cpu"), a: "1000m", b: "1", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := equivalent(tt.path, tt.a, tt.b); got != tt.want {
				t.Errorf("equivalent(%s, %#v, %#v) = %v, want %v", tt.path, tt.a, tt.b, got, tt.want)
			}
			if got := equivalent(tt.path, tt.b, tt.a); got != tt.want {
				t.Errorf("equivalent(%s, %#v, %#v) = %v, want %v (swapped)", tt.path, tt.b, tt.a, got, tt.want)
			}
		})
	}
}

// The API server keeps quantities to the nano unit: 0.0005 cores is stored as "500u", which is
// not "1m". equivalent must not call them equal, or a person's change from 500u to 1m goes
// unreported.
func TestEquivalentKeepsSubMilliQuantities(t *testing.T) {
	if q := resource.MustParse("0.0005"); q.Cmp(resource.MustParse("1m")) == 0 {
		t.Fatalf("precondition: the API server's quantity %s equals 1m", q.String())
	}
	p := fieldpath.MakePathOrDie("spec", "template", "spec", "containers", fieldpath.KeyByFields("name", "nginx"), "resources", "limits", "cpu")
	if equivalent(p, 0.0005, "1m") {
		t.Error(`equivalent(limits.cpu, 0.0005, "1m") = true, want false`)
	}
}

func TestPrepare(t *testing.T) {
	tests := []struct {
		name string
		in   string // YAML
		want string // YAML
	}{
		{
			name: "status, server-set metadata and tool annotations go",
			in: `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
  labels: {app: web}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"apiVersion":"apps/v1"}'
    kubectl.kubernetes.io/restartedAt: "2026-11-28T22:00:00Z"
    deployment.kubernetes.io/revision: "4"
    team.example.com/owner: payments
  uid: 6f1d5f0e-3b5c-4a4e-9d43-3f0c2a8b1e11
  resourceVersion: "48213"
  generation: 4
  creationTimestamp: "2026-11-01T10:00:00Z"
  selfLink: /apis/apps/v1/namespaces/prod/deployments/web
  deletionTimestamp: "2026-11-29T10:00:00Z"
  deletionGracePeriodSeconds: 30
  finalizers: [example.com/protect]
  ownerReferences:
  - {apiVersion: example.com/v1, kind: App, name: web, uid: 0b7c}
  managedFields:
  - manager: plumbline
    operation: Apply
    apiVersion: apps/v1
    fieldsType: FieldsV1
    fieldsV1: {"f:spec": {"f:replicas": {}}}
spec:
  replicas: 3
status:
  replicas: 3
  readyReplicas: 3
`,
			want: `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
  labels: {app: web}
  annotations:
    team.example.com/owner: payments
  finalizers: [example.com/protect]
  ownerReferences:
  - {apiVersion: example.com/v1, kind: App, name: web, uid: 0b7c}
spec:
  replicas: 3
`,
		},
		{
			name: "annotations left empty go",
			in: `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    deployment.kubernetes.io/revision: "4"
    kubectl.kubernetes.io/last-applied-configuration: "{}"
spec: {replicas: 3}
`,
			want: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 3}
`,
		},
		{
			name: "empty annotations go",
			in:   `{apiVersion: v1, kind: ConfigMap, metadata: {name: flags, annotations: {}}, data: {a: "1"}}`,
			want: `{apiVersion: v1, kind: ConfigMap, metadata: {name: flags}, data: {a: "1"}}`,
		},
		{
			name: "no metadata",
			in:   `{apiVersion: v1, kind: ConfigMap, data: {a: "1"}, status: {x: 1}}`,
			want: `{apiVersion: v1, kind: ConfigMap, data: {a: "1"}}`,
		},
		{
			name: "Secret stringData is folded into data and overrides it",
			in: `
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: prod}
type: Opaque
data:
  username: YWRtaW4=      # admin
  password: b2xkLXBhc3M=  # old-pass
stringData:
  password: s3cr3t-Pa55
  host: db.prod.svc
`,
			want: `
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: prod}
type: Opaque
data:
  username: YWRtaW4=
  password: czNjcjN0LVBhNTU=
  host: ZGIucHJvZC5zdmM=
`,
		},
		{
			name: "Secret with stringData only",
			in:   `{apiVersion: v1, kind: Secret, metadata: {name: db}, stringData: {token: abc}}`,
			want: `{apiVersion: v1, kind: Secret, metadata: {name: db}, data: {token: YWJj}}`,
		},
		{
			name: "Secret with data only",
			in:   `{apiVersion: v1, kind: Secret, metadata: {name: db}, data: {token: YWJj}}`,
			want: `{apiVersion: v1, kind: Secret, metadata: {name: db}, data: {token: YWJj}}`,
		},
		{
			name: "a Secret kind of another group is not a Secret",
			in:   `{apiVersion: vault.example.com/v1, kind: Secret, metadata: {name: db}, stringData: {token: abc}}`,
			want: `{apiVersion: vault.example.com/v1, kind: Secret, metadata: {name: db}, stringData: {token: abc}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, want := fromYAML(t, tt.in), fromYAML(t, tt.want)
			before := in.DeepCopy()
			got := prepare(in)
			if d := cmp.Diff(want.Object, got.Object); d != "" {
				t.Errorf("prepare (-want +got):\n%s", d)
			}
			if d := cmp.Diff(before.Object, in.Object); d != "" {
				t.Errorf("prepare modified its input (-before +after):\n%s", d)
			}
		})
	}
}

func TestUserField(t *testing.T) {
	tests := []struct {
		path fieldpath.Path
		want bool
	}{
		{fieldpath.MakePathOrDie("spec", "replicas"), true},
		{fieldpath.MakePathOrDie("data", "token"), true},
		{fieldpath.MakePathOrDie("metadata", "labels", "team"), true},
		{fieldpath.MakePathOrDie("metadata", "annotations", "example.com/note"), true},
		{fieldpath.MakePathOrDie("metadata", "finalizers", 0), true},
		{fieldpath.MakePathOrDie("metadata", "labels"), false},
		{fieldpath.MakePathOrDie("metadata", "ownerReferences"), false},
		{fieldpath.MakePathOrDie("metadata"), false},
		{fieldpath.MakePathOrDie("status", "replicas"), false},
		{fieldpath.MakePathOrDie("apiVersion"), false},
		{fieldpath.MakePathOrDie("kind"), false},
		{fieldpath.MakePathOrDie(0), false},
		{fieldpath.Path{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.path.String(), func(t *testing.T) {
			if got := userField(tt.path); got != tt.want {
				t.Errorf("userField(%s) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

func fromYAML(t testing.TB, s string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(s))
	if err != nil {
		t.Fatalf("decode YAML: %v\n%s", err, s)
	}
	// Decoded as the API machinery decodes: whole numbers as int64.
	u := &unstructured.Unstructured{Object: map[string]any{}}
	if err := utiljson.Unmarshal(j, &u.Object); err != nil {
		t.Fatalf("decode JSON: %v\n%s", err, j)
	}
	return u
}
