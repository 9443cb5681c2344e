package gitsource

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// PullRequestState is where a pull request is in its life.
type PullRequestState string

// Pull request states.
const (
	PullRequestOpen   PullRequestState = "open"
	PullRequestMerged PullRequestState = "merged"
	PullRequestClosed PullRequestState = "closed"
)

// PullRequest is a pull request as a Forge reports it.
type PullRequest struct {
	Number int64
	URL    string
	// Branch is the head branch, Base the branch it merges into.
	Branch string
	Base   string
	Title  string
	Body   string
	State  PullRequestState
	// By is who merged or closed it, when the forge says.
	By string
}

// NewPullRequest is what Create opens.
type NewPullRequest struct {
	Branch string
	Base   string
	Title  string
	Body   string
}

// Forge opens and follows pull requests on one repository. Gitea, GitHub and GitLab (whose
// merge requests are its pull requests) implement it.
type Forge interface {
	// FindOpen returns the open pull request from branch, or nil when there is none.
	FindOpen(ctx context.Context, branch string) (*PullRequest, error)
	// Create opens a pull request.
	Create(ctx context.Context, pr NewPullRequest) (*PullRequest, error)
	// Update sets the title and body of an open pull request.
	Update(ctx context.Context, number int64, title, body string) (*PullRequest, error)
	// Comment adds a comment.
	Comment(ctx context.Context, number int64, body string) error
	// Close closes a pull request without merging it.
	Close(ctx context.Context, number int64) error
	// Get returns a pull request with its state and who merged or closed it.
	Get(ctx context.Context, number int64) (*PullRequest, error)
}

// ForgeKind names a forge implementation.
type ForgeKind string

// Forge kinds.
const (
	ForgeGitea  ForgeKind = "gitea"
	ForgeGitHub ForgeKind = "github"
	ForgeGitLab ForgeKind = "gitlab"
)

// ForgeOptions say which forge and repository a Forge talks to.
type ForgeOptions struct {
	Kind ForgeKind
	// APIURL is the forge's API root: for Gitea its web root (https://gitea.example), for
	// GitHub Enterprise https://host/api/v3/, for GitLab https://host/api/v4. Empty:
	// https://api.github.com/ for GitHub; for Gitea the scheme and host of the repository URL,
	// for GitLab the same followed by /api/v4.
	APIURL string
	// Owner and Repo name the repository. Empty: read from RepoURL. On GitLab Owner is the
	// whole namespace, groups and subgroups (group/sub).
	Owner, Repo string
	// RepoURL is the Git URL of the repository, for the defaults above.
	RepoURL string
	// Token is the API token. Required. It never appears in errors.
	Token string
}

// ErrForge marks a forge's refusal or failure; errors wrapping it name the forge, the
// repository and the operation, never the token.
var ErrForge = errors.New("forge")

// NewForge returns the Forge of opts.Kind.
func NewForge(opts ForgeOptions) (Forge, error) {
	if opts.Token == "" {
		return nil, errors.New("forge: no token")
	}
	if opts.Owner == "" || opts.Repo == "" {
		owner, repo, host, err := ownerRepo(opts.RepoURL)
		if err != nil {
			return nil, err
		}
		opts.Owner, opts.Repo = owner, repo
		switch opts.Kind {
		case ForgeGitea:
			if opts.APIURL == "" {
				opts.APIURL = host
			}
		case ForgeGitLab:
			if opts.Owner, err = gitlabNamespace(opts.RepoURL); err != nil {
				return nil, err
			}
			if opts.APIURL == "" {
				opts.APIURL = host + "/api/v4"
			}
		}
	}
	switch opts.Kind {
	case ForgeGitea:
		return newGitea(opts)
	case ForgeGitHub:
		return newGitHub(opts)
	case ForgeGitLab:
		return newGitLab(opts)
	}
	return nil, fmt.Errorf("forge: unknown kind %q: want gitea, github or gitlab", opts.Kind)
}

// ownerRepo reads owner, repository and scheme://host from an https://host/owner/repo(.git)
// or git@host:owner/repo(.git) URL. The owner is the segment before the repository's.
func ownerRepo(raw string) (owner, repo, host string, err error) {
	parts, host, err := repoPath(raw)
	if err != nil {
		return "", "", "", err
	}
	return parts[len(parts)-2], parts[len(parts)-1], host, nil
}

// repoPath reads the path segments (at least two, without .git) and scheme://host of a
// repository URL, as ownerRepo documents.
func repoPath(raw string) (parts []string, host string, err error) {
	var p string
	if u, perr := url.Parse(raw); perr == nil && u.Host != "" {
		p, host = u.Path, u.Scheme+"://"+u.Host
		if u.Scheme == "ssh" {
			host = "https://" + u.Hostname()
		}
	} else if at, rest, ok := strings.Cut(raw, ":"); ok && strings.Contains(at, "@") {
		p, host = rest, "https://"+at[strings.Index(at, "@")+1:]
	} else {
		return nil, "", fmt.Errorf("forge: cannot read owner and repository from %s", RedactURL(raw))
	}
	parts = strings.Split(strings.Trim(strings.TrimSuffix(p, ".git"), "/"), "/")
	if len(parts) < 2 {
		return nil, "", fmt.Errorf("forge: cannot read owner and repository from %s", RedactURL(raw))
	}
	return parts, host, nil
}

func forgeErr(kind ForgeKind, owner, repo, op string, err error, token string) error {
	msg := err.Error()
	if token != "" {
		msg = strings.ReplaceAll(msg, token, "[redacted]")
	}
	return fmt.Errorf("%w: %s %s/%s: %s: %s", ErrForge, kind, owner, repo, op, msg)
}
