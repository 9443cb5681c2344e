package gitsource

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// testRepo is a real repository on disk, built with go-git, that tests
// serve over file://, git http-backend or SSH.
type testRepo struct {
	t    *testing.T
	dir  string
	repo *git.Repository
	// files is the content of every commit, by SHA.
	files map[plumbing.Hash]map[string]string
}

var testAuthor = &object.Signature{Name: "Test", Email: "test@example.com", When: time.Unix(1700000000, 0)}

// newTestRepo initialises an empty repository in dir (created if missing)
// whose default branch is main.
func newTestRepo(t *testing.T, dir string) *testRepo {
	t.Helper()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.Main},
	})
	if err != nil {
		t.Fatalf("init repo: %v", err)
	}
	return &testRepo{t: t, dir: dir, repo: repo, files: map[plumbing.Hash]map[string]string{}}
}

// commit replaces the worktree's regular files and directories with files
// (symbolic links stay) and commits it on the current branch.
func (r *testRepo) commit(msg string, files map[string]string) plumbing.Hash {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".git" && e.Type()&fs.ModeSymlink == 0 {
			if err := os.RemoveAll(filepath.Join(r.dir, e.Name())); err != nil {
				r.t.Fatal(err)
			}
		}
	}
	for name, content := range files {
		path := filepath.Join(r.dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		r.t.Fatalf("add: %v", err)
	}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: testAuthor, AllowEmptyCommits: true})
	if err != nil {
		r.t.Fatalf("commit: %v", err)
	}
	r.files[h] = files
	return h
}

// checkoutBranch switches the worktree to branch, creating it at the
// current commit when create is true.
func (r *testRepo) checkoutBranch(branch string, create bool) {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(branch), Create: create}); err != nil {
		r.t.Fatalf("checkout %s: %v", branch, err)
	}
}

// tag creates a lightweight tag, or an annotated one when annotated is true.
func (r *testRepo) tag(name string, h plumbing.Hash, annotated bool) {
	r.t.Helper()
	var opts *git.CreateTagOptions
	if annotated {
		opts = &git.CreateTagOptions{Tagger: testAuthor, Message: "release " + name}
	}
	if _, err := r.repo.CreateTag(name, h, opts); err != nil {
		r.t.Fatalf("tag %s: %v", name, err)
	}
}

// setConfig sets a raw option in the repository's config, such as
// uploadpack.allowReachableSHA1InWant.
func (r *testRepo) setConfig(section, key, value string) {
	r.t.Helper()
	cfg, err := r.repo.Config()
	if err != nil {
		r.t.Fatal(err)
	}
	cfg.Raw.Section(section).SetOption(key, value)
	if err := r.repo.SetConfig(cfg); err != nil {
		r.t.Fatal(err)
	}
}

// readTree returns every regular file under dir by slash path, and fails on
// a .git directory.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == ".git" {
			return errors.New(".git found in the tree at " + path)
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			got[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read tree: %v", err)
	}
	return got
}

// writableEntries returns every path under dir whose mode is not 0444 (file)
// or 0555 (directory), with its mode; symbolic links are skipped. Root ignores mode bits, so tests read
// them rather than try a write.
func writableEntries(t *testing.T, dir string) map[string]fs.FileMode {
	t.Helper()
	bad := map[string]fs.FileMode{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil // a link's own mode means nothing on Linux
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := readOnlyFile
		if d.IsDir() {
			want = readOnlyDir
		}
		if info.Mode().Perm() != want {
			bad[path] = info.Mode().Perm()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk tree: %v", err)
	}
	return bad
}

// cacheDir returns a cache directory that is removed after the test even
// though it holds read-only trees (t.TempDir alone fails on them when not
// root).
func cacheDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		if err := removeTree(dir); err != nil {
			t.Errorf("remove cache: %v", err)
		}
	})
	return dir
}

// closeResult closes res at the end of the test.
func closeResult(t *testing.T, res *Result) {
	t.Helper()
	t.Cleanup(func() {
		if err := res.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}
