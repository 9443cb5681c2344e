package manifests

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadConfigFile(t *testing.T) {
	const secret = "OUTSIDE-SECRET"
	tests := []struct {
		name    string
		setup   func(t *testing.T, root string) string // returns rel
		wantErr string                                 // "" reads "policy: ok"
		is      error
	}{
		{"regular file", func(t *testing.T, root string) string {
			writeConfigTestFile(t, filepath.Join(root, "ops", "policy.yaml"), "policy: ok\n")
			return "ops/policy.yaml"
		}, "", nil},
		{"symlink inside the root", func(t *testing.T, root string) string {
			writeConfigTestFile(t, filepath.Join(root, "real.yaml"), "policy: ok\n")
			symlink(t, "real.yaml", filepath.Join(root, "link.yaml"))
			return "link.yaml"
		}, "", nil},
		{"missing", func(t *testing.T, root string) string { return "ops/none.yaml" }, "ops/none.yaml: file does not exist", fs.ErrNotExist},
		{"dot-dot", func(t *testing.T, root string) string { return "../x.yaml" }, "../x.yaml: path resolves outside the repository root", ErrOutsideRoot},
		{"symlink out", func(t *testing.T, root string) string {
			out := filepath.Join(t.TempDir(), "x.yaml")
			writeConfigTestFile(t, out, secret)
			symlink(t, out, filepath.Join(root, "x.yaml"))
			return "x.yaml"
		}, "x.yaml: through a symlink: path resolves outside the repository root", ErrOutsideRoot},
		{"device", func(t *testing.T, root string) string {
			symlink(t, "/dev/zero", filepath.Join(root, "zero.yaml"))
			return "zero.yaml"
		}, "zero.yaml: through a symlink", ErrOutsideRoot},
		{"FIFO", func(t *testing.T, root string) string {
			if err := syscall.Mkfifo(filepath.Join(root, "fifo.yaml"), 0o644); err != nil {
				t.Fatal(err)
			}
			return "fifo.yaml"
		}, "fifo.yaml: not a regular file (a FIFO)", nil},
		{"folder", func(t *testing.T, root string) string {
			if err := os.Mkdir(filepath.Join(root, "d"), 0o755); err != nil {
				t.Fatal(err)
			}
			return "d"
		}, "d: not a regular file (a folder)", nil},
		{"sparse 3 GiB", func(t *testing.T, root string) string {
			writeConfigTestFile(t, filepath.Join(root, "big.yaml"), "")
			if err := os.Truncate(filepath.Join(root, "big.yaml"), 3<<30); err != nil {
				t.Fatal(err)
			}
			return "big.yaml"
		}, "big.yaml: file is 3221225472 bytes, over the limit of 4194304 bytes", ErrLimitExceeded},
		{"hard link", func(t *testing.T, root string) string {
			out := filepath.Join(t.TempDir(), "x.yaml")
			writeConfigTestFile(t, out, secret)
			if err := os.Link(out, filepath.Join(root, "x.yaml")); err != nil {
				t.Fatal(err)
			}
			return "x.yaml"
		}, "x.yaml: the file has 2 hard links", nil},
		{".git", func(t *testing.T, root string) string {
			writeConfigTestFile(t, filepath.Join(root, ".git", "config"), secret)
			return ".git/config"
		}, ".git/config: .git: inside a version-control folder", ErrVCSFolder},
		{"symlink into .svn", func(t *testing.T, root string) string {
			writeConfigTestFile(t, filepath.Join(root, ".svn", "entries"), secret)
			symlink(t, ".svn/entries", filepath.Join(root, "e.yaml"))
			return "e.yaml"
		}, "e.yaml: through a symlink: .svn: inside a version-control folder", ErrVCSFolder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			rel := tt.setup(t, root)
			data, err := ReadConfigFile(t.Context(), root, rel)
			if tt.wantErr == "" {
				if err != nil || string(data) != "policy: ok\n" {
					t.Fatalf("got %q, %v", data, err)
				}
				return
			}
			var fe *FileError
			if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want a *FileError starting %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want it to wrap %v", err, tt.is)
			}
			if strings.Contains(err.Error(), secret) || data != nil {
				t.Fatalf("the error or data quotes the file: %v %q", err, data)
			}
		})
	}
}

