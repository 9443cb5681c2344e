package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRenderNeverReadsVCSFolders: whatever names a file inside .git, .hg or .svn, the render
// fails naming it, and quotes none of it; a plain folder skips them.
func TestRenderNeverReadsVCSFolders(t *testing.T) {
	const token = "ghs_CHECKOUT_TOKEN"
	const kustomization = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"configMapGenerator file", map[string]string{
			"kustomization.yaml": kustomization + "configMapGenerator:\n- name: leak\n  files: [.git/config]\n",
		}, ".git/config"},
		{"configMapGenerator env", map[string]string{
			"kustomization.yaml": kustomization + "configMapGenerator:\n- name: leak\n  envs: [.git/config]\n",
		}, ".git/config"},
		{"resource", map[string]string{
			"kustomization.yaml": kustomization + "resources: [.hg/cm.yaml]\n",
			".hg/cm.yaml":        configMap,
		}, ".hg/cm.yaml"},
		{"resource through a symlink", map[string]string{
			"kustomization.yaml": kustomization + "resources: [cm.yaml]\n",
			".svn/cm.yaml":       configMap,
		}, "cm.yaml"},
		{"base folder", map[string]string{
			"kustomization.yaml":           kustomization + "resources: [.git/base]\n",
			".git/base/kustomization.yaml": kustomization + "resources: [cm.yaml]\n",
			".git/base/cm.yaml":            configMap,
		}, ".git/base"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.files)
			writeTree(t, root, map[string]string{".git/config": "[remote \"origin\"]\n\turl = https://x:" + token + "@github.com/a/b\n"})
			if _, ok := tt.files[".svn/cm.yaml"]; ok {
				if err := os.Symlink(".svn/cm.yaml", filepath.Join(root, "cm.yaml")); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Render(t.Context(), root, ".", DefaultOptions())
			wantError(t, err, nil, tt.want, "inside a version-control folder")
			if strings.Contains(err.Error(), token) {
				t.Fatalf("the error quotes .git/config: %v", err)
			}
		})
	}
	t.Run("plain folder", func(t *testing.T) {
		root := t.TempDir()
		writeTree(t, root, map[string]string{"cm.yaml": configMap, ".git/other.yaml": strings.Replace(configMap, "name: app", "name: other", 1)})
		objs, err := Render(t.Context(), root, ".", DefaultOptions())
		if err != nil || len(objs) != 1 || objs[0].Object.GetName() != "app" {
			t.Fatalf("got %d objects, %v; want only app", len(objs), err)
		}
	})
}

// TestRenderRefusesHardLinks: a manifest with a second name may be a file from outside the
// repository; the render refuses it, naming it.
func TestRenderRefusesHardLinks(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(t.TempDir(), "shadow.yaml")
	writeTree(t, filepath.Dir(outside), map[string]string{"shadow.yaml": configMap})
	if err := os.Link(outside, filepath.Join(root, "cm.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err := Render(t.Context(), root, ".", DefaultOptions())
	wantError(t, err, nil, "cm.yaml: the file has 2 hard links")
}
