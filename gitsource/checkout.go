package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// fetchedRef is where every fetch stores the ref it brought in.
const fetchedRef = plumbing.ReferenceName("refs/heads/plumbline-fetched")

// checkout fetches t from r and writes the files of its commit into
// workDir/tree, using workDir/git as a throw-away object store that is
// removed on success. It returns the commit that was checked out: for a
// branch or tag that may be newer than t.commit if the tip moved since the
// ref was listed; for a commit it is always t.commit.
//
// Strategy, cheapest first:
//  1. a shallow (depth 1) fetch of the advertised ref t.name;
//  2. for a commit that no ref points at, a shallow fetch of that SHA, which
//     only servers that allow unadvertised wants (uploadpack.allowReachable
//     SHA1InWant, as GitHub does) accept;
//  3. for a commit still missing, a full fetch of all branches and tags, then
//     a checkout of that commit if it is among them.
func checkout(ctx context.Context, r *remote, t target, workDir string) (plumbing.Hash, error) {
	type attempt struct {
		spec  config.RefSpec
		depth int
	}
	var attempts []attempt
	if t.name != "" {
		attempts = append(attempts, attempt{config.RefSpec("+" + t.name.String() + ":" + fetchedRef.String()), 1})
	}
	if t.exact {
		attempts = append(attempts,
			attempt{config.RefSpec(t.commit.String() + ":" + fetchedRef.String()), 1},
			attempt{"", 0}) // full fetch
	}

	var lastErr error
	for i, a := range attempts {
		gitDir := filepath.Join(workDir, "git")
		if err := os.RemoveAll(gitDir); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("clean object store: %w", err)
		}
		repo, err := git.Init(
			filesystem.NewStorage(osfs.New(gitDir), cache.NewObjectLRUDefault()),
			osfs.New(filepath.Join(workDir, "tree"), osfs.WithBoundOS()),
		)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("init object store: %w", err)
		}
		commit, err := fetchOne(ctx, repo, r, t, a.spec, a.depth)
		if err == nil {
			if err := checkoutCommit(repo, commit); err != nil {
				return plumbing.ZeroHash, fmt.Errorf("checkout %s: %w", commit, err)
			}
			// go-git links a worktree to a separate object store with a
			// ".git" file; the tree is handed out without either.
			if err := os.Remove(filepath.Join(workDir, "tree", git.GitDirName)); err != nil {
				return plumbing.ZeroHash, fmt.Errorf("remove .git link: %w", err)
			}
			if err := os.RemoveAll(gitDir); err != nil {
				return plumbing.ZeroHash, fmt.Errorf("remove object store: %w", err)
			}
			return commit, nil
		}
		lastErr = err
		// Errors about the remote itself will not change with another
		// strategy; only a refused or missing commit is worth a retry.
		if i == len(attempts)-1 || ctx.Err() != nil {
			break
		}
		if kind := classify(err); kind != nil && kind != ErrRefNotFound {
			break
		}
	}
	return plumbing.ZeroHash, lastErr
}

// fetchOne runs one fetch into repo and returns the commit to check out.
// An empty spec fetches all branches and tags.
func fetchOne(ctx context.Context, repo *git.Repository, r *remote, t target, spec config.RefSpec, depth int) (plumbing.Hash, error) {
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{r.url}}); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("create remote: %w", err)
	}
	specs := []config.RefSpec{spec}
	tags := git.NoTags
	if spec == "" {
		specs = []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*"}
		tags = git.AllTags
	}
	err := repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: git.DefaultRemoteName,
		RefSpecs:   specs,
		Depth:      depth,
		Auth:       r.auth,
		CABundle:   r.caBundle,
		Tags:       tags,
		Force:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return plumbing.ZeroHash, fmt.Errorf("fetch: %w", err)
	}

	if t.exact {
		if _, err := repo.CommitObject(t.commit); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("%w: commit %s is not on any branch or tag the remote serves", ErrRefNotFound, t.commit)
		}
		return t.commit, nil
	}
	ref, err := repo.Reference(fetchedRef, false)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("%w: %s was not fetched: %w", ErrRefNotFound, t.name, err)
	}
	return peel(repo, ref.Hash())
}

// peel returns the commit that h names, following annotated tags.
func peel(repo *git.Repository, h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		obj, err := repo.Object(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read object %s: %w", h, err)
		}
		switch o := obj.(type) {
		case *object.Commit:
			return o.Hash, nil
		case *object.Tag:
			h = o.Target
		default:
			return plumbing.ZeroHash, fmt.Errorf("%w: %s is a %s, not a commit", ErrRefNotFound, h, obj.Type())
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: tag chain at %s is too deep", ErrRefNotFound, h)
}

// checkoutCommit writes the files of commit into repo's worktree.
func checkoutCommit(repo *git.Repository, commit plumbing.Hash) error {
	wt, err := repo.Worktree()
	if err != nil {
		return err
	}
	return wt.Checkout(&git.CheckoutOptions{Hash: commit, Force: true})
}
