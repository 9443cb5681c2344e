package gitsource

import (
	"context"
	"net/http"
	"time"

	sdk "code.gitea.io/sdk/gitea"
)

// giteaForge is a Forge on Gitea, through code.gitea.io/sdk/gitea.
type giteaForge struct {
	opts ForgeOptions
	http *http.Client
}

func newGitea(opts ForgeOptions) (*giteaForge, error) {
	return &giteaForge{opts: opts, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

func (g *giteaForge) client(ctx context.Context) (*sdk.Client, error) {
	// SetGiteaVersion("") skips the version request the SDK makes at construction.
	return sdk.NewClient(g.opts.APIURL, sdk.SetToken(g.opts.Token), sdk.SetContext(ctx), sdk.SetHTTPClient(g.http), sdk.SetGiteaVersion(""))
}

func (g *giteaForge) fail(op string, err error) error {
	return forgeErr(ForgeGitea, g.opts.Owner, g.opts.Repo, op, err, g.opts.Token)
}

func (g *giteaForge) FindOpen(ctx context.Context, branch string) (*PullRequest, error) {
	c, err := g.client(ctx)
	if err != nil {
		return nil, g.fail("find pull request", err)
	}
	for page := 1; ; page++ {
		prs, resp, err := c.ListRepoPullRequests(g.opts.Owner, g.opts.Repo, sdk.ListPullRequestsOptions{
			ListOptions: sdk.ListOptions{Page: page, PageSize: 50}, State: sdk.StateOpen})
		if err != nil {
			return nil, g.fail("find pull request", err)
		}
		for _, pr := range prs {
			if pr.Head != nil && pr.Head.Ref == branch {
				return g.convert(pr), nil
			}
		}
		if len(prs) == 0 || resp == nil || resp.NextPage == 0 {
			return nil, nil
		}
	}
}

func (g *giteaForge) Create(ctx context.Context, in NewPullRequest) (*PullRequest, error) {
	c, err := g.client(ctx)
	if err != nil {
		return nil, g.fail("create pull request", err)
	}
	pr, _, err := c.CreatePullRequest(g.opts.Owner, g.opts.Repo, sdk.CreatePullRequestOption{Head: in.Branch, Base: in.Base, Title: in.Title, Body: in.Body})
	if err != nil {
		return nil, g.fail("create pull request", err)
	}
	return g.convert(pr), nil
}

func (g *giteaForge) Update(ctx context.Context, number int64, title, body string) (*PullRequest, error) {
	c, err := g.client(ctx)
	if err != nil {
		return nil, g.fail("update pull request", err)
	}
	pr, _, err := c.EditPullRequest(g.opts.Owner, g.opts.Repo, number, sdk.EditPullRequestOption{Title: title, Body: &body})
	if err != nil {
		return nil, g.fail("update pull request", err)
	}
	return g.convert(pr), nil
}

func (g *giteaForge) Comment(ctx context.Context, number int64, body string) error {
	c, err := g.client(ctx)
	if err != nil {
		return g.fail("comment", err)
	}
	if _, _, err := c.CreateIssueComment(g.opts.Owner, g.opts.Repo, number, sdk.CreateIssueCommentOption{Body: body}); err != nil {
		return g.fail("comment", err)
	}
	return nil
}

func (g *giteaForge) Close(ctx context.Context, number int64) error {
	c, err := g.client(ctx)
	if err != nil {
		return g.fail("close pull request", err)
	}
	closed := sdk.StateClosed
	if _, _, err := c.EditPullRequest(g.opts.Owner, g.opts.Repo, number, sdk.EditPullRequestOption{State: &closed}); err != nil {
		return g.fail("close pull request", err)
	}
	return nil
}

func (g *giteaForge) Get(ctx context.Context, number int64) (*PullRequest, error) {
	c, err := g.client(ctx)
	if err != nil {
		return nil, g.fail("get pull request", err)
	}
	pr, _, err := c.GetPullRequest(g.opts.Owner, g.opts.Repo, number)
	if err != nil {
		return nil, g.fail("get pull request", err)
	}
	out := g.convert(pr)
	if out.State == PullRequestClosed {
		// Gitea's pull request has no closed_by: the timeline's last close event names them.
		events, _, err := c.ListIssueTimeline(g.opts.Owner, g.opts.Repo, number, sdk.ListIssueCommentOptions{})
		if err == nil {
			for _, e := range events {
				if e.Type == "close" && e.Poster != nil {
					out.By = e.Poster.UserName
				}
			}
		}
	}
	return out, nil
}

func (g *giteaForge) convert(pr *sdk.PullRequest) *PullRequest {
	out := &PullRequest{Number: pr.Index, URL: pr.HTMLURL, Title: pr.Title, Body: pr.Body, State: PullRequestOpen}
	if pr.Head != nil {
		out.Branch = pr.Head.Ref
	}
	if pr.Base != nil {
		out.Base = pr.Base.Ref
	}
	switch {
	case pr.HasMerged:
		out.State = PullRequestMerged
		if pr.MergedBy != nil {
			out.By = pr.MergedBy.UserName
		}
	case pr.State == sdk.StateClosed:
		out.State = PullRequestClosed
	}
	return out
}
