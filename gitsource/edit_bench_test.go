package gitsource

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkEditTreeOverlayPatch measures one field edit that searches an overlay and its base
// for the patch that sets the field.
func BenchmarkEditTreeOverlayPatch(b *testing.B) {
	patch := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 4\n"
	files := map[string]string{
		"base/web.yaml": deploymentYAML, "base/kustomization.yaml": "resources:\n- web.yaml\n",
		"prod/kustomization.yaml": "resources:\n- ../base\npatches:\n- path: replicas.yaml\n", "prod/replicas.yaml": patch,
	}
	root := b.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ch := ObjectChange{Object: webKey, File: "base/web.yaml", Fields: []FieldChange{{Path: ".spec.replicas", Value: 6.0}}}
	b.ReportAllocs()
	for b.Loop() {
		if err := os.WriteFile(filepath.Join(root, "prod/replicas.yaml"), []byte(patch), 0o644); err != nil {
			b.Fatal(err)
		}
		if _, err := EditTree(root, "prod", ch); err != nil {
			b.Fatal(err)
		}
	}
}
