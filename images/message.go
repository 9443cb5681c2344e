package images

import (
	"fmt"
	"strings"
)

// Short abbreviates a digest for messages: "sha256:" and its first 12 hex
// characters, then "…". Anything else is returned unchanged.
func Short(digest string) string {
	const prefix = "sha256:"
	if strings.HasPrefix(digest, prefix) && len(digest) > len(prefix)+12 {
		return digest[:len(prefix)+12] + "…"
	}
	return digest
}

// display is how messages name an image: the canonical tag form
// (registry/repository:tag), or registry/repository@short-digest for a
// digest-only reference.
func display(ref Reference) string {
	if ref.Tag != "" {
		return ref.WithoutDigest().String()
	}
	return ref.Name() + "@" + Short(ref.Digest)
}

func mutatedMessage(ref Reference, approved, served string, layers *LayerDiff) string {
	msg := fmt.Sprintf("Image: %s was rebuilt under the same tag: approved %s, registry now serves %s",
		display(ref), Short(approved), Short(served))
	if layers != nil {
		unit := "layers"
		if layers.Changed == 1 {
			unit = "layer"
		}
		msg += fmt.Sprintf(" (%d %s changed)", layers.Changed, unit)
	}
	return msg
}

func unpinnedMessage(ref Reference, served string, variants int) string {
	msg := fmt.Sprintf("Image: %s has no approved digest in Git (no entry in %s, no pinned digest)", display(ref), LockFileName)
	if served != "" {
		msg += fmt.Sprintf("; registry serves %s", Short(served))
	}
	if variants > 1 {
		msg += fmt.Sprintf("; pods run %d different digests of it", variants)
	}
	return msg
}

func mismatchMessage(ref Reference, approved string, bad []Running, variants int) string {
	parts := make([]string, 0, len(bad))
	for _, b := range bad {
		if len(b.Pods) == 1 {
			parts = append(parts, fmt.Sprintf("pod %s runs %s", b.Pods[0], Short(b.Digest)))
		} else {
			parts = append(parts, fmt.Sprintf("pods %s run %s", strings.Join(b.Pods, ", "), Short(b.Digest)))
		}
	}
	verdict := "which is not the approved"
	if len(bad) > 1 {
		verdict = "none of them the approved"
	}
	msg := fmt.Sprintf("Image: %s: %s, %s %s", display(ref), strings.Join(parts, "; "), verdict, Short(approved))
	if variants > 1 {
		msg += fmt.Sprintf("; different pods run %d different digests of this image", variants)
	}
	return msg
}

// errorf formats an error that starts with the image reference.
func errorf(ref Reference, format string, args ...any) error {
	return fmt.Errorf("%s: "+format, append([]any{ref.String()}, args...)...)
}
