package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// ErrNoChange is returned by Workspace.Push when the edits left the tree as the base had it.
var ErrNoChange = errors.New("the edit changes nothing")

// WorkspaceOptions say which branch of which remote a Workspace starts from.
type WorkspaceOptions struct {
	// URL is the remote, as FetchOptions.URL. Required.
	URL string
	// Base is the branch the proposal is based on. Empty: the remote's default branch.
	Base string
	// Auth holds the credentials for fetching and pushing; nil means anonymous.
	Auth *Auth
	// InsecureHTTP allows credentials over plain http://, as FetchOptions.InsecureHTTP.
	InsecureHTTP bool
	// Timeout bounds Open and each Push. Zero: only ctx bounds them.
	Timeout time.Duration
}

// Workspace is a writable checkout of the tip of one branch, for editing and pushing one
// proposal branch. It is never the read-only tree Fetch hands out.
type Workspace struct {
	// Dir is the checked-out tree; edit files under it.
	Dir string
	// Base is the full name of the base branch (refs/heads/main) and BaseCommit its tip.
	Base       string
	BaseCommit string

	opts     WorkspaceOptions
	redacted string
	rem      *remote
	repo     *git.Repository
	tmp      string
	scrub    scrubber
}

// Open clones the tip of opts.Base (depth 1) into a new temporary folder. Close removes it.
func Open(ctx context.Context, opts WorkspaceOptions) (*Workspace, error) {
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	w := &Workspace{opts: opts, redacted: RedactURL(opts.URL), scrub: newScrubber(opts.URL, opts.Auth)}
	rem, err := newRemote(opts.URL, opts.Auth, opts.InsecureHTTP, 0)
	if err != nil {
		return nil, w.fail("configure", err)
	}
	w.rem = rem
	refs, err := listRefs(ctx, rem)
	if err != nil {
		return nil, w.fail("list refs", err)
	}
	t, err := resolve(refs, opts.Base)
	if err != nil {
		return nil, w.fail("resolve base", err)
	}
	if t.exact || !t.name.IsBranch() {
		return nil, w.fail("resolve base", fmt.Errorf("%q is not a branch: a proposal needs a branch to merge into", opts.Base))
	}
	tmp, err := os.MkdirTemp("", "plumbline-propose-")
	if err != nil {
		return nil, w.fail("clone", err)
	}
	w.tmp, w.Dir, w.Base = tmp, tmp, t.name.String()
	repo, err := git.PlainCloneContext(ctx, tmp, false, &git.CloneOptions{
		URL: rem.url, Auth: rem.auth, CABundle: rem.caBundle, ReferenceName: t.name,
		SingleBranch: true, Depth: 1, Tags: git.NoTags,
	})
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, w.fail("clone", err)
	}
	head, err := repo.Head()
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, w.fail("clone", err)
	}
	w.repo, w.BaseCommit = repo, head.Hash().String()
	return w, nil
}

// Close removes the workspace's folder. It does nothing on a nil Workspace or a second call.
func (w *Workspace) Close() error {
	if w == nil || w.tmp == "" {
		return nil
	}
	tmp := w.tmp
	w.tmp = ""
	return os.RemoveAll(tmp)
}

// Signature is the author and committer of a proposal commit.
type Signature struct {
	Name  string
	Email string
}

// PushOptions say what Push commits and where.
type PushOptions struct {
	// Branch is the proposal branch, without refs/heads/. Required.
	Branch string
	// Message is the commit message. Required.
	Message string
	// Author signs the commit, as author and committer. Required.
	Author Signature
	// When is the commit time. Zero: now.
	When time.Time
}

// PushResult says what Push did.
type PushResult struct {
	// Commit is the tip of the proposal branch on the remote after Push.
	Commit string
	// Pushed is false when the remote branch already held the same change on the same base:
	// nothing was sent.
	Pushed bool
	// Rebased is true when the remote branch existed on an older base (or with another
	// change) and was replaced by a force-push.
	Rebased bool
}

