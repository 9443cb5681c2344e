package gitea

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	sdk "code.gitea.io/sdk/gitea"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// TestServerOpensPullRequest starts Gitea, pushes main and a branch over HTTP with the token,
// and opens, lists and merges a pull request through the SDK.
func TestServerOpensPullRequest(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	cloneURL, err := s.CreateRepo(ctx, "desired")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{cloneURL}}); err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	commit := func(content string) {
		if err := os.WriteFile(filepath.Join(dir, "README"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add("README"); err != nil {
			t.Fatal(err)
		}
		sig := &object.Signature{Name: "t", Email: "t@example.com", When: time.Now()}
		if _, err := wt.Commit(content, &git.CommitOptions{Author: sig}); err != nil {
			t.Fatal(err)
		}
	}
	auth := &githttp.BasicAuth{Username: AdminUser, Password: s.Token}
	commit("one")
	if err := repo.Push(&git.PushOptions{Auth: auth, RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/main"}}); err != nil {
		t.Fatal(err)
	}
	commit("two")
	if err := repo.Push(&git.PushOptions{Auth: auth, RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/change"}}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pr, _, err := c.CreatePullRequest(AdminUser, "desired", sdk.CreatePullRequestOption{Head: "change", Base: "main", Title: "two", Body: "the second"})
	if err != nil {
		t.Fatal(err)
	}
	prs, _, err := c.ListRepoPullRequests(AdminUser, "desired", sdk.ListPullRequestsOptions{State: sdk.StateOpen})
	if err != nil || len(prs) != 1 || prs[0].Title != "two" {
		t.Fatalf("open pull requests: %v, %v", prs, err)
	}
	if ok, _, err := c.MergePullRequest(AdminUser, "desired", pr.Index, sdk.MergePullRequestOption{Style: sdk.MergeStyleMerge}); err != nil || !ok {
		t.Fatalf("merge: %v %v", ok, err)
	}
	got, _, err := c.GetPullRequest(AdminUser, "desired", pr.Index)
	if err != nil || !got.HasMerged {
		t.Fatalf("after merge: %+v, %v", got, err)
	}
}
