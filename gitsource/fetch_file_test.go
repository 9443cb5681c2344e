package gitsource

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// history is the repository most tests fetch from:
//
//	c0 ── c1 (tags v1, v1-annotated) ── c2 (main, HEAD)
//	                                      └── c3 (feature)
//
// c0 is on main's history but no ref points at it.
type history struct {
	repo           *testRepo
	c0, c1, c2, c3 plumbing.Hash
}

func newHistory(t *testing.T) history {
	t.Helper()
	r := newTestRepo(t, filepath.Join(t.TempDir(), "repo"))
	h := history{repo: r}
	h.c0 = r.commit("c0", map[string]string{"README.md": "v0\n"})
	h.c1 = r.commit("c1", map[string]string{"README.md": "v1\n", "deploy/app.yaml": "replicas: 1\n"})
	r.tag("v1", h.c1, false)
	r.tag("v1-annotated", h.c1, true)
	h.c2 = r.commit("c2", map[string]string{"README.md": "v2\n", "deploy/app.yaml": "replicas: 2\n", "deploy/svc/svc.yaml": "port: 80\n"})
	r.checkoutBranch("feature", true)
	h.c3 = r.commit("c3", map[string]string{"README.md": "feature\n", "feature.txt": "on a branch\n"})
	r.checkoutBranch("main", false)
	return h
}

// fetched is what a test compares of a Result: its fields and its files.
type fetched struct {
	Ref, Commit string
	FromCache   bool
	Files       map[string]string
}

func summarize(t *testing.T, res *Result) fetched {
	t.Helper()
	return fetched{Ref: res.Ref, Commit: res.Commit, FromCache: res.FromCache, Files: readTree(t, res.Dir)}
}

func TestFetchRefsOverFile(t *testing.T) {
	h := newHistory(t)
	// A second remote whose server lets clients want any reachable commit,
	// so a commit is fetched shallow by SHA instead of by a full fetch.
	reach := newHistory(t)
	reach.repo.setConfig("uploadpack", "allowReachableSHA1InWant", "true")

	want := func(h history, ref string, c plumbing.Hash) fetched {
		return fetched{Ref: ref, Commit: c.String(), Files: h.repo.files[c]}
	}
	tests := []struct {
		name string
		url  string
		ref  string
		want fetched
	}{
		{"empty ref is the remote HEAD", "file://" + h.repo.dir, "", want(h, "refs/heads/main", h.c2)},
		{"HEAD", "file://" + h.repo.dir, "HEAD", want(h, "refs/heads/main", h.c2)},
		{"short branch", "file://" + h.repo.dir, "feature", want(h, "refs/heads/feature", h.c3)},
		{"full branch", "file://" + h.repo.dir, "refs/heads/feature", want(h, "refs/heads/feature", h.c3)},
		{"plain local path", h.repo.dir, "main", want(h, "refs/heads/main", h.c2)},
		{"short lightweight tag", "file://" + h.repo.dir, "v1", want(h, "refs/tags/v1", h.c1)},
		{"full annotated tag is peeled", "file://" + h.repo.dir, "refs/tags/v1-annotated", want(h, "refs/tags/v1-annotated", h.c1)},
		{"commit at a branch tip", "file://" + h.repo.dir, h.c3.String(), want(h, h.c3.String(), h.c3)},
		{"commit at a tag", "file://" + h.repo.dir, h.c1.String(), want(h, h.c1.String(), h.c1)},
		{"commit no ref points at: full fetch", "file://" + h.repo.dir, h.c0.String(), want(h, h.c0.String(), h.c0)},
		{"commit in upper case", "file://" + h.repo.dir, strings.ToUpper(h.c0.String()), want(h, h.c0.String(), h.c0)},
		{"commit no ref points at: shallow by SHA", "file://" + reach.repo.dir, reach.c0.String(), want(reach, reach.c0.String(), reach.c0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := DefaultFetchOptions()
			opts.URL, opts.Ref = tt.url, tt.ref
			res, err := Fetch(context.Background(), opts)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			closeResult(t, res)
			if diff := cmp.Diff(tt.want, summarize(t, res)); diff != "" {
				t.Errorf("Fetch (-want +got):\n%s", diff)
			}
			if res.URL != RedactURL(tt.url) {
				t.Errorf("URL = %q, want %q", res.URL, RedactURL(tt.url))
			}
		})
	}
}

