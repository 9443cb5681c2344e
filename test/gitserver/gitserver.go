// Package gitserver builds real Git repositories and serves them for tests: over file://, and
// over smart HTTP through Debian's `git http-backend` behind Go's net/http/cgi, with Basic auth
// in front.
package gitserver

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// NewRepo creates a repository in a temp dir with the files of tree (path → content)
// committed on main, and returns its folder.
func NewRepo(t testing.TB, tree map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	_, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatal(err)
	}
	Commit(t, dir, tree, "initial")
	return dir
}

// Commit writes tree (path → content; empty content removes the file) into the repository in
// dir and commits it. It returns the commit SHA.
func Commit(t testing.TB, dir string, tree map[string]string, message string) string {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range tree {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if content == "" {
			if _, err := wt.Remove(name); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	sig := &object.Signature{Name: "Platform Team", Email: "platform@example.com", When: time.Now()}
	h, err := wt.Commit(message, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// HTTP serves the repositories under root (by folder name) over smart HTTP, requiring Basic auth
// with user and password. Requests counts every request the server answered.
type HTTP struct {
	*httptest.Server
	Requests atomic.Int64
}

// NewHTTP starts the server; it stops when the test ends.
func NewHTTP(t testing.TB, root, user, password string) *HTTP {
	t.Helper()
	backend := &cgi.Handler{
		Path: "/usr/lib/git-core/git-http-backend",
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	s := &HTTP{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Requests.Add(1)
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}