func TestReadConfigFileCanceled(t *testing.T) {
	root := t.TempDir()
	writeConfigTestFile(t, filepath.Join(root, "a.yaml"), "a: b\n")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := ReadConfigFile(ctx, root, "a.yaml"); err == nil {
		t.Fatal("read after the deadline")
	}
}

func TestWriteConfigFile(t *testing.T) {
	t.Run("new and replaced", func(t *testing.T) {
		root := t.TempDir()
		for _, body := range []string{"one\n", "two\n"} {
			if err := WriteConfigFile(t.Context(), root, "apps/web/plumbline.lock.yaml", []byte(body), 0o640); err == nil {
				t.Fatal("wrote into a folder that does not exist")
			}
		}
		if err := os.MkdirAll(filepath.Join(root, "apps", "web"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, body := range []string{"one\n", "two\n"} {
			if err := WriteConfigFile(t.Context(), root, "apps/web/plumbline.lock.yaml", []byte(body), 0o640); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(root, "apps", "web", "plumbline.lock.yaml"))
			if err != nil || string(got) != body {
				t.Fatalf("got %q, %v; want %q", got, err, body)
			}
		}
		info, _ := os.Stat(filepath.Join(root, "apps", "web", "plumbline.lock.yaml"))
		if info.Mode().Perm() != 0o640 {
			t.Errorf("mode %v, want 0640", info.Mode().Perm())
		}
		entries, _ := os.ReadDir(filepath.Join(root, "apps", "web"))
		if len(entries) != 1 {
			t.Errorf("folder holds %d entries, want only the file (no temporary left)", len(entries))
		}
	})
	refused := []struct {
		name, want string
		setup      func(t *testing.T, root string) (rel, outside string)
	}{
		{"dangling symlink", "l.yaml: is a symlink; refusing to write through it", func(t *testing.T, root string) (string, string) {
			out := filepath.Join(t.TempDir(), "created.yaml")
			symlink(t, out, filepath.Join(root, "l.yaml"))
			return "l.yaml", out
		}},
		{"symlink to a file outside", "l.yaml: is a symlink", func(t *testing.T, root string) (string, string) {
			out := filepath.Join(t.TempDir(), "victim.yaml")
			writeConfigTestFile(t, out, "victim\n")
			symlink(t, out, filepath.Join(root, "l.yaml"))
			return "l.yaml", ""
		}},
		{"folder symlinked out", "out/l.yaml: through a symlink: path resolves outside the repository root", func(t *testing.T, root string) (string, string) {
			out := t.TempDir()
			symlink(t, out, filepath.Join(root, "out"))
			return "out/l.yaml", filepath.Join(out, "l.yaml")
		}},
		{"dot-dot", "../l.yaml: path resolves outside the repository root", func(t *testing.T, root string) (string, string) {
			return "../l.yaml", filepath.Join(filepath.Dir(root), "l.yaml")
		}},
		{".git", ".git/hooks/pre-commit: .git: inside a version-control folder", func(t *testing.T, root string) (string, string) {
			if err := os.MkdirAll(filepath.Join(root, ".git", "hooks"), 0o755); err != nil {
				t.Fatal(err)
			}
			return ".git/hooks/pre-commit", filepath.Join(root, ".git", "hooks", "pre-commit")
		}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			rel, outside := tt.setup(t, root)
			err := WriteConfigFile(t.Context(), root, rel, []byte("new\n"), 0o644)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one starting %q", err, tt.want)
			}
			if outside != "" {
				if _, err := os.Lstat(outside); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("%s was written: %v", outside, err)
				}
			}
		})
	}
}

func writeConfigTestFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