// Push commits every change under Dir as one commit on top of the base tip and puts it on the
// remote's opts.Branch. When that branch already holds a commit with the same tree on the same
// base, nothing is pushed; when it holds anything else (the base moved, the drift changed), it
// is replaced with a force-push: the branch is always one commit on the current base. A tree
// equal to the base's is ErrNoChange.
func (w *Workspace) Push(ctx context.Context, opts PushOptions) (PushResult, error) {
	if opts.Branch == "" || opts.Message == "" || opts.Author.Name == "" || opts.Author.Email == "" {
		return PushResult{}, w.fail("commit", errors.New("a branch, a message and an author name and email are required"))
	}
	if w.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.opts.Timeout)
		defer cancel()
	}
	wt, err := w.repo.Worktree()
	if err != nil {
		return PushResult{}, w.fail("commit", err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return PushResult{}, w.fail("commit", err)
	}
	status, err := wt.Status()
	if err != nil {
		return PushResult{}, w.fail("commit", err)
	}
	if status.IsClean() {
		return PushResult{}, ErrNoChange
	}
	when := opts.When
	if when.IsZero() {
		when = time.Now()
	}
	sig := &object.Signature{Name: opts.Author.Name, Email: opts.Author.Email, When: when}
	commit, err := wt.Commit(opts.Message, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return PushResult{}, w.fail("commit", err)
	}
	ours, err := w.repo.CommitObject(commit)
	if err != nil {
		return PushResult{}, w.fail("commit", err)
	}
	branch := plumbing.NewBranchReferenceName(opts.Branch)
	res := PushResult{Commit: commit.String(), Pushed: true}
	if theirs, err := w.remoteBranch(ctx, branch); err != nil {
		return PushResult{}, w.fail("list refs", err)
	} else if theirs != nil {
		if theirs.TreeHash == ours.TreeHash && len(theirs.ParentHashes) == 1 && theirs.ParentHashes[0].String() == w.BaseCommit {
			return PushResult{Commit: theirs.Hash.String()}, nil
		}
		res.Rebased = true
	}
	if err := w.repo.Storer.SetReference(plumbing.NewHashReference(branch, commit)); err != nil {
		return PushResult{}, w.fail("commit", err)
	}
	spec := config.RefSpec("+" + branch.String() + ":" + branch.String())
	err = w.repo.PushContext(ctx, &git.PushOptions{
		RemoteName: git.DefaultRemoteName, RefSpecs: []config.RefSpec{spec}, Auth: w.rem.auth, CABundle: w.rem.caBundle, Force: true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return PushResult{}, w.fail("push "+opts.Branch, err)
	}
	return res, nil
}

// remoteBranch returns the remote's commit of branch, fetched, or nil when there is none.
func (w *Workspace) remoteBranch(ctx context.Context, branch plumbing.ReferenceName) (*object.Commit, error) {
	refs, err := listRefs(ctx, w.rem)
	if err != nil {
		return nil, err
	}
	var hash plumbing.Hash
	for _, r := range refs {
		if r.Name() == branch {
			hash = r.Hash()
		}
	}
	if hash.IsZero() {
		return nil, nil
	}
	if c, err := w.repo.CommitObject(hash); err == nil {
		return c, nil
	}
	local := plumbing.ReferenceName("refs/remotes/origin/plumbline-proposal")
	err = w.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: git.DefaultRemoteName, Auth: w.rem.auth, CABundle: w.rem.caBundle, Depth: 1,
		RefSpecs: []config.RefSpec{config.RefSpec("+" + branch.String() + ":" + local.String())}, Tags: git.NoTags,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) && !errors.Is(err, transport.ErrEmptyUploadPackRequest) {
		return nil, err
	}
	return w.repo.CommitObject(hash)
}

func (w *Workspace) fail(op string, err error) *Error {
	return &Error{URL: w.redacted, Ref: w.opts.Base, Op: op, Kind: classify(err), Err: w.scrub.wrap(err)}
}
