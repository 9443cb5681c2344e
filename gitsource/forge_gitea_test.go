package gitsource

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "code.gitea.io/sdk/gitea"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/plumbline/plumbline/test/gitea"
	"github.com/plumbline/plumbline/test/gitserver"
)

var (
	giteaOnce sync.Once
	giteaSrv  *gitea.Server
	giteaErr  error
)

// sharedGitea is the one Gitea of this package's tests, started on first use; TestMain stops it.
func sharedGitea(t *testing.T) *gitea.Server {
	t.Helper()
	giteaOnce.Do(func() { giteaSrv, giteaErr = gitea.Start(context.Background()) })
	if giteaErr != nil {
		t.Fatal(giteaErr)
	}
	return giteaSrv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := giteaSrv.Stop(); err != nil {
		println(err.Error())
	}
	os.Exit(code)
}

// giteaRepo creates a repository on the shared Gitea holding tree on main.
func giteaRepo(t *testing.T, name string, tree map[string]string) (srv *gitea.Server, url string, local string) {
	t.Helper()
	srv = sharedGitea(t)
	url, err := srv.CreateRepo(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	local = gitserver.NewRepo(t, tree)
	pushLocal(t, srv, local, url)
	return srv, url, local
}

func pushLocal(t *testing.T, srv *gitea.Server, local, url string) {
	t.Helper()
	repo, err := git.PlainOpen(local)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Remote("gitea"); err != nil {
		if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "gitea", URLs: []string{url}}); err != nil {
			t.Fatal(err)
		}
	}
	auth := &Auth{Username: gitea.AdminUser, Password: srv.Token}
	err = repo.Push(&git.PushOptions{RemoteName: "gitea", Auth: httpAuth(auth), RefSpecs: []config.RefSpec{"+refs/heads/main:refs/heads/main"}})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		t.Fatal(err)
	}
}

func workspaceOpts(srv *gitea.Server, url string) WorkspaceOptions {
	return WorkspaceOptions{URL: url, Base: "main", Auth: &Auth{Username: gitea.AdminUser, Password: srv.Token}, InsecureHTTP: true, Timeout: time.Minute}
}

var author = Signature{Name: "Plumbline", Email: "plumbline@example.com"}

