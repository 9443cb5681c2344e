//go:build unix

package manifests

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// escapeFixture builds tmp/repo, the repository root, next to tmp/outside, which the render
// must never open. The files outside are named pipes: opening one for reading blocks until
// a writer comes, so a render that returns its error before its timeout has not opened them.
func escapeFixture(t *testing.T) (root, outside string) {
	tmp := t.TempDir()
	root, outside = filepath.Join(tmp, "repo"), filepath.Join(tmp, "outside")
	for _, d := range []string{root, filepath.Join(outside, "base")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"secret.yaml", "base/kustomization.yaml"} {
		if err := syscall.Mkfifo(filepath.Join(outside, p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestRenderRejectsPathsOutsideRoot(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		links map[string]string // link (relative to root) -> target (relative to the link's folder)
		dir   string
		want  []string
	}{
		{
			name:  "resource file through ../",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- ../../outside/secret.yaml\n"},
			want:  []string{`app/kustomization.yaml:2: resources entry "../../outside/secret.yaml"`, "outside the repository root"},
		},
		{
			name:  "base folder through ../",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- ../../outside/base\n"},
			want:  []string{`app/kustomization.yaml:2: resources entry "../../outside/base"`, "outside the repository root"},
		},
		{
			name: "patch file through ../",
			files: map[string]string{
				"app/kustomization.yaml": "resources:\n- cm.yaml\npatches:\n- path: ../../outside/secret.yaml\n",
				"app/cm.yaml":            configMap,
			},
			want: []string{`app/kustomization.yaml:4: patches entry "../../outside/secret.yaml"`, "outside the repository root"},
		},
		{
			name:  "absolute path",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- /etc/passwd\n"},
			want:  []string{`app/kustomization.yaml:2: resources entry "/etc/passwd": absolute paths are not allowed`},
		},
		{
			name:  "symlink to a file outside",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- innocent.yaml\n"},
			links: map[string]string{"app/innocent.yaml": "../../outside/secret.yaml"},
			want:  []string{`app/kustomization.yaml:2: resources entry "innocent.yaml": through a symlink: path resolves outside the repository root`},
		},
		{
			name:  "symlink to a folder outside",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- ../shared\n"},
			links: map[string]string{"shared": "../outside/base"},
			want:  []string{`app/kustomization.yaml:2: resources entry "../shared": through a symlink`},
		},
		{
			name:  "symlinked folder in the middle of a path",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- vendor/secret.yaml\n"},
			links: map[string]string{"app/vendor": "../../outside"},
			want:  []string{`app/kustomization.yaml:2: resources entry "vendor/secret.yaml": through a symlink`},
		},
		{
			name:  "symlinked kustomization file",
			links: map[string]string{"app/kustomization.yaml": "../../outside/base/kustomization.yaml"},
			want:  []string{"app/kustomization.yaml: through a symlink"},
		},
		{
			name:  "plain folder: symlink to a file outside",
			files: map[string]string{"plain/cm.yaml": configMap},
			links: map[string]string{"plain/stolen.yaml": "../../outside/secret.yaml"},
			dir:   "plain",
			want:  []string{"plain/stolen.yaml: through a symlink"},
		},
		{
			name:  "plain folder: symlink to a folder outside",
			files: map[string]string{"plain/cm.yaml": configMap},
			links: map[string]string{"plain/more": "../../outside/base"},
			dir:   "plain",
			want:  []string{"plain/more: through a symlink"},
		},
		{
			name: "folder argument through ../",
			dir:  "../outside/base",
			want: []string{"outside the repository root"},
		},
		{
			name:  "folder argument through a symlink",
			links: map[string]string{"app": "../outside/base"},
			dir:   "app",
			want:  []string{"app: through a symlink"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _ := escapeFixture(t)
			writeTree(t, root, tt.files)
			for link, target := range tt.links {
				symlink(t, target, filepath.Join(root, link))
			}
			dir := tt.dir
			if dir == "" {
				dir = "app"
			}
			opts := DefaultOptions()
			opts.Timeout = 5 * time.Second
			_, err := Render(context.Background(), root, dir, opts)
			wantError(t, err, ErrOutsideRoot, tt.want...)
		})
	}
}

// TestRenderAllowsBasesElsewhereInTheRepo checks the other side: ../ and symlinks that stay
// inside the root work, and objects name the file they really come from.
func TestRenderAllowsBasesElsewhereInTheRepo(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"base/kustomization.yaml":      "resources:\n- cm.yaml\n",
		"base/cm.yaml":                 configMap,
		"envs/prod/kustomization.yaml": "namePrefix: prod-\nresources:\n- ../../base\n- ../../linked-base\n",
		"other/kustomization.yaml":     "nameSuffix: -other\nresources:\n- cm.yaml\n",
		"other/cm.yaml":                configMap,
	})
	symlink(t, "other", filepath.Join(root, "linked-base"))
	objs, err := Render(context.Background(), root, "envs/prod", DefaultOptions())
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	got := map[string]string{}
	for _, o := range objs {
		got[o.ID().String()] = o.Source
	}
	want := map[string]string{
		"ConfigMap/prod-app":       "base/cm.yaml",
		"ConfigMap/prod-app-other": "other/cm.yaml",
	}
	if len(got) != len(want) {
		t.Fatalf("got objects %v, want %v", got, want)
	}
	for id, src := range want {
		if got[id] != src {
			t.Errorf("%s: source %q, want %q", id, got[id], src)
		}
	}
}
