package manifests

import (
	"context"
	"testing"
)

// TestPlainFolderSkipsPlumblineFiles: the lock file and other plumbline.dev files next to plain
// manifests configure Plumbline; they are not objects.
func TestPlainFolderSkipsPlumblineFiles(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"app/cm.yaml":              configMap,
		"app/plumbline.lock.yaml":  "apiVersion: plumbline.dev/v1alpha1\nkind: ImageLock\nimages: []\n",
		"app/policy.yaml":          "apiVersion: plumbline.dev/v1alpha1\nkind: PolicySet\nmetadata: {name: baseline}\nspec: {}\n",
		"app/not-ours-either.yaml": "apiVersion: plumbline.devx/v1\nkind: Thing\nmetadata: {name: x}\n",
	})
	objs, err := Render(context.Background(), root, "app", DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.ID().String())
	}
	if len(got) != 2 || got[0] != "ConfigMap/app" || got[1] != "plumbline.devx/Thing/x" {
		t.Errorf("objects = %v, want the ConfigMap and the plumbline.devx Thing only", got)
	}
}