// TestProposalOnGitea edits a field, pushes the branch, and follows one pull request through
// find, create, update, comment, close and get; a second push of the same change sends nothing.
func TestProposalOnGitea(t *testing.T) {
	ctx := context.Background()
	srv, url, _ := giteaRepo(t, "proposal", map[string]string{"apps/web.yaml": deploymentYAML})
	ws, err := Open(ctx, workspaceOpts(srv, url))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if _, err := EditTree(ws.Dir, "apps", ObjectChange{Object: webKey, File: "apps/web.yaml", Fields: []FieldChange{{Path: ".spec.replicas", Value: 5.0}}}); err != nil {
		t.Fatal(err)
	}
	res, err := ws.Push(ctx, PushOptions{Branch: "plumbline/modified-abc", Message: "keep replicas 5", Author: author})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pushed || res.Rebased {
		t.Errorf("first push: %+v", res)
	}
	forge, err := NewForge(ForgeOptions{Kind: ForgeGitea, RepoURL: url, Token: srv.Token})
	if err != nil {
		t.Fatal(err)
	}
	if pr, err := forge.FindOpen(ctx, "plumbline/modified-abc"); err != nil || pr != nil {
		t.Fatalf("before create: %+v, %v", pr, err)
	}
	pr, err := forge.Create(ctx, NewPullRequest{Branch: "plumbline/modified-abc", Base: "main", Title: "plumbline: keep", Body: "body one"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pr.URL, srv.URL+"/"+gitea.AdminUser+"/proposal/pulls/") || pr.State != PullRequestOpen {
		t.Errorf("created: %+v", pr)
	}
	found, err := forge.FindOpen(ctx, "plumbline/modified-abc")
	if err != nil || found == nil || found.Number != pr.Number {
		t.Fatalf("find: %+v, %v", found, err)
	}
	if _, err := forge.Update(ctx, pr.Number, "plumbline: keep (2)", "body two"); err != nil {
		t.Fatal(err)
	}
	if err := forge.Comment(ctx, pr.Number, "the drift is gone"); err != nil {
		t.Fatal(err)
	}
	got, err := forge.Get(ctx, pr.Number)
	if err != nil || got.Title != "plumbline: keep (2)" || got.Body != "body two" {
		t.Fatalf("get: %+v, %v", got, err)
	}

	// The same change again: nothing to push.
	ws2, err := Open(ctx, workspaceOpts(srv, url))
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.Close()
	if _, err := EditTree(ws2.Dir, "apps", ObjectChange{Object: webKey, File: "apps/web.yaml", Fields: []FieldChange{{Path: ".spec.replicas", Value: 5.0}}}); err != nil {
		t.Fatal(err)
	}
	again, err := ws2.Push(ctx, PushOptions{Branch: "plumbline/modified-abc", Message: "keep replicas 5", Author: author})
	if err != nil || again.Pushed || again.Commit != res.Commit {
		t.Fatalf("second push: %+v, %v (first %s)", again, err, res.Commit)
	}

	if err := forge.Close(ctx, pr.Number); err != nil {
		t.Fatal(err)
	}
	got, err = forge.Get(ctx, pr.Number)
	if err != nil || got.State != PullRequestClosed || got.By != gitea.AdminUser {
		t.Fatalf("after close: %+v, %v", got, err)
	}
	c, _ := srv.Client(ctx)
	comments, _, err := c.ListIssueComments(gitea.AdminUser, "proposal", pr.Number, sdk.ListIssueCommentOptions{})
	if err != nil || len(comments) != 1 || comments[0].Body != "the drift is gone" {
		t.Errorf("comments: %v, %v", comments, err)
	}
}

// TestProposalRebasesWhenBaseMoved: after main moves, the branch is rebuilt on the new tip
// and force-pushed; the file on the branch has both changes.
func TestProposalRebasesWhenBaseMoved(t *testing.T) {
	ctx := context.Background()
	srv, url, local := giteaRepo(t, "rebase", map[string]string{"apps/web.yaml": deploymentYAML})
	push := func() PushResult {
		ws, err := Open(ctx, workspaceOpts(srv, url))
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if _, err := EditTree(ws.Dir, "apps", ObjectChange{Object: webKey, File: "apps/web.yaml", Fields: []FieldChange{{Path: ".spec.replicas", Value: 5.0}}}); err != nil {
			t.Fatal(err)
		}
		res, err := ws.Push(ctx, PushOptions{Branch: "plumbline/modified-def", Message: "keep", Author: author})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := push()
	base := gitserver.Commit(t, local, map[string]string{"apps/web.yaml": strings.Replace(deploymentYAML, "app: web # who we are", "app: web # who we are\n    team: blue", 1)}, "label")
	pushLocal(t, srv, local, url)
	second := push()
	if !second.Pushed || !second.Rebased || second.Commit == first.Commit {
		t.Fatalf("after the base moved: %+v (first %+v)", second, first)
	}
	ws, err := Open(ctx, WorkspaceOptions{URL: url, Base: "plumbline/modified-def", Auth: &Auth{Username: gitea.AdminUser, Password: srv.Token}, InsecureHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	b, err := os.ReadFile(filepath.Join(ws.Dir, "apps/web.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "team: blue") || !strings.Contains(string(b), "replicas: 5") {
		t.Errorf("branch file:\n%s", b)
	}
	r, _ := git.PlainOpen(ws.Dir)
	head, _ := r.Head()
	c, _ := r.CommitObject(head.Hash())
	if len(c.ParentHashes) != 1 || c.ParentHashes[0].String() != base {
		t.Errorf("branch parent %v, want the new base %s", c.ParentHashes, base)
	}
	_ = plumbing.ZeroHash
}

// TestProposalErrors: a bad token, a protected branch and a server that is down each fail
// with an error that says so, without the token.
func TestProposalErrors(t *testing.T) {
	ctx := context.Background()
	srv, url, _ := giteaRepo(t, "errors", map[string]string{"apps/web.yaml": deploymentYAML})

	bad := workspaceOpts(srv, url)
	bad.Auth = &Auth{Username: gitea.AdminUser, Password: "not-the-token-0123456789"}
	if _, err := Open(ctx, bad); err == nil || !errors.Is(err, ErrAuth) || strings.Contains(err.Error(), "not-the-token") {
		t.Errorf("bad token, open: %v", err)
	}
	forge, _ := NewForge(ForgeOptions{Kind: ForgeGitea, RepoURL: url, Token: "not-the-token-0123456789"})
	if _, err := forge.FindOpen(ctx, "x"); err == nil || !errors.Is(err, ErrForge) || strings.Contains(err.Error(), "not-the-token") || !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "token") {
		t.Errorf("bad token, forge: %v", err)
	}

	c, _ := srv.Client(ctx)
	if _, _, err := c.CreateBranchProtection(gitea.AdminUser, "errors", sdk.CreateBranchProtectionOption{RuleName: "plumbline/*", EnablePush: false}); err != nil {
		t.Fatal(err)
	}
	ws, err := Open(ctx, workspaceOpts(srv, url))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if _, err := EditTree(ws.Dir, "apps", ObjectChange{Object: webKey, File: "apps/web.yaml", Fields: []FieldChange{{Path: ".spec.replicas", Value: 5.0}}}); err != nil {
		t.Fatal(err)
	}
	_, err = ws.Push(ctx, PushOptions{Branch: "plumbline/modified-prot", Message: "keep", Author: author})
	if err == nil || !strings.Contains(err.Error(), "push plumbline/modified-prot") || strings.Contains(err.Error(), srv.Token) {
		t.Errorf("protected branch: %v", err)
	}
	t.Logf("protected branch: %v", err)

	down := workspaceOpts(srv, "http://127.0.0.1:1/plumbline-admin/errors.git")
	if _, err := Open(ctx, down); err == nil || !errors.Is(err, ErrUnreachable) {
		t.Errorf("server down: %v", err)
	}
	forge, _ = NewForge(ForgeOptions{Kind: ForgeGitea, RepoURL: "http://127.0.0.1:1/plumbline-admin/errors.git", Token: srv.Token})
	if _, err := forge.FindOpen(ctx, "x"); err == nil || !errors.Is(err, ErrForge) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("forge down: %v", err)
	}
}
