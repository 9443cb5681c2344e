package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	sdk "code.gitea.io/sdk/gitea"
	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/plumbline/plumbline/test/gitea"
)

// proposeStory is the approval path: a drift becomes a pull request on a local Gitea, and
// merging it makes Git the truth. It is skipped, saying so, when Gitea is not built.
func (d *demo) proposeStory(ctx context.Context) error {
	d.section("Story: keep a drift through a pull request")
	if _, err := gitea.Binary(); err != nil {
		d.say("(Skipped: %v.)", err)
		return nil
	}
	srv, err := gitea.Start(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			d.g.log.Warn("stop gitea", "err", err)
		}
	}()
	url, err := srv.CreateRepo(ctx, "shop")
	if err != nil {
		return err
	}
	repo, err := git.PlainOpen(d.repo)
	if err != nil {
		return err
	}
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "gitea", URLs: []string{url}}); err != nil {
		return err
	}
	err = repo.PushContext(ctx, &git.PushOptions{RemoteName: "gitea", Auth: &githttp.BasicAuth{Username: gitea.AdminUser, Password: srv.Token},
		RefSpecs: []gitconfig.RefSpec{"+refs/heads/main:refs/heads/main"}})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return err
	}
	tokenFile := filepath.Join(d.dir, "gitea-token")
	if err := os.WriteFile(tokenFile, []byte(srv.Token), 0o600); err != nil {
		return err
	}
	d.say("A local Gitea (%s) now hosts the desired-state repository: %s", srv.URL, url)
	d.say("Someone scales the shop up by hand, and wants to keep it:")
	if err := d.kubectl(ctx, "scale", "-n", d.namespace, "deployment/nginx-deployment", "--replicas=5"); err != nil {
		return err
	}
	diff := []string{"diff", "--repo", url, "--ref", "main", "--path", "apps/prod", "-n", d.namespace, "--source-name", demoSource, "--git-insecure-http"}
	d.expect(d.plumbline(ctx, exitFinding, diff...), "Reason: Replicas changed from 3 to 5")
	d.say("\nInstead of reverting, Plumbline writes the live value into Git as a pull request:")
	out := d.plumbline(ctx, exitOK, "propose", "--repo", url, "--ref", "main", "--path", "apps/prod", "-n", d.namespace,
		"--source-name", demoSource, "--forge", "gitea", "--token-file", tokenFile, "--git-insecure-http")
	d.expect(out, "Modified Deployment/"+d.namespace+"/nginx-deployment: pull request "+srv.URL)
	c, err := srv.Client(ctx)
	if err != nil {
		return err
	}
	prs, _, err := c.ListRepoPullRequests(gitea.AdminUser, "shop", sdk.ListPullRequestsOptions{State: sdk.StateOpen})
	if err != nil {
		return err
	}
	if len(prs) != 1 {
		return fmt.Errorf("gitea: %d open pull requests, want 1", len(prs))
	}
	pr := prs[0]
	patch, _, err := c.GetPullRequestDiff(gitea.AdminUser, "shop", pr.Index, sdk.PullRequestDiffOptions{})
	if err != nil {
		return err
	}
	d.say("\nPull request #%d %q changes one line:", pr.Index, pr.Title)
	for _, l := range strings.Split(string(patch), "\n") {
		if (strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-")) && !strings.HasPrefix(l, "+++") && !strings.HasPrefix(l, "---") {
			d.say("  %s", l)
		}
	}
	d.say("\nA reviewer merges it. Git is now the truth, and the drift is gone:")
	if ok, _, err := c.MergePullRequest(gitea.AdminUser, "shop", pr.Index, sdk.MergePullRequestOption{Style: sdk.MergeStyleMerge}); err != nil || !ok {
		return fmt.Errorf("gitea: merge pull request #%d: %v", pr.Index, err)
	}
	d.expect(d.plumbline(ctx, exitOK, diff...), "No drift")
	d.say("\n(The next stories read the local repository again, which still says 3 replicas.)")
	return d.kubectl(ctx, "scale", "-n", d.namespace, "deployment/nginx-deployment", "--replicas=3")
}
