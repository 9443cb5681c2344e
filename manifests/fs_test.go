//go:build unix

package manifests

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
)

// TestFileSystemRefusesOutsideRoot checks the defence that holds even if the preflight
// missed an entry: the file system kustomize reads through answers nothing outside the root.
func TestFileSystemRefusesOutsideRoot(t *testing.T) {
	root, outside := escapeFixture(t)
	writeTree(t, root, map[string]string{"app/cm.yaml": configMap})
	symlink(t, "../../outside/secret.yaml", filepath.Join(root, "app/link.yaml"))
	symlink(t, "../../outside/base", filepath.Join(root, "app/linkdir"))
	tr, err := newTree(root)
	if err != nil {
		t.Fatal(err)
	}
	opts, _ := Options{}.withDefaults()
	fsys := &rootFS{t: tr, r: newReader(tr, opts)}

	if b, err := fsys.ReadFile(filepath.Join(root, "app/cm.yaml")); err != nil || string(b) != configMap {
		t.Fatalf("reading a file inside the root: %q, %v", b, err)
	}
	for _, p := range []string{
		filepath.Join(outside, "secret.yaml"),
		filepath.Join(root, "app/../../outside/secret.yaml"),
		filepath.Join(root, "app/link.yaml"),
		filepath.Join(root, "app/linkdir/kustomization.yaml"),
		"/etc/passwd",
	} {
		if _, err := fsys.ReadFile(p); !errors.Is(err, ErrOutsideRoot) {
			t.Errorf("ReadFile(%s) = %v; want ErrOutsideRoot", p, err)
		}
		if _, _, err := fsys.CleanedAbs(p); !errors.Is(err, ErrOutsideRoot) {
			t.Errorf("CleanedAbs(%s) = %v; want ErrOutsideRoot", p, err)
		}
		if fsys.Exists(p) || fsys.IsDir(p) {
			t.Errorf("Exists or IsDir(%s) = true; want false", p)
		}
	}
	if fsys.IsDir(filepath.Join(root, "app/linkdir")) {
		t.Error("IsDir on a symlink to a folder outside = true")
	}
	if err := fsys.WriteFile(filepath.Join(root, "app/new.yaml"), nil); !errors.Is(err, errReadOnly) {
		t.Errorf("WriteFile = %v; want errReadOnly", err)
	}
	if err := fsys.RemoveAll(filepath.Join(root, "app")); !errors.Is(err, errReadOnly) {
		t.Errorf("RemoveAll = %v; want errReadOnly", err)
	}
}

// TestKustomizeThroughFileSystemStaysInside runs kustomize, with no preflight and its load
// restrictor off, on kustomizations that reach outside: the file system alone stops it
// before any file outside is opened (they are named pipes: opening one would hang the build
// into its timeout).
func TestKustomizeThroughFileSystemStaysInside(t *testing.T) {
	for name, k := range map[string]string{
		"../ file":          "resources:\n- ../../outside/secret.yaml\n",
		"symlinked file":    "resources:\n- link.yaml\n",
		"symlinked base":    "resources:\n- linkdir\n",
		"../ patch":         "resources:\n- cm.yaml\npatches:\n- path: ../../outside/secret.yaml\n",
		"absolute resource": "resources:\n- OUTSIDE/secret.yaml\n",
	} {
		t.Run(name, func(t *testing.T) {
			root, outside := escapeFixture(t)
			writeTree(t, root, map[string]string{"app/kustomization.yaml": replaceOutside(k, outside), "app/cm.yaml": configMap})
			symlink(t, "../../outside/secret.yaml", filepath.Join(root, "app/link.yaml"))
			symlink(t, "../../outside/base", filepath.Join(root, "app/linkdir"))
			tr, err := newTree(root)
			if err != nil {
				t.Fatal(err)
			}
			opts, _ := Options{}.withDefaults()
			fsys := &rootFS{t: tr, r: newReader(tr, opts)}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				k := krusty.MakeKustomizer(&krusty.Options{LoadRestrictions: types.LoadRestrictionsNone, PluginConfig: types.DisabledPluginConfig()})
				_, err := k.Run(fsys, filepath.Join(tr.real, "app"))
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("kustomize built a kustomization that reaches outside the root")
				}
				if !strings.Contains(err.Error(), "outside the repository root") {
					t.Errorf("kustomize failed for another reason than the root: %v", err)
				}
			case <-ctx.Done():
				t.Fatal("kustomize hung: it opened a file outside the root")
			}
		})
	}
}

func replaceOutside(s, outside string) string {
	for i := 0; i+len("OUTSIDE") <= len(s); i++ {
		if s[i:i+len("OUTSIDE")] == "OUTSIDE" {
			return s[:i] + outside + s[i+len("OUTSIDE"):]
		}
	}
	return s
}
