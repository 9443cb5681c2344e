package diff

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestWithoutFields(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "default", "resourceVersion": "42",
			"labels": map[string]any{"app": "web", "debug": "true"}},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
				"spec": map[string]any{"containers": []any{map[string]any{
					"name": "web", "image": "nginx:1.21.0",
					"env": []any{
						map[string]any{"name": "KEEP", "value": "1"},
						map[string]any{"name": "DEBUG", "value": "1"},
					},
				}}},
			},
		},
		"status": map[string]any{"replicas": int64(1)},
	}}
	out, err := WithoutFields(obj, []string{
		`.spec.template.spec.containers[name="web"].env[name="DEBUG"]`,
		`.metadata.labels.debug`,
		`.spec.notThere`,
	})
	if err != nil {
		t.Fatal(err)
	}
	env, _, _ := unstructured.NestedSlice(out.Object, "spec", "template", "spec", "containers")
	got := env[0].(map[string]any)["env"].([]any)
	if len(got) != 1 || got[0].(map[string]any)["name"] != "KEEP" {
		t.Errorf("env = %v, want only KEEP", got)
	}
	if _, ok := out.GetLabels()["debug"]; ok {
		t.Error("label debug is still there")
	}
	if out.GetLabels()["app"] != "web" || out.GetResourceVersion() != "42" {
		t.Errorf("kept fields lost: labels %v, resourceVersion %q", out.GetLabels(), out.GetResourceVersion())
	}
	if _, ok := out.Object["status"]; ok {
		t.Error("status kept")
	}
	if _, ok := obj.GetLabels()["debug"]; !ok {
		t.Error("the input was modified")
	}
}
