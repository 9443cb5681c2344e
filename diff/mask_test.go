package diff

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

func TestMask(t *testing.T) {
	at := time.Date(2026, 11, 28, 22, 47, 27, 0, time.UTC)
	tests := []struct {
		name string
		in   Field
		want Field
	}{
		{
			name: "changed value",
			in:   Field{Path: ".data.password", Desired: "czNjcjN0", Live: "aHVudGVyMg==", Manager: "kubectl-edit", Time: &at},
			want: Field{Path: ".data.password", Desired: "[masked]", Live: "[masked: differs from Git]", Manager: "kubectl-edit", Time: &at, Masked: true},
		},
		{
			name: "added in the cluster",
			in:   Field{Path: ".data.token", Live: "aHVudGVyMg==", Manager: "kubectl-edit"},
			want: Field{Path: ".data.token", Live: "[masked]", Manager: "kubectl-edit", Masked: true},
		},
		{
			name: "removed in the cluster",
			in:   Field{Path: ".data.token", Desired: "czNjcjN0"},
			want: Field{Path: ".data.token", Desired: "[masked]", Masked: true},
		},
		{
			name: "a whole map",
			in:   Field{Path: ".data", Desired: map[string]any{"a": "YQ=="}, Live: map[string]any{"a": "Yg=="}},
			want: Field{Path: ".data", Desired: "[masked]", Live: "[masked: differs from Git]", Masked: true},
		},
		{
			name: "neither side",
			in:   Field{Path: ".data.token"},
			want: Field{Path: ".data.token", Masked: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, mask(tt.in)); d != "" {
				t.Errorf("mask (-want +got):\n%s", d)
			}
		})
	}
}

func TestSecretValuePath(t *testing.T) {
	tests := []struct {
		path fieldpath.Path
		want bool
	}{
		{fieldpath.MakePathOrDie("data"), true},
		{fieldpath.MakePathOrDie("data", "password"), true},
		{fieldpath.MakePathOrDie("stringData", "password"), true},
		{fieldpath.MakePathOrDie("metadata", "labels", "data"), false},
		{fieldpath.MakePathOrDie("type"), false},
		{fieldpath.MakePathOrDie("dataset"), false},
		{fieldpath.Path{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.path.String(), func(t *testing.T) {
			if got := secretValue(tt.path.String()); got != tt.want {
				t.Errorf("secretValue(%s) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

func TestScrubSecretValues(t *testing.T) {
	secret := fromYAML(t, `
apiVersion: v1
kind: Secret
metadata: {name: db-credentials, namespace: prod}
data:
  password: czNjcjN0LVBhNTU=   # s3cr3t-Pa55
  cert: bm90IGJhc2U2NA       # not valid base64: only the encoded form is known
stringData:
  token: tok-9f8e7d6c          # base64: dG9rLTlmOGU3ZDZj
`)
	configMap := fromYAML(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: flags, namespace: prod}
data: {password: s3cr3t-Pa55}
`)
	sealed := fromYAML(t, `
apiVersion: vault.example.com/v1
kind: Secret
metadata: {name: db, namespace: prod}
stringData: {password: s3cr3t-Pa55}
`)
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		text string
		want string
	}{
		{
			name: "base64 data value",
			obj:  secret,
			text: `Secret "db-credentials" is invalid: data[password]: Invalid value: "czNjcjN0LVBhNTU="`,
			want: `Secret "db-credentials" is invalid: data[password]: Invalid value: "[masked]"`,
		},
		{
			name: "raw data value",
			obj:  secret,
			text: `admission webhook "policy.example.com" denied the request: password s3cr3t-Pa55 is too weak`,
			want: `admission webhook "policy.example.com" denied the request: password [masked] is too weak`,
		},
		{
			name: "data value that is not base64",
			obj:  secret,
			text: "cert bm90IGJhc2U2NA rejected",
			want: "cert [masked] rejected",
		},
		{
			name: "raw and base64 stringData value",
			obj:  secret,
			text: "token tok-9f8e7d6c, encoded dG9rLTlmOGU3ZDZj",
			want: "token [masked], encoded [masked]",
		},
		{
			name: "every occurrence",
			obj:  secret,
			text: "s3cr3t-Pa55 s3cr3t-Pa55",
			want: "[masked] [masked]",
		},
		{
			name: "text without values",
			obj:  secret,
			text: `Secret "db-credentials" is invalid: metadata.name: too long`,
			want: `Secret "db-credentials" is invalid: metadata.name: too long`,
		},
		{
			name: "another kind is untouched",
			obj:  configMap,
			text: "password s3cr3t-Pa55",
			want: "password s3cr3t-Pa55",
		},
		{
			name: "a Secret kind of another group is untouched",
			obj:  sealed,
			text: "password s3cr3t-Pa55",
			want: "password s3cr3t-Pa55",
		},
		{
			name: "no object",
			obj:  nil,
			text: "password s3cr3t-Pa55",
			want: "password s3cr3t-Pa55",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, ScrubSecretValues(tt.obj, tt.text)); d != "" {
				t.Errorf("ScrubSecretValues (-want +got):\n%s", d)
			}
		})
	}
}
