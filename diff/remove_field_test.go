package diff

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestWithoutFieldsWholeField(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "default"},
		"spec": map[string]any{
			"template": map[string]any{
				"spec": map[string]any{"containers": []any{map[string]any{
					"name": "nginx", "image": "nginx:1.21.0",
					"env": []any{map[string]any{"name": "DEBUG", "value": "1"}},
				}}},
			},
		},
	}}
	out, err := WithoutFields(obj, []string{`.spec.template.spec.containers[name="nginx"].env`})
	if err != nil {
		t.Fatal(err)
	}
	cs, _, _ := unstructured.NestedSlice(out.Object, "spec", "template", "spec", "containers")
	if env := cs[0].(map[string]any)["env"]; env != nil { // null, or absent: the server stores neither
		t.Errorf("env kept: %v", cs[0])
	}
}
