package gitsource

import (
	"context"
	"net/http"
	"time"

	"github.com/google/go-github/v75/github"
)

// githubForge is a Forge on GitHub (or GitHub Enterprise), through google/go-github.
type githubForge struct {
	opts ForgeOptions
	c    *github.Client
}

func newGitHub(opts ForgeOptions) (*githubForge, error) {
	c := github.NewClient(&http.Client{Timeout: 30 * time.Second}).WithAuthToken(opts.Token)
	if opts.APIURL != "" {
		var err error
		if c, err = c.WithEnterpriseURLs(opts.APIURL, opts.APIURL); err != nil {
			return nil, forgeErr(ForgeGitHub, opts.Owner, opts.Repo, "api URL", err, opts.Token)
		}
	}
	return &githubForge{opts: opts, c: c}, nil
}

func (g *githubForge) fail(op string, err error) error {
	return forgeErr(ForgeGitHub, g.opts.Owner, g.opts.Repo, op, err, g.opts.Token)
}

func (g *githubForge) FindOpen(ctx context.Context, branch string) (*PullRequest, error) {
	prs, _, err := g.c.PullRequests.List(ctx, g.opts.Owner, g.opts.Repo, &github.PullRequestListOptions{
		State: "open", Head: g.opts.Owner + ":" + branch})
	if err != nil {
		return nil, g.fail("find pull request", err)
	}
	for _, pr := range prs {
		if pr.GetHead().GetRef() == branch {
			return g.convert(pr), nil
		}
	}
	return nil, nil
}

func (g *githubForge) Create(ctx context.Context, in NewPullRequest) (*PullRequest, error) {
	pr, _, err := g.c.PullRequests.Create(ctx, g.opts.Owner, g.opts.Repo, &github.NewPullRequest{
		Title: github.Ptr(in.Title), Head: github.Ptr(in.Branch), Base: github.Ptr(in.Base), Body: github.Ptr(in.Body)})
	if err != nil {
		return nil, g.fail("create pull request", err)
	}
	return g.convert(pr), nil
}

func (g *githubForge) Update(ctx context.Context, number int64, title, body string) (*PullRequest, error) {
	pr, _, err := g.c.PullRequests.Edit(ctx, g.opts.Owner, g.opts.Repo, int(number), &github.PullRequest{Title: github.Ptr(title), Body: github.Ptr(body)})
	if err != nil {
		return nil, g.fail("update pull request", err)
	}
	return g.convert(pr), nil
}

func (g *githubForge) Comment(ctx context.Context, number int64, body string) error {
	if _, _, err := g.c.Issues.CreateComment(ctx, g.opts.Owner, g.opts.Repo, int(number), &github.IssueComment{Body: github.Ptr(body)}); err != nil {
		return g.fail("comment", err)
	}
	return nil
}

func (g *githubForge) Close(ctx context.Context, number int64) error {
	if _, _, err := g.c.PullRequests.Edit(ctx, g.opts.Owner, g.opts.Repo, int(number), &github.PullRequest{State: github.Ptr("closed")}); err != nil {
		return g.fail("close pull request", err)
	}
	return nil
}

func (g *githubForge) Get(ctx context.Context, number int64) (*PullRequest, error) {
	pr, _, err := g.c.PullRequests.Get(ctx, g.opts.Owner, g.opts.Repo, int(number))
	if err != nil {
		return nil, g.fail("get pull request", err)
	}
	out := g.convert(pr)
	if out.State == PullRequestClosed {
		// A pull request does not say who closed it; its issue does.
		if is, _, err := g.c.Issues.Get(ctx, g.opts.Owner, g.opts.Repo, int(number)); err == nil {
			out.By = is.GetClosedBy().GetLogin()
		}
	}
	return out, nil
}

func (g *githubForge) convert(pr *github.PullRequest) *PullRequest {
	out := &PullRequest{Number: int64(pr.GetNumber()), URL: pr.GetHTMLURL(), Branch: pr.GetHead().GetRef(), Base: pr.GetBase().GetRef(),
		Title: pr.GetTitle(), Body: pr.GetBody(), State: PullRequestOpen}
	switch {
	case pr.GetMerged():
		out.State, out.By = PullRequestMerged, pr.GetMergedBy().GetLogin()
	case pr.GetState() == "closed":
		out.State = PullRequestClosed
	}
	return out
}
