package policy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// decodeObjects decodes a multi-document YAML manifest the way the
// manifests package hands objects over: through JSON, so numbers are int64.
func decodeObjects(t testing.TB, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	var out []*unstructured.Unstructured
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decoding manifest: %v", err)
		}
		if doc == nil {
			continue
		}
		raw, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatalf("re-encoding manifest: %v", err)
		}
		out = append(out, mustObject(t, string(raw)))
	}
}

// mustObject decodes one YAML object.
func mustObject(t testing.TB, manifest string) *unstructured.Unstructured {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(manifest))
	if err != nil {
		t.Fatalf("YAMLToJSON: %v", err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatalf("UnmarshalJSON: %v\n%s", err, manifest)
	}
	return u
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// mustEngine parses a policy file given inline and builds its engine.
func mustEngine(t testing.TB, policyFile string) *Engine {
	t.Helper()
	ps, err := ParsePolicySet([]byte(policyFile), "policy.yaml")
	if err != nil {
		t.Fatalf("ParsePolicySet: %v", err)
	}
	e, err := NewEngine(ps)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	return e
}

func ptr[T any](v T) *T { return &v }

func containsStr(s, sub string) bool { return strings.Contains(s, sub) }
