package policy

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

// ImageFacts is what is known about the image of one container. The caller
// (the reconciler, from the images package) fills what it knows; Evaluate
// fills Registry, Repository, Tag and Digest from the container's image
// string when they are empty, so a caller without a registry or a lock file
// may pass no facts at all.
type ImageFacts struct {
	// Container is the name of the container the image belongs to. Facts are
	// matched to the object's containers by this name.
	Container string
	// Image is the reference exactly as the object declares it.
	Image string
	// Registry is the normalised registry host: "index.docker.io" for Docker
	// Hub (also when written "docker.io" or omitted), else the host[:port]
	// as written, lower-cased.
	Registry string
	// Repository is the normalised repository path inside Registry, with
	// Docker Hub's implicit "library/" namespace added ("nginx" becomes
	// "library/nginx").
	Repository string
	// Tag is the tag of the reference. A reference with neither a tag nor a
	// digest gets "latest", as the container runtime would pull it; a
	// reference with only a digest has an empty Tag.
	Tag string
	// Digest is the digest written in the reference ("sha256:…"), empty when
	// the reference has none. "repo:tag@digest" keeps both Tag and Digest.
	Digest string
	// Approved is the digest approved in Git for this tag (lock file or
	// kustomize images digest); empty when unknown.
	Approved string
	// Resolved is the digest the registry serves for the tag now; empty when
	// unknown (for example in `plumbline check`, which has no registry).
	Resolved string
	// Running lists the digests that pods of this workload run for this
	// container (from status.containerStatuses[].imageID); nil when unknown.
	Running []string
	// Contents is what a scan found inside the image (its user, its
	// vulnerabilities); nil when it was not scanned.
	Contents *ImageContents
}

// NewImageFacts returns the facts derivable from an image string alone:
// Container, Image, Registry, Repository, Tag and Digest, normalised as the
// field comments on ImageFacts say. It returns an error, and facts with only
// Container and Image set, when image is not a valid reference.
func NewImageFacts(container, image string) (ImageFacts, error) {
	f := ImageFacts{Container: container, Image: image}
	ref, err := parseImageRef(image)
	if err != nil {
		return f, err
	}
	f.Registry, f.Repository, f.Tag, f.Digest = ref.registry, ref.repository, ref.tag, ref.digest
	return f, nil
}

// imageRef is a parsed, normalised image reference.
type imageRef struct {
	registry, repository, tag, digest string
	// tagDefaulted is true when tag is "latest" because the reference has
	// neither a tag nor a digest.
	tagDefaulted bool
}

// parseImageRef splits image into registry, repository, tag and digest.
// go-containerregistry's name package normalises the repository; it is not
// used for the whole string because name.NewDigest drops the tag of
// "repo:tag@digest", and each of its constructors parses the repository
// again, which shows in the 10,000-workload benchmark.
func parseImageRef(image string) (imageRef, error) {
	if image == "" {
		return imageRef{}, fmt.Errorf("empty image reference")
	}
	base, dig, hasDigest := strings.Cut(image, "@")
	var tag string
	if c := strings.LastIndex(base, ":"); c > strings.LastIndex(base, "/") {
		base, tag = base[:c], base[c+1:]
		if !validTag(tag) {
			return imageRef{}, fmt.Errorf("image %q: invalid tag %q", image, tag)
		}
	}
	repo, err := name.NewRepository(base)
	if err != nil {
		return imageRef{}, fmt.Errorf("image %q: %w", image, err)
	}
	ref := imageRef{
		registry:   strings.ToLower(repo.RegistryStr()),
		repository: repo.RepositoryStr(),
		tag:        tag,
	}
	if hasDigest {
		if err := digest.Digest(dig).Validate(); err != nil {
			return imageRef{}, fmt.Errorf("image %q: invalid digest: %w", image, err)
		}
		ref.digest = dig
	}
	if ref.tag == "" && ref.digest == "" {
		ref.tag, ref.tagDefaulted = name.DefaultTag, true
	}
	return ref, nil
}

// validTag reports whether tag matches the OCI distribution grammar
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func validTag(tag string) bool {
	if tag == "" || len(tag) > 128 || tag[0] == '.' || tag[0] == '-' {
		return false
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// completeFacts returns f with Registry, Repository, Tag and Digest filled
// from image where f leaves them empty. ok is false when the facts name no
// registry or repository and image does not parse.
func completeFacts(f ImageFacts, container, image string, parse func(string) (imageRef, error)) (ImageFacts, bool) {
	if f.Container == "" {
		f.Container = container
	}
	if f.Image == "" {
		f.Image = image
	}
	if f.Registry != "" && f.Repository != "" && (f.Tag != "" || f.Digest != "") {
		return f, true
	}
	ref, err := parse(f.Image)
	if err != nil {
		return f, f.Registry != "" && f.Repository != ""
	}
	if f.Registry == "" {
		f.Registry = ref.registry
	}
	if f.Repository == "" {
		f.Repository = ref.repository
	}
	if f.Digest == "" {
		f.Digest = ref.digest
	}
	// A digest the caller knows pins the image, so "latest" is not invented
	// for a reference that merely omits the tag.
	if f.Tag == "" && !(ref.tagDefaulted && f.Digest != "") {
		f.Tag = ref.tag
	}
	return f, true
}

// normaliseRegistryPrefix turns an allowedRegistries entry into the form
// that registryAllowed compares against: "host[/path]" with the host
// lower-cased, "docker.io" rewritten to "index.docker.io", and trailing
// slashes removed. The first path element must look like a registry host
// (contain "." or ":" or be "localhost"), so that a bare "nginx" is an error
// instead of a prefix that never matches.
func normaliseRegistryPrefix(entry string) (string, error) {
	s := strings.TrimRight(entry, "/")
	switch {
	case s == "":
		return "", fmt.Errorf("empty entry")
	case strings.Contains(s, "://"):
		return "", fmt.Errorf("%q: write a registry host and optional path, without a scheme", entry)
	case strings.ContainsAny(s, "@ \t\n*"):
		return "", fmt.Errorf("%q: a registry prefix has no digest, spaces or wildcards", entry)
	}
	host, path, hasPath := strings.Cut(s, "/")
	host = strings.ToLower(host)
	if host != "localhost" && !strings.ContainsAny(host, ".:") {
		return "", fmt.Errorf("%q does not start with a registry host (for Docker Hub write docker.io/library/…)", entry)
	}
	if host == "docker.io" {
		host = name.DefaultRegistry
	}
	if !hasPath {
		return host, nil
	}
	return host + "/" + path, nil
}

// registryAllowed reports whether the normalised registry/repository falls
// under one of the normalised prefixes, on a "/" boundary: "ghcr.io/acme"
// allows "ghcr.io/acme/x" but not "ghcr.io/acmeevil/x", and "docker.io"
// does not allow "docker.io.evil.com/x".
func registryAllowed(registry, repository string, prefixes []string) bool {
	ref := strings.ToLower(registry) + "/" + repository
	for _, p := range prefixes {
		if ref == p || strings.HasPrefix(ref, p+"/") {
			return true
		}
	}
	return false
}
