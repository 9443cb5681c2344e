package gitsource

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	main := plumbing.NewHash(strings.Repeat("1", 40))
	dev := plumbing.NewHash(strings.Repeat("2", 40))
	tagObj := plumbing.NewHash(strings.Repeat("3", 40))
	tagged := plumbing.NewHash(strings.Repeat("4", 40))
	other := plumbing.NewHash(strings.Repeat("5", 40))
	refs := []*plumbing.Reference{
		plumbing.NewSymbolicReference(plumbing.HEAD, "refs/heads/main"),
		plumbing.NewHashReference("refs/heads/main", main),
		plumbing.NewHashReference("refs/heads/dev", dev),
		plumbing.NewHashReference("refs/heads/both", dev),
		plumbing.NewHashReference("refs/tags/both", main),
		plumbing.NewHashReference("refs/tags/v1", tagObj),
		plumbing.NewHashReference("refs/tags/v1^{}", tagged),
		plumbing.NewHashReference("refs/tags/light", main),
	}
	detached := []*plumbing.Reference{
		plumbing.NewHashReference(plumbing.HEAD, dev),
		plumbing.NewHashReference("refs/heads/main", main),
	}

	tests := []struct {
		name    string
		refs    []*plumbing.Reference
		ref     string
		want    target
		wantErr error
	}{
		{"empty is HEAD's branch", refs, "", target{name: "refs/heads/main", commit: main}, nil},
		{"HEAD", refs, "HEAD", target{name: "refs/heads/main", commit: main}, nil},
		{"detached HEAD", detached, "", target{name: "HEAD", commit: dev}, nil},
		{"short branch", refs, "dev", target{name: "refs/heads/dev", commit: dev}, nil},
		{"branch wins over tag", refs, "both", target{name: "refs/heads/both", commit: dev}, nil},
		{"full tag name", refs, "refs/tags/both", target{name: "refs/tags/both", commit: main}, nil},
		{"annotated tag is peeled", refs, "v1", target{name: "refs/tags/v1", commit: tagged}, nil},
		{"commit at an advertised tip", refs, dev.String(), target{name: "refs/heads/dev", commit: dev, exact: true}, nil},
		{"commit behind an annotated tag", refs, tagged.String(), target{name: "refs/tags/v1", commit: tagged, exact: true}, nil},
		{"commit nothing points at", refs, other.String(), target{commit: other, exact: true}, nil},
		{"upper-case commit", refs, strings.ToUpper("aBcDeF0123456789aBcDeF0123456789aBcDeF01"),
			target{commit: plumbing.NewHash("abcdef0123456789abcdef0123456789abcdef01"), exact: true}, nil},
		{"short SHA is a name", refs, "1111111", target{}, ErrRefNotFound},
		{"missing branch", refs, "nope", target{}, ErrRefNotFound},
		{"missing full ref", refs, "refs/heads/nope", target{}, ErrRefNotFound},
		{"no HEAD", refs[1:], "", target{}, ErrRefNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolve(tt.refs, tt.ref)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("resolve error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(target{})); diff != "" {
				t.Errorf("resolve (-want +got):\n%s", diff)
			}
		})
	}
}
