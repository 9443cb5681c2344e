package gitsource

import (
	"context"
	"fmt"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// target is a ref resolved against the remote's advertisement.
type target struct {
	// name is the ref to fetch, such as refs/heads/main; empty when the
	// caller asked for a commit that no advertised ref points at.
	name plumbing.ReferenceName
	// commit is the commit the ref points at (tags peeled), or the commit
	// the caller asked for.
	commit plumbing.Hash
	// exact is true when the caller asked for a commit: only that commit
	// may be checked out, even if name has moved on since.
	exact bool
}

// listRefs makes the one ls-remote-style request: it returns every
// advertised ref, symbolic HEAD included, with annotated tags' peeled
// commits as extra "<tag>^{}" entries.
func listRefs(ctx context.Context, r *remote) ([]*plumbing.Reference, error) {
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{
		Name: git.DefaultRemoteName,
		URLs: []string{r.url},
	})
	return rem.ListContext(ctx, &git.ListOptions{
		Auth:          r.auth,
		CABundle:      r.caBundle,
		PeelingOption: git.AppendPeeled,
	})
}

// resolve finds ref among the advertised refs.
//
// ref is empty or "HEAD" for the remote's default branch; a full name such as
// refs/heads/main or refs/tags/v1; a short name, tried as a branch and then
// as a tag; or a 40-hex commit SHA. A commit cannot be checked against an
// advertisement, so resolve accepts any SHA and the fetch decides.
func resolve(refs []*plumbing.Reference, ref string) (target, error) {
	byName := make(map[plumbing.ReferenceName]*plumbing.Reference, len(refs))
	for _, r := range refs {
		byName[r.Name()] = r
	}
	// commitOf returns the commit that name points at: a symbolic ref is
	// followed, an annotated tag is peeled.
	commitOf := func(name plumbing.ReferenceName) (plumbing.ReferenceName, plumbing.Hash, bool) {
		for range 5 {
			r, ok := byName[name]
			if !ok {
				return "", plumbing.ZeroHash, false
			}
			if r.Type() == plumbing.SymbolicReference {
				name = r.Target()
				continue
			}
			if peeled, ok := byName[plumbing.ReferenceName(string(name)+"^{}")]; ok {
				return name, peeled.Hash(), true
			}
			return name, r.Hash(), true
		}
		return "", plumbing.ZeroHash, false
	}

	switch {
	case plumbing.IsHash(ref):
		h := plumbing.NewHash(strings.ToLower(ref))
		t := target{commit: h, exact: true}
		// Prefer an advertised ref at that commit: servers always allow
		// fetching advertised tips, shallow.
		for _, r := range refs {
			if name, c, ok := commitOf(r.Name()); ok && c == h && r.Type() == plumbing.HashReference &&
				!strings.HasSuffix(string(name), "^{}") {
				t.name = name
				break
			}
		}
		return t, nil
	case ref == "" || ref == string(plumbing.HEAD):
		if name, c, ok := commitOf(plumbing.HEAD); ok {
			return target{name: name, commit: c}, nil
		}
		return target{}, fmt.Errorf("%w: the remote advertises no HEAD", ErrRefNotFound)
	case strings.HasPrefix(ref, "refs/"):
		if name, c, ok := commitOf(plumbing.ReferenceName(ref)); ok {
			return target{name: name, commit: c}, nil
		}
	default:
		for _, name := range []plumbing.ReferenceName{plumbing.NewBranchReferenceName(ref), plumbing.NewTagReferenceName(ref)} {
			if name, c, ok := commitOf(name); ok {
				return target{name: name, commit: c}, nil
			}
		}
	}
	return target{}, fmt.Errorf("%w: the remote advertises no branch or tag %q", ErrRefNotFound, ref)
}
