package diff

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestScrubSecretValuesMasksParts shows that a message quoting only part of a Secret value
// (as a CEL messageExpression with substring() can) has that part masked, raw or base64.
func TestScrubSecretValuesMasksParts(t *testing.T) {
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "db"},
		"data":       map[string]any{"password": "Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5"}, // correct-horse-battery
		"stringData": map[string]any{"token": "tok_9f8e7d6c5b4a"},
	}}
	tests := []struct{ name, in, want string }{
		{"prefix of the decoded value", "password starts with 'correct-ho', want a vault reference", "password starts with '[masked]', want a vault reference"},
		{"middle of a stringData value", "token 9f8e7d6c is not rotated", "token [masked] is not rotated"},
		{"part of the base64 form", "data is Y29ycmVjdC1o...", "data is [masked]..."},
		{"at the start", "correct-horse is weak", "[masked] is weak"},
		{"three parts", "correct and horse-battery and tok_9f8e", "[masked] and [masked] and [masked]"},
		{"fragments under 6 bytes stay", "corre horse", "corre horse"},
		{"unrelated text stays", "Secret db must not be used", "Secret db must not be used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ScrubSecretValues(secret, tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ScrubSecretValues(%q) (-want +got):\n%s", tt.in, diff)
			}
			for _, part := range []string{"correct-h", "orse-bat", "9f8e7d", "Y29ycmVj"} {
				if strings.Contains(got, part) {
					t.Errorf("%q still holds %q", got, part)
				}
			}
		})
	}
}
