package images

import (
	"bytes"
	"fmt"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"
)

// The lock file: name, apiVersion and kind.
const (
	LockFileName   = "plumbline.lock.yaml"
	LockAPIVersion = "plumbline.dev/v1alpha1"
	LockKind       = "ImageLock"
)

// Lock is the approval artifact: for each tag in use, the digest a human
// approved by merging it into Git. The zero value is an empty lock.
type Lock struct {
	// Entries are sorted by reference after ParseLock and RefreshLock.
	Entries []LockEntry
}

// LockEntry approves one tag.
type LockEntry struct {
	// Ref is the canonical tag form (no digest).
	Ref Reference
	// Digest is the approved manifest digest; for a multi-arch tag, the
	// index digest.
	Digest string
	// MediaType of the approved manifest, "" when unknown.
	MediaType string
	// Platforms are the approved index's children, nil when not an index or
	// unknown.
	Platforms []PlatformDigest
	// ApprovedAt is when this digest entered the lock (UTC, seconds).
	ApprovedAt time.Time
}

// Entry returns the entry for ref's tag form, if any.
func (l Lock) Entry(ref Reference) (LockEntry, bool) {
	key := ref.WithoutDigest()
	for _, e := range l.Entries {
		if e.Ref == key {
			return e, true
		}
	}
	return LockEntry{}, false
}

// lockFile is the YAML shape. Field order here is the order on disk.
type lockFile struct {
	APIVersion string          `yaml:"apiVersion"`
	Kind       string          `yaml:"kind"`
	Images     []lockFileEntry `yaml:"images"`
}

type lockFileEntry struct {
	Image      string           `yaml:"image"`
	Digest     string           `yaml:"digest"`
	MediaType  string           `yaml:"mediaType,omitempty"`
	Platforms  []PlatformDigest `yaml:"platforms,omitempty"`
	ApprovedAt string           `yaml:"approvedAt"`
}

// MarshalLock renders the lock deterministically: entries sorted by
// reference, platforms by platform then digest, times in RFC 3339 UTC.
func MarshalLock(l Lock) ([]byte, error) {
	f := lockFile{APIVersion: LockAPIVersion, Kind: LockKind, Images: []lockFileEntry{}}
	for _, e := range sortedEntries(l.Entries) {
		if e.ApprovedAt.IsZero() {
			return nil, fmt.Errorf("%s: lock entry has no approvedAt", e.Ref)
		}
		f.Images = append(f.Images, lockFileEntry{
			Image:      e.Ref.String(),
			Digest:     e.Digest,
			MediaType:  e.MediaType,
			Platforms:  sortedPlatforms(e.Platforms),
			ApprovedAt: e.ApprovedAt.UTC().Format(time.RFC3339),
		})
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("%s: marshal: %w", LockFileName, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("%s: marshal: %w", LockFileName, err)
	}
	return buf.Bytes(), nil
}

// LockFileError is a malformed lock file: File and Line (1-based, 0 when the
// YAML parser gave none) say where.
type LockFileError struct {
	File string
	Line int
	Msg  string
}

// Error is "<file>:<line>: <message>", or "<file>: <message>" without a line.
func (e *LockFileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func sortedEntries(in []LockEntry) []LockEntry {
	out := append([]LockEntry(nil), in...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Ref.String() < out[j].Ref.String() })
	return out
}

func sortedPlatforms(in []PlatformDigest) []PlatformDigest {
	if len(in) == 0 {
		return nil
	}
	out := append([]PlatformDigest(nil), in...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Platform != out[j].Platform {
			return out[i].Platform < out[j].Platform
		}
		return out[i].Digest < out[j].Digest
	})
	return out
}
