package images

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseReference(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		in      string
		want    Reference
		str     string
		wantErr string
	}{
		{name: "bare name gets Docker Hub, library and latest", in: "nginx",
			want: Reference{Registry: DockerHub, Repository: "library/nginx", Tag: "latest"}, str: "index.docker.io/library/nginx:latest"},
		{name: "docker.io is index.docker.io", in: "docker.io/library/nginx:1.21.0",
			want: Reference{Registry: DockerHub, Repository: "library/nginx", Tag: "1.21.0"}, str: "index.docker.io/library/nginx:1.21.0"},
		{name: "docker.io short name", in: "docker.io/nginx:1.21.0",
			want: Reference{Registry: DockerHub, Repository: "library/nginx", Tag: "1.21.0"}},
		{name: "Docker Hub user repo", in: "bitnami/redis:7",
			want: Reference{Registry: DockerHub, Repository: "bitnami/redis", Tag: "7"}},
		{name: "tag and digest both kept", in: "registry.example/team/nginx:1.21.0@" + d,
			want: Reference{Registry: "registry.example", Repository: "team/nginx", Tag: "1.21.0", Digest: d}, str: "registry.example/team/nginx:1.21.0@" + d},
		{name: "digest only gets no tag", in: "nginx@" + d,
			want: Reference{Registry: DockerHub, Repository: "library/nginx", Digest: d}, str: "index.docker.io/library/nginx@" + d},
		{name: "registry with port, no tag", in: "localhost:5000/app",
			want: Reference{Registry: "localhost:5000", Repository: "app", Tag: "latest"}},
		{name: "localhost", in: "localhost/app:v1", want: Reference{Registry: "localhost", Repository: "app", Tag: "v1"}},
		{name: "upper-case host is lowered", in: "Registry.Example:443/a/b/c:V1.0_x",
			want: Reference{Registry: "registry.example:443", Repository: "a/b/c", Tag: "V1.0_x"}},
		{name: "ipv6 host", in: "[::1]:5000/app:1", want: Reference{Registry: "[::1]:5000", Repository: "app", Tag: "1"}},
		{name: "separators", in: "ghcr.io/o/my_app__x.y-z:1", want: Reference{Registry: "ghcr.io", Repository: "o/my_app__x.y-z", Tag: "1"}},
		{name: "empty", in: "", wantErr: "empty"},
		{name: "short digest", in: "nginx@sha256:abc", wantErr: "invalid digest"},
		{name: "upper-case digest", in: "nginx@sha256:" + strings.Repeat("AB", 32), wantErr: "invalid digest"},
		{name: "sha512 digest", in: "nginx@sha512:" + strings.Repeat("ab", 64), wantErr: "invalid digest"},
		{name: "upper-case repository", in: "registry.example/Team/app", wantErr: "repository can only contain"},
		// go-containerregistry's grammar, the one the resolver uses, leaves path components to the
		// registry.
		{name: "empty path component is the registry's to refuse", in: "registry.example/team//app",
			want: Reference{Registry: "registry.example", Repository: "team//app", Tag: "latest"}},
		{name: "empty tag", in: "nginx:", wantErr: "must specify a tag name"},
		{name: "tag too long", in: "nginx:" + strings.Repeat("a", 129), wantErr: "tag must be between 1 and 128 characters"},
		{name: "no name", in: ":1.0", wantErr: "a repository name must be specified"},
		{name: "bad port", in: "host:port/app:1", wantErr: "port"},
		{name: "space", in: "nginx :1", wantErr: "repository can only contain"},
		{name: "docker.io in capitals is Docker Hub", in: "Docker.IO/nginx:1",
			want: Reference{Registry: DockerHub, Repository: "library/nginx", Tag: "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReference(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
			if tt.str != "" && got.String() != tt.str {
				t.Fatalf("String() = %s, want %s", got, tt.str)
			}
			again, err := ParseReference(got.String())
			if err != nil || again != got {
				t.Fatalf("String() does not parse back: %v, %v", again, err)
			}
			if _, err := got.ggcr(); err != nil {
				t.Fatalf("go-containerregistry rejects %s: %v", got, err)
			}
		})
	}
}

func TestReferenceSpellingsAreEqual(t *testing.T) {
	var refs []Reference
	for _, s := range []string{"nginx:1.21.0", "docker.io/nginx:1.21.0", "docker.io/library/nginx:1.21.0", "index.docker.io/library/nginx:1.21.0"} {
		r, err := ParseReference(s)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	for _, r := range refs[1:] {
		if r != refs[0] {
			t.Fatalf("%+v != %+v", r, refs[0])
		}
	}
}

func TestReferenceForms(t *testing.T) {
	d := "sha256:" + strings.Repeat("0", 64)
	r, err := ParseReference("registry.example/team/nginx:1.21.0@" + d)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.WithoutDigest().String(); got != "registry.example/team/nginx:1.21.0" {
		t.Errorf("WithoutDigest = %s", got)
	}
	if got := r.Name(); got != "registry.example/team/nginx" {
		t.Errorf("Name = %s", got)
	}
	if !r.Pinned() || r.WithoutDigest().Pinned() {
		t.Error("Pinned wrong")
	}
	// go-containerregistry addresses a pinned reference by digest alone.
	n, err := r.ggcr()
	if err != nil || n.Identifier() != d {
		t.Fatalf("ggcr() = %v, %v", n, err)
	}
	only, _ := ParseReference("nginx@" + d)
	if only.WithoutDigest() != only {
		t.Error("a digest-only reference has no tag form to fall back to")
	}
	if err := ValidateDigest("sha256:" + strings.Repeat("g", 64)); !errors.Is(err, ErrInvalidDigest) {
		t.Errorf("ValidateDigest: %v", err)
	}
}
