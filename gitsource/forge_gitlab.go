package gitsource

import (
	"context"
	"net/http"
	"strings"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// gitlabForge is a Forge on GitLab (gitlab.com or self-managed), through
// gitlab.com/gitlab-org/api/client-go. Its pull requests are merge requests, numbered by their
// IID, the number within the project that the web pages show (not the global ID).
type gitlabForge struct {
	opts ForgeOptions
	// project is the project's full path, namespace and name (group/sub/repo); the client
	// escapes it into the request path.
	project string
	c       *gitlab.Client
}

func newGitLab(opts ForgeOptions) (*gitlabForge, error) {
	copts := []gitlab.ClientOptionFunc{
		gitlab.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		// As the other forges: no retries here; the caller retries at its next interval.
		gitlab.WithoutRetries(),
	}
	if opts.APIURL != "" {
		copts = append(copts, gitlab.WithBaseURL(opts.APIURL))
	}
	// NewClient sends the token in the PRIVATE-TOKEN header.
	c, err := gitlab.NewClient(opts.Token, copts...)
	if err != nil {
		return nil, forgeErr(ForgeGitLab, opts.Owner, opts.Repo, "api URL", err, opts.Token)
	}
	return &gitlabForge{opts: opts, project: opts.Owner + "/" + opts.Repo, c: c}, nil
}

// gitlabNamespace returns the namespace of a GitLab repository URL: every path segment before
// the repository's, since GitLab's groups nest (https://gitlab.example/group/sub/repo.git is
// the project repo of namespace group/sub).
func gitlabNamespace(raw string) (string, error) {
	parts, _, err := repoPath(raw)
	if err != nil {
		return "", err
	}
	return strings.Join(parts[:len(parts)-1], "/"), nil
}

func (g *gitlabForge) fail(op string, err error) error {
	return forgeErr(ForgeGitLab, g.opts.Owner, g.opts.Repo, op, err, g.opts.Token)
}

func (g *gitlabForge) FindOpen(ctx context.Context, branch string) (*PullRequest, error) {
	mrs, _, err := g.c.MergeRequests.ListProjectMergeRequests(g.project, &gitlab.ListProjectMergeRequestsOptions{
		State: gitlab.Ptr("opened"), SourceBranch: gitlab.Ptr(branch)}, gitlab.WithContext(ctx))
	if err != nil {
		return nil, g.fail("find merge request", err)
	}
	for _, mr := range mrs {
		// A fork's merge request may come from a branch of the same name: only the
		// project's own branch is Plumbline's.
		if mr.SourceBranch == branch && mr.SourceProjectID == mr.TargetProjectID {
			return g.convert(mr), nil
		}
	}
	return nil, nil
}

func (g *gitlabForge) Create(ctx context.Context, in NewPullRequest) (*PullRequest, error) {
	mr, _, err := g.c.MergeRequests.CreateMergeRequest(g.project, &gitlab.CreateMergeRequestOptions{
		Title: gitlab.Ptr(in.Title), Description: gitlab.Ptr(in.Body), SourceBranch: gitlab.Ptr(in.Branch),
		TargetBranch: gitlab.Ptr(in.Base), RemoveSourceBranch: gitlab.Ptr(true)}, gitlab.WithContext(ctx))
	if err != nil {
		return nil, g.fail("create merge request", err)
	}
	return g.convert(&mr.BasicMergeRequest), nil
}

func (g *gitlabForge) Update(ctx context.Context, number int64, title, body string) (*PullRequest, error) {
	mr, _, err := g.c.MergeRequests.UpdateMergeRequest(g.project, number, &gitlab.UpdateMergeRequestOptions{
		Title: gitlab.Ptr(title), Description: gitlab.Ptr(body)}, gitlab.WithContext(ctx))
	if err != nil {
		return nil, g.fail("update merge request", err)
	}
	return g.convert(&mr.BasicMergeRequest), nil
}

func (g *gitlabForge) Comment(ctx context.Context, number int64, body string) error {
	if _, _, err := g.c.Notes.CreateMergeRequestNote(g.project, number, &gitlab.CreateMergeRequestNoteOptions{Body: gitlab.Ptr(body)}, gitlab.WithContext(ctx)); err != nil {
		return g.fail("comment", err)
	}
	return nil
}

func (g *gitlabForge) Close(ctx context.Context, number int64) error {
	if _, _, err := g.c.MergeRequests.UpdateMergeRequest(g.project, number, &gitlab.UpdateMergeRequestOptions{StateEvent: gitlab.Ptr("close")}, gitlab.WithContext(ctx)); err != nil {
		return g.fail("close merge request", err)
	}
	return nil
}

func (g *gitlabForge) Get(ctx context.Context, number int64) (*PullRequest, error) {
	mr, _, err := g.c.MergeRequests.GetMergeRequest(g.project, number, nil, gitlab.WithContext(ctx))
	if err != nil {
		return nil, g.fail("get merge request", err)
	}
	return g.convert(&mr.BasicMergeRequest), nil
}

// convert maps GitLab's states (opened, locked while it merges, merged, closed) onto the
// Forge's.
func (g *gitlabForge) convert(mr *gitlab.BasicMergeRequest) *PullRequest {
	out := &PullRequest{Number: mr.IID, URL: mr.WebURL, Branch: mr.SourceBranch, Base: mr.TargetBranch,
		Title: mr.Title, Body: mr.Description, State: PullRequestOpen}
	switch mr.State {
	case "merged":
		out.State = PullRequestMerged
		// merged_by is deprecated in favour of merge_user; servers send both, older ones
		// only merged_by.
		switch {
		case mr.MergedBy != nil:
			out.By = mr.MergedBy.Username
		case mr.MergeUser != nil:
			out.By = mr.MergeUser.Username
		}
	case "closed":
		out.State = PullRequestClosed
		if mr.ClosedBy != nil {
			out.By = mr.ClosedBy.Username
		}
	}
	return out
}
