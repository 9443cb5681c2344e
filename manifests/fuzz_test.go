//go:build unix

package manifests

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzRender feeds untrusted bytes to Render as a plain manifest (mode 0), as a
// kustomization file (mode 1) and as a resource of a kustomization (mode 2). Render must
// return, without panicking, within its timeout, without running git, and whatever it
// returns must be sorted objects that name a file inside the repository.
func FuzzRender(f *testing.F) {
	seeds := []struct {
		data string
		mode uint8
	}{
		{configMap, 0},
		{configMap + "---\n" + strings.Replace(configMap, "name: app", "name: two", 1), 0},
		{"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n", 0},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"},"data":{"a":"1"}}`, 0},
		{aliasBomb, 0},
		{aliasBomb, 2},
		{"a: &a [*a]\n", 0},
		{"resources:\n- cm.yaml\n", 1},
		{"resources:\n- base\nnamePrefix: p-\nnamespace: ns\n", 1},
		{"resources:\n- cm.yaml\npatches:\n- path: patch.yaml\n- patch: |-\n    - op: add\n      path: /data/x\n      value: y\n  target: {kind: ConfigMap}\n", 1},
		{"configMapGenerator:\n- name: g\n  files: [data.txt]\n  literals: [a=b]\nimages:\n- name: nginx\n  digest: sha256:00\n", 1},
		{"resources:\n- https://example.com/x.yaml\n", 1},
		{"resources:\n- github.com/org/repo//path?ref=v1\n", 1},
		{"resources:\n- ../../outside\n", 1},
		{"generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata: {name: g}\n  literals: [a=b]\n", 1},
		{"transformers:\n- |\n  apiVersion: builtin\n  kind: PatchTransformer\n  metadata: {name: p}\n  path: patch.yaml\n", 1},
		{"components:\n- base\n", 1},
		{"openapi:\n  path: cm.yaml\n", 1},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: nginx}]\n", 2},
	}
	for _, s := range seeds {
		f.Add([]byte(s.data), s.mode)
	}
	bin := f.TempDir()
	marker := filepath.Join(bin, "git-was-called")
	script := "#!/bin/sh\necho \"$@\" >> " + marker + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Setenv("PATH", bin)

	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		root := t.TempDir()
		files := map[string]string{
			"app/cm.yaml":                 configMap,
			"app/patch.yaml":              "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  k: patched\n",
			"app/data.txt":                "plain data\n",
			"app/base/kustomization.yaml": "resources:\n- cm.yaml\n",
			"app/base/cm.yaml":            configMap,
		}
		switch mode % 3 {
		case 0:
			files = map[string]string{"app/fuzz.yaml": string(data), "app/sub/cm.yaml": configMap}
		case 1:
			files["app/kustomization.yaml"] = string(data)
		case 2:
			files["app/kustomization.yaml"] = "resources:\n- fuzz.yaml\n"
			files["app/fuzz.yaml"] = string(data)
		}
		writeTree(t, root, files)
		opts := Options{MaxFileBytes: 1 << 20, Timeout: 20 * time.Second}
		objs, err := Render(context.Background(), root, "app", opts)
		if errors.Is(err, ErrTimeout) {
			t.Fatalf("render hung: %v", err)
		}
		if b, err := os.ReadFile(marker); err == nil {
			t.Fatalf("git was run: %s", b)
		}
		if err != nil {
			if strings.Contains(err.Error(), root) {
				t.Errorf("error shows the machine's path: %v", err)
			}
			return
		}
		for i, o := range objs {
			if o.Object == nil || o.Object.GetKind() == "" {
				t.Fatalf("object %d has no kind: %+v", i, o)
			}
			if o.Source == "" || strings.HasPrefix(o.Source, "/") || strings.HasPrefix(o.Source, "..") {
				t.Errorf("%s: source %q is not a path inside the repository", o.ID(), o.Source)
			}
			if i > 0 && compareIDs(objs[i-1].ID(), o.ID()) > 0 {
				t.Errorf("%s sorted before %s", objs[i-1].ID(), o.ID())
			}
		}
	})
}
