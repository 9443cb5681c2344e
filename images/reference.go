package images

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// DockerHub is the canonical host of Docker Hub. References written with
// "docker.io", or with no registry at all, are normalised to it.
const DockerHub = "index.docker.io"

// DefaultTag is the tag a reference gets when it names neither a tag nor a
// digest, as the kubelet does.
const DefaultTag = "latest"

var (
	// pathComponent is one component of a repository path (distribution's grammar).
	pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	hostComponent = regexp.MustCompile(`^(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$`)
	ipv6Host      = regexp.MustCompile(`^\[[a-f0-9:.]+\]$`)
	portPattern   = regexp.MustCompile(`^[0-9]{1,5}$`)
	tagPattern    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestPattern = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

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
// (`nginx`, `docker.io/library/nginx:1.21`, `host:5000/team/app:v1@sha256:…`).
// Unlike name.ParseReference it keeps the tag of `repo:tag@digest`. The digest
// must be sha256 with 64 lowercase hex characters.
func ParseReference(s string) (Reference, error) {
	if s == "" {
		return Reference{}, errors.New("image reference is empty")
	}
	var ref Reference
	rest := s
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		ref.Digest = rest[i+1:]
		rest = rest[:i]
		if err := ValidateDigest(ref.Digest); err != nil {
			return Reference{}, fmt.Errorf("%q: %w", s, err)
		}
	}
	if colon, slash := strings.LastIndexByte(rest, ':'), strings.LastIndexByte(rest, '/'); colon > slash {
		ref.Tag = rest[colon+1:]
		rest = rest[:colon]
		if !tagPattern.MatchString(ref.Tag) {
			return Reference{}, fmt.Errorf("%q: invalid tag %q", s, ref.Tag)
		}
	}
	registry, repository, err := splitName(rest)
	if err != nil {
		return Reference{}, fmt.Errorf("%q: %w", s, err)
	}
	ref.Registry, ref.Repository = registry, repository
	if ref.Tag == "" && ref.Digest == "" {
		ref.Tag = DefaultTag
	}
	return ref, nil
}

// ValidateDigest returns an error wrapping ErrInvalidDigest unless d is
// "sha256:" followed by 64 lowercase hex characters.
func ValidateDigest(d string) error {
	if !digestPattern.MatchString(d) {
		return fmt.Errorf("%q: %w", d, ErrInvalidDigest)
	}
	return nil
}

// splitName splits "host/path" into a normalised registry and repository.
func splitName(s string) (string, string, error) {
	if s == "" {
		return "", "", errors.New("repository name is empty")
	}
	registry, path := DockerHub, s
	// The first component is a registry host when it has a dot or a port, or
	// is localhost. (Docker also takes an upper-case first component for a
	// host; here it is an invalid repository, as a lower-cased host would
	// no longer read as one.)
	if first, after, ok := strings.Cut(s, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		registry, path = strings.ToLower(first), after
		if err := checkHost(registry); err != nil {
			return "", "", err
		}
		if registry == "docker.io" {
			registry = DockerHub
		}
	}
	for _, c := range strings.Split(path, "/") {
		if !pathComponent.MatchString(c) {
			return "", "", fmt.Errorf("invalid repository path component %q", c)
		}
	}
	if registry == DockerHub && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	if len(path) > 255 {
		return "", "", fmt.Errorf("repository %q is longer than 255 characters", path)
	}
	return registry, path, nil
}

func checkHost(h string) error {
	host, port := h, ""
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		host, port = h[:i], h[i+1:]
		if !portPattern.MatchString(port) {
			return fmt.Errorf("invalid registry port in %q", h)
		}
	}
	if ipv6Host.MatchString(host) {
		if ip := net.ParseIP(host[1 : len(host)-1]); ip == nil || ip.To4() != nil {
			return fmt.Errorf("invalid registry IPv6 address %q", h)
		}
	} else {
		for _, c := range strings.Split(host, ".") {
			if !hostComponent.MatchString(c) {
				return fmt.Errorf("invalid registry host %q", h)
			}
		}
	}
	// go-containerregistry must accept it too, or it cannot be resolved.
	if _, err := name.NewRegistry(h); err != nil {
		return fmt.Errorf("invalid registry host %q: %w", h, err)
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
