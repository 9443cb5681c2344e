package gitsource

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// FetchOptions says what Fetch gets and from where.
type FetchOptions struct {
	// URL is the remote: https://, http://, ssh://, an SCP-like
	// git@host:path, file://, or a local path. Required. It must not
	// contain a password; a user name (ssh://git@host/...) is fine.
	URL string
	// Ref is the branch, tag or commit. Empty or "HEAD" means the remote's
	// default branch; "main" is the branch main, else the tag main;
	// "refs/heads/x" and "refs/tags/v1" are taken as they are; a 40-hex
	// string is a commit.
	Ref string
	// Auth holds the credentials; nil means anonymous.
	Auth *Auth
	// CacheDir, when set, keeps one read-only tree per remote and commit
	// under it, created 0700 if missing, and reuses them across calls and
	// processes. Empty means a temporary directory per call, which
	// Result.Close removes.
	CacheDir string
	// Timeout bounds the whole call, listing, fetching and checking out.
	// Zero or less means only ctx bounds it. DefaultFetchOptions sets 60s.
	Timeout time.Duration
	// InsecureHTTP allows sending credentials over a plain http:// URL.
	// Default false: such a Fetch fails before any request.
	InsecureHTTP bool
}

// DefaultFetchOptions returns options with Timeout 60s, the remote's default
// branch, no credentials and no cache. Set at least URL.
func DefaultFetchOptions() FetchOptions {
	return FetchOptions{Timeout: 60 * time.Second}
}

// Result is one fetched commit and its tree.
type Result struct {
	// URL is the remote, redacted by RedactURL.
	URL string
	// Ref is the resolved ref: a full name such as refs/heads/main or
	// refs/tags/v1, "HEAD" when the remote's HEAD is detached, or the
	// commit SHA when a commit was asked for.
	Ref string
	// Commit is the SHA of the commit whose files are in Dir.
	Commit string
	// Dir is the checked-out tree: files 0444, directories 0555, no .git.
	// It must not be written to, even by root: cached trees are shared.
	Dir string
	// FromCache is true when Dir was already in the cache and nothing but
	// the ref listing went over the network.
	FromCache bool

	// tmp is the temporary directory that Close removes; empty for cached
	// trees.
	tmp string
}

// Close removes a temporary tree. It does nothing for a cached tree, for a
// nil *Result, or when called again.
func (r *Result) Close() error {
	if r == nil || r.tmp == "" {
		return nil
	}
	tmp := r.tmp
	r.tmp = ""
	if err := removeTree(tmp); err != nil {
		return fmt.Errorf("%s: remove checkout: %w", r.URL, err)
	}
	return nil
}

// Fetch resolves opts.Ref with one ls-remote-style request, then hands out
// the tree of that commit: from opts.CacheDir when it holds it (no clone, no
// fetch), else by a shallow fetch and checkout.
//
// Errors are *Error, name the redacted URL and the ref, never contain a
// credential, and match one of ErrAuth, ErrHostKey, ErrRefNotFound,
// ErrRepositoryNotFound or ErrUnreachable where one applies. Fetch never
// returns a partial tree: on error nothing is left behind but, in the cache,
// a staging directory that later calls clean up.
func Fetch(ctx context.Context, opts FetchOptions) (*Result, error) {
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	f := fetcher{opts: opts, redacted: RedactURL(opts.URL), scrub: newScrubber(opts.URL, opts.Auth)}

	// go-git's SSH dial does not follow ctx; give it the time that is left.
	var dialTimeout time.Duration
	if deadline, ok := ctx.Deadline(); ok {
		dialTimeout = max(time.Until(deadline), time.Millisecond)
	}
	rem, err := newRemote(opts.URL, opts.Auth, opts.InsecureHTTP, dialTimeout)
	if err != nil {
		return nil, f.fail("configure", err)
	}

	refs, err := listRefs(ctx, rem)
	if err != nil {
		return nil, f.fail("list refs", err)
	}
	t, err := resolve(refs, opts.Ref)
	if err != nil {
		return nil, f.fail("resolve ref", err)
	}

	if opts.CacheDir == "" {
		return f.fetchTemp(ctx, rem, t)
	}
	return f.fetchCached(ctx, rem, t)
}

// fetcher carries one Fetch call's options and its error helpers.
type fetcher struct {
	opts     FetchOptions
	redacted string
	scrub    scrubber
}

// fail wraps err for the caller: kind, redacted URL and ref, scrubbed text.
func (f fetcher) fail(op string, err error) *Error {
	return &Error{URL: f.redacted, Ref: f.opts.Ref, Op: op, Kind: classify(err), Err: f.scrub.wrap(err)}
}

// result builds the Result of a checked-out commit.
func (f fetcher) result(t target, commit plumbing.Hash, dir string) *Result {
	ref := t.name.String()
	if t.exact {
		ref = commit.String()
	}
	return &Result{URL: f.redacted, Ref: ref, Commit: commit.String(), Dir: dir}
}

// fetchTemp checks t out into a new temporary directory.
func (f fetcher) fetchTemp(ctx context.Context, rem *remote, t target) (*Result, error) {
	tmp, err := os.MkdirTemp("", "plumbline-gitsource-")
	if err != nil {
		return nil, f.fail("checkout", err)
	}
	commit, err := checkout(ctx, rem, t, tmp)
	if err == nil {
		err = sealTree(filepath.Join(tmp, "tree"), true)
	}
	if err != nil {
		if rmErr := removeTree(tmp); rmErr != nil {
			err = fmt.Errorf("%w (and removing the checkout: %w)", err, rmErr)
		}
		return nil, f.fail("fetch", err)
	}
	res := f.result(t, commit, filepath.Join(tmp, "tree"))
	res.tmp = tmp
	return res, nil
}

// fetchCached hands out the cached tree of t.commit, or fetches and
// publishes it.
func (f fetcher) fetchCached(ctx context.Context, rem *remote, t target) (*Result, error) {
	remoteDir := cacheDirFor(f.opts.CacheDir, f.opts.URL)
	dir, ok, err := cachedTree(remoteDir, t.commit.String())
	if err != nil {
		return nil, f.fail("cache", err)
	}
	if ok {
		res := f.result(t, t.commit, dir)
		res.FromCache = true
		return res, nil
	}

	work, err := newStaging(remoteDir, time.Now())
	if err != nil {
		return nil, f.fail("cache", err)
	}
	commit, err := checkout(ctx, rem, t, work)
	if err != nil {
		if rmErr := removeTree(work); rmErr != nil {
			err = fmt.Errorf("%w (and removing the checkout: %w)", err, rmErr)
		}
		return nil, f.fail("fetch", err)
	}
	dir, err = publish(remoteDir, work, commit.String())
	if err != nil {
		return nil, f.fail("cache", err)
	}
	return f.result(t, commit, dir), nil
}
