package manifests

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestKustomizeErrorsNeverQuoteSecretValues makes kustomize fail in the ways whose messages
// quote a Secret's value, and checks that the error names the file but holds no form of the
// value.
func TestKustomizeErrorsNeverQuoteSecretValues(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		secrets []string
		want    string
	}{
		{
			name:    "secretGenerator literal without =",
			files:   map[string]string{"app/kustomization.yaml": "secretGenerator:\n- name: s\n  literals:\n  - hunter2-SECRET-literal\n"},
			secrets: []string{"hunter2-SECRET-literal"},
			want:    "app/kustomization.yaml: kustomize build: loading KV pairs: literal sources [[masked]]: invalid literal source [masked], expected key=value",
		},
		{
			name: "env file line that is not UTF-8",
			files: map[string]string{
				"app/kustomization.yaml": "secretGenerator:\n- name: s\n  envs: [db.env]\n",
				"app/db.env":             "USER=app\nTOKEN=\xff\xfeSECRET-env-value\n",
			},
			secrets: []string{"SECRET-env-value", fmt.Sprint([]byte("TOKEN=\xff\xfeSECRET-env-value")), "84 79 75 69 78"},
			want:    "app/kustomization.yaml: kustomize build: loading KV pairs: env source files: [db.env]: line [[masked]] has invalid utf8 bytes",
		},
		{
			name: "replacement index out of range on a Secret's data",
			files: map[string]string{
				"app/kustomization.yaml": "resources: [s.yaml, cm.yaml]\nreplacements:\n- source: {kind: Secret, name: s, fieldPath: data.pw, options: {delimiter: '-', index: 5}}\n  targets:\n  - select: {kind: ConfigMap}\n    fieldPaths: [data.x]\n",
				"app/s.yaml":             "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {pw: U0VDUkVULWRhdGEtdmFsdWU=}\n",
				"app/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {x: a-b}\n",
			},
			secrets: []string{"U0VDUkVULWRhdGEtdmFsdWU=", "SECRET-data-value"},
			want:    "app/kustomization.yaml: kustomize build: options.index 5 is out of bounds for value [masked]",
		},
		{
			name: "replacement index out of range on a Secret's stringData",
			files: map[string]string{
				"app/kustomization.yaml": "resources: [s.yaml, cm.yaml]\nreplacements:\n- source: {kind: Secret, name: s, fieldPath: stringData.pw, options: {delimiter: '-', index: 7}}\n  targets:\n  - select: {kind: ConfigMap}\n    fieldPaths: [data.x]\n",
				"app/s.yaml":             "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {pw: SECRET-string-value}\n",
				"app/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {x: a-b}\n",
			},
			secrets: []string{"SECRET-string-value"},
			want:    "app/kustomization.yaml: kustomize build: options.index 7 is out of bounds for value [masked]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.files)
			_, err := Render(context.Background(), root, "app", DefaultOptions())
			wantError(t, err, nil, tt.want)
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q quotes the secret %q", err, s)
				}
			}
		})
	}
}
