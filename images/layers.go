package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PreferredPlatform is compared first when both digests are indexes.
const PreferredPlatform = "linux/amd64"

// ErrNoCommonPlatform means two manifests cannot be compared layer by layer:
// an index and a single image, or two indexes with no platform in common.
var ErrNoCommonPlatform = errors.New("no common platform to compare layers")

// LayerDiff compares the layers of the approved manifest with those of the
// manifest the registry now serves.
type LayerDiff struct {
	// Platform is the index platform that was compared; "" when both digests
	// are single-platform images.
	Platform string
	// Approved and Served are the layer counts of each manifest.
	Approved int
	Served   int
	// Changed counts layer positions whose digest differs, a layer present
	// on one side only included: a rebuild of the base changes every layer
	// above it, a rebuild that only touched the config changes none.
	Changed int
}

// LayerChanges reads the manifests of approved and served (digests in ref's
// repository) and counts the layers that changed. When both are indexes it
// compares PreferredPlatform, else the first platform they share; when they
// cannot be compared it returns an error wrapping ErrNoCommonPlatform.
// Manifests are read by digest and cached. kc as for Resolve.
func (r *Resolver) LayerChanges(ctx context.Context, ref Reference, approved, served string, kc authn.Keychain) (LayerDiff, error) {
	ctx, cancel := r.followUpContext(ctx)
	defer cancel()
	base := ref.WithoutDigest()
	for _, d := range []string{approved, served} {
		if err := ValidateDigest(d); err != nil {
			return LayerDiff{}, fmt.Errorf("%s: layer changes: %w", base, err)
		}
	}
	cred, err := credentialsFor(ctx, kc, base)
	if err != nil {
		return LayerDiff{}, err
	}
	release, err := r.acquire(ctx)
	if err != nil {
		return LayerDiff{}, registryError(base, err)
	}
	defer release()
	p, err := r.puller(cred)
	if err != nil {
		return LayerDiff{}, registryError(base, err)
	}
	diff, err := r.layerChanges(ctx, p, base, approved, served)
	if err != nil {
		if errors.Is(err, ErrNoCommonPlatform) {
			return LayerDiff{}, fmt.Errorf("%s: %w", base, err)
		}
		return LayerDiff{}, registryError(base, err)
	}
	return diff, nil
}

func (r *Resolver) layerChanges(ctx context.Context, p *remote.Puller, ref Reference, approved, served string) (LayerDiff, error) {
	a, err := r.fetchManifest(ctx, p, ref, approved)
	if err != nil {
		return LayerDiff{}, fmt.Errorf("approved %s: %w", approved, err)
	}
	s, err := r.fetchManifest(ctx, p, ref, served)
	if err != nil {
		return LayerDiff{}, fmt.Errorf("served %s: %w", served, err)
	}
	var diff LayerDiff
	aIdx, sIdx := types.MediaType(a.mediaType).IsIndex(), types.MediaType(s.mediaType).IsIndex()
	switch {
	case aIdx && sIdx:
		ap, err := indexPlatforms(a.raw)
		if err != nil {
			return LayerDiff{}, fmt.Errorf("approved %s: %w", approved, err)
		}
		sp, err := indexPlatforms(s.raw)
		if err != nil {
			return LayerDiff{}, fmt.Errorf("served %s: %w", served, err)
		}
		platform, ad, sd, ok := commonPlatform(ap, sp)
		if !ok {
			return LayerDiff{}, ErrNoCommonPlatform
		}
		diff.Platform = platform
		if a, err = r.fetchManifest(ctx, p, ref, ad); err != nil {
			return LayerDiff{}, fmt.Errorf("approved %s (%s): %w", approved, platform, err)
		}
		if s, err = r.fetchManifest(ctx, p, ref, sd); err != nil {
			return LayerDiff{}, fmt.Errorf("served %s (%s): %w", served, platform, err)
		}
	case aIdx != sIdx:
		return LayerDiff{}, fmt.Errorf("one of %s and %s is an index, the other an image: %w", approved, served, ErrNoCommonPlatform)
	}
	al, err := layerDigests(a.raw)
	if err != nil {
		return LayerDiff{}, fmt.Errorf("approved %s: %w", approved, err)
	}
	sl, err := layerDigests(s.raw)
	if err != nil {
		return LayerDiff{}, fmt.Errorf("served %s: %w", served, err)
	}
	diff.Approved, diff.Served = len(al), len(sl)
	for i := range max(len(al), len(sl)) {
		if i >= len(al) || i >= len(sl) || al[i] != sl[i] {
			diff.Changed++
		}
	}
	return diff, nil
}

// commonPlatform picks the platform to compare: PreferredPlatform if both
// have it, else the first (sorted) platform both have. Children without a
// platform are not comparable.
func commonPlatform(a, b []PlatformDigest) (string, string, string, bool) {
	first := func(ps []PlatformDigest, platform string) (string, bool) {
		for _, p := range ps {
			if p.Platform == platform {
				return p.Digest, true
			}
		}
		return "", false
	}
	if ad, ok := first(a, PreferredPlatform); ok {
		if bd, ok := first(b, PreferredPlatform); ok {
			return PreferredPlatform, ad, bd, true
		}
	}
	for _, p := range a {
		if p.Platform == "" {
			continue
		}
		if bd, ok := first(b, p.Platform); ok {
			return p.Platform, p.Digest, bd, true
		}
	}
	return "", "", "", false
}

func layerDigests(raw []byte) ([]string, error) {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	out := make([]string, len(m.Layers))
	for i, l := range m.Layers {
		out[i] = l.Digest.String()
	}
	return out, nil
}
