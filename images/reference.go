package images

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

// DockerHub is the canonical host of Docker Hub. References written with
// "docker.io", or with no registry at all, are normalised to it.
const DockerHub = "index.docker.io"

// DefaultTag is the tag a reference gets when it names neither a tag nor a
// digest, as the kubelet does.
const DefaultTag = "latest"

// ErrInvalidDigest is wrapped by every error about a malformed digest.
var ErrInvalidDigest = errors.New("invalid digest: want sha256: followed by 64 lowercase hex characters")

// Reference is a container image reference split into its parts and
// normalised: Registry is a lower-case host ("index.docker.io" for Docker
// Hub), Repository carries Docker Hub's implicit "library/" prefix. Tag and
// Digest are both kept when both are written; Tag is "" for a digest-only
// reference, and DefaultTag when neither was written. The zero value is not a
// valid reference. Reference is comparable: two spellings of one image compare
// equal after ParseReference.
type Reference struct {
	Registry   string
	Repository string
	Tag        string
	Digest     string
}

// ParseReference parses an image reference as written in a manifest
// (`nginx`, `docker.io/library/nginx:1.21`, `host:5000/team/app:v1@sha256:…`)
// with go-containerregistry's name package, the grammar the resolver uses.
// Unlike name.ParseReference it keeps the tag of `repo:tag@digest`. The digest
// must be sha256 with 64 lowercase hex characters.
func ParseReference(s string) (Reference, error) {
	if s == "" {
		return Reference{}, errors.New("image reference is empty")
	}
	base, dgst, pinned := strings.Cut(s, "@")
	if pinned {
		if err := ValidateDigest(dgst); err != nil {
			return Reference{}, fmt.Errorf("%q: %w", s, err)
		}
	}
	// No default tag here: a digest-only reference has none.
	tag, err := name.NewTag(base, name.WithDefaultTag(""))
	if err != nil {
		return Reference{}, fmt.Errorf("%q: %w", s, err)
	}
	if reg := tag.RegistryStr(); reg != strings.ToLower(reg) {
		// Host names are case-insensitive; lowered, "Docker.io" is Docker Hub too.
		if tag, err = name.NewTag(strings.ToLower(reg)+strings.TrimPrefix(base, reg), name.WithDefaultTag("")); err != nil {
			return Reference{}, fmt.Errorf("%q: %w", s, err)
		}
	}
	ref := Reference{Registry: tag.RegistryStr(), Repository: tag.RepositoryStr(), Tag: tag.TagStr(), Digest: dgst}
	if len(ref.Repository) > 255 {
		// Docker Hub's implicit "library/" can take a name over the limit, and the canonical
		// form must parse back.
		return Reference{}, fmt.Errorf("%q: repository %q is longer than 255 characters", s, ref.Repository)
	}
	if ref.Tag == "" && ref.Digest == "" {
		ref.Tag = DefaultTag
	}
	return ref, nil
}

// ValidateDigest returns an error wrapping ErrInvalidDigest unless d is
// "sha256:" followed by 64 lowercase hex characters.
func ValidateDigest(d string) error {
	parsed, err := digest.Parse(d)
	if err != nil || parsed.Algorithm() != digest.SHA256 {
		return fmt.Errorf("%q: %w", d, ErrInvalidDigest)
	}
	return nil
}

// Name returns registry/repository, e.g. "index.docker.io/library/nginx".
func (r Reference) Name() string { return r.Registry + "/" + r.Repository }

// String returns the canonical form: registry/repository[:tag][@digest].
func (r Reference) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Pinned reports whether the reference carries a digest.
func (r Reference) Pinned() bool { return r.Digest != "" }

// WithoutDigest returns the reference with its digest dropped: the tag form
// that the lock file is keyed by. A digest-only reference is returned as is.
func (r Reference) WithoutDigest() Reference {
	if r.Tag == "" {
		return r
	}
	r.Digest = ""
	return r
}

// WithDigest returns the reference pinned to digest d, keeping its tag.
func (r Reference) WithDigest(d string) Reference {
	r.Digest = d
	return r
}

// ggcr converts the reference for go-containerregistry: a pinned reference
// becomes a name.Digest without its tag (registries address it by digest
// alone), an unpinned one a name.Tag.
func (r Reference) ggcr() (name.Reference, error) {
	if r.Digest != "" {
		return name.NewDigest(r.Name() + "@" + r.Digest)
	}
	return name.NewTag(r.Name() + ":" + r.Tag)
}