func TestFetchTreeIsReadOnlyAndClosed(t *testing.T) {
	h := newHistory(t)
	opts := DefaultFetchOptions()
	opts.URL = "file://" + h.repo.dir
	res, err := Fetch(context.Background(), opts)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if diff := cmp.Diff(map[string]os.FileMode{}, writableEntries(t, res.Dir), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("entries that are not 0444 files or 0555 dirs (-want +got):\n%s", diff)
	}
	if err := res.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(res.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close, Stat(Dir) = %v, want not exist", err)
	}
	if err := res.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestFetchErrorsOverFile(t *testing.T) {
	h := newHistory(t)
	empty := newTestRepo(t, filepath.Join(t.TempDir(), "empty"))
	missing := filepath.Join(t.TempDir(), "no-such-repo")
	tests := []struct {
		name     string
		url, ref string
		kind     error
	}{
		{"missing branch or tag", "file://" + h.repo.dir, "no-such-branch", ErrRefNotFound},
		{"missing full ref", "file://" + h.repo.dir, "refs/heads/no-such-branch", ErrRefNotFound},
		{"missing commit", "file://" + h.repo.dir, strings.Repeat("ab", 20), ErrRefNotFound},
		{"empty repository", "file://" + empty.dir, "", ErrRefNotFound},
		{"no repository", "file://" + missing, "main", ErrRepositoryNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := DefaultFetchOptions()
			opts.URL, opts.Ref = tt.url, tt.ref
			opts.CacheDir = cacheDir(t)
			res, err := Fetch(context.Background(), opts)
			if err == nil {
				closeResult(t, res)
				t.Fatalf("Fetch = %+v, want error", res)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("Fetch error = %v, want kind %v", err, tt.kind)
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("Fetch error is %T, want *Error", err)
			}
			for _, s := range []string{RedactURL(tt.url), tt.ref} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
			// A failed fetch leaves no published tree behind.
			if trees := publishedTrees(t, opts.CacheDir); len(trees) != 0 {
				t.Errorf("cache holds %v after a failed fetch", trees)
			}
		})
	}
}

func TestFetchTimeout(t *testing.T) {
	h := newHistory(t)
	opts := DefaultFetchOptions()
	opts.URL = "file://" + h.repo.dir
	opts.Timeout = time.Nanosecond
	res, err := Fetch(context.Background(), opts)
	if err == nil {
		closeResult(t, res)
		t.Fatal("Fetch with a 1ns timeout succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnreachable) {
		t.Errorf("Fetch error = %v, want DeadlineExceeded and ErrUnreachable", err)
	}
}

// publishedTrees lists the cache entries named like commits.
func publishedTrees(t *testing.T, cache string) []string {
	t.Helper()
	var trees []string
	remotes, err := os.ReadDir(cache)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range remotes {
		entries, err := os.ReadDir(filepath.Join(cache, r.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if plumbing.IsHash(e.Name()) {
				trees = append(trees, filepath.Join(r.Name(), e.Name()))
			}
		}
	}
	return trees
}

func TestFetchSealsNothingOutsideTheTree(t *testing.T) {
	// A repository whose tree links to a file outside it: sealing the tree
	// read-only must neither follow the link nor change that file.
	outside := filepath.Join(t.TempDir(), "outside.txt")
	if err := os.WriteFile(outside, []byte("not yours\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	r := newTestRepo(t, filepath.Join(t.TempDir(), "repo"))
	r.commit("files", map[string]string{"app.yaml": "a: 1\n"})
	if err := os.Symlink(outside, filepath.Join(r.dir, "escape")); err != nil {
		t.Fatal(err)
	}
	// go-git's worktree stores an absolute link target relative to its
	// root, so the link is committed with the git CLI.
	for _, args := range [][]string{
		{"add", "escape"},
		{"-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "link"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", r.dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	head, err := r.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	c := head.Hash()

	opts := DefaultFetchOptions()
	opts.URL = "file://" + r.dir
	res, err := Fetch(context.Background(), opts)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	closeResult(t, res)
	if res.Commit != c.String() {
		t.Errorf("Commit = %s, want %s", res.Commit, c)
	}
	target, err := os.Readlink(filepath.Join(res.Dir, "escape"))
	if err != nil || target != outside {
		t.Errorf("Readlink(escape) = %q, %v; want the link checked out as a link to %q", target, err, outside)
	}
	fi, err := os.Stat(outside)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("file outside the tree has mode %v, want 0640 untouched", fi.Mode().Perm())
	}
	if diff := cmp.Diff(map[string]os.FileMode{}, writableEntries(t, res.Dir), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("entries that are not 0444 files or 0555 dirs (-want +got):\n%s", diff)
	}
}
