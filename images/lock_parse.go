package images

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxLockSize bounds the lock file ParseLock accepts (it comes from Git).
const maxLockSize = 4 << 20

var platformForm = regexp.MustCompile(`^[a-z0-9_.-]+/[a-z0-9_.-]+(?:/[a-z0-9_.-]+)?(?::[A-Za-z0-9_.-]+)?$`)

// lockDoc is the shape ParseLock decodes. yaml.v3 does the strict part: an
// unknown field (KnownFields), a key given twice and excessive aliasing are
// its errors, with its line numbers. Scalars keep their line for the checks
// that follow.
type lockDoc struct {
	APIVersion lockScalar     `yaml:"apiVersion"`
	Kind       lockScalar     `yaml:"kind"`
	Images     []lockDocEntry `yaml:"images"`
}

type lockDocEntry struct {
	Image      lockScalar        `yaml:"image"`
	Digest     lockScalar        `yaml:"digest"`
	MediaType  lockScalar        `yaml:"mediaType"`
	Platforms  []lockDocPlatform `yaml:"platforms"`
	ApprovedAt lockScalar        `yaml:"approvedAt"`
}

type lockDocPlatform struct {
	Platform lockScalar `yaml:"platform"`
	Digest   lockScalar `yaml:"digest"`
}

// lockScalar is a string value and the line it is on; line 0 means absent
// (or null).
type lockScalar struct {
	value string
	line  int
}

// UnmarshalYAML accepts a string, or a timestamp kept as written.
func (s *lockScalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && n.ShortTag() != "!!timestamp") {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a string, got %s", n.Line, lockNodeWord(n))}}
	}
	*s = lockScalar{value: n.Value, line: n.Line}
	return nil
}

// ParseLock parses a lock file strictly: one YAML document, apiVersion and
// kind as above, every field known, every reference a tag without digest,
// every digest valid, no reference twice. file names the file in errors,
// which are *LockFileError values with the line concerned.
func ParseLock(file string, data []byte) (Lock, error) {
	if len(data) > maxLockSize {
		return Lock{}, &LockFileError{File: file, Msg: fmt.Sprintf("larger than %d bytes", maxLockSize)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc lockDoc
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return Lock{}, &LockFileError{File: file, Msg: "empty file: want apiVersion, kind and images"}
	} else if err != nil {
		return Lock{}, lockYAMLError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return Lock{}, &LockFileError{File: file, Line: extra.Line, Msg: "more than one YAML document"}
	} else if !errors.Is(err, io.EOF) {
		return Lock{}, lockYAMLError(file, err)
	}
	return lockChecker{file: file}.document(doc)
}

// lockChecker checks what the decoder cannot: required fields, fixed values,
// references, digests, times and duplicates.
type lockChecker struct{ file string }

func (c lockChecker) fail(line int, format string, args ...any) error {
	return &LockFileError{File: c.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// firstLine is the smallest line among the given scalars, the best
// available place of the mapping that holds them.
func lockFirstLine(scalars ...lockScalar) int {
	line := 0
	for _, s := range scalars {
		if s.line > 0 && (line == 0 || s.line < line) {
			line = s.line
		}
	}
	return line
}

func (c lockChecker) document(doc lockDoc) (Lock, error) {
	at := lockFirstLine(doc.APIVersion, doc.Kind)
	for _, f := range []struct {
		key  string
		got  lockScalar
		want string
	}{{"apiVersion", doc.APIVersion, LockAPIVersion}, {"kind", doc.Kind, LockKind}} {
		if f.got.line == 0 {
			return Lock{}, c.fail(at, "ImageLock: missing field %q", f.key)
		}
		if f.got.value != f.want {
			return Lock{}, c.fail(f.got.line, "%s must be %q, got %q", f.key, f.want, f.got.value)
		}
	}
	var lock Lock
	seen := map[Reference]int{}
	for _, de := range doc.Images {
		e, err := c.entry(de)
		if err != nil {
			return Lock{}, err
		}
		if line, dup := seen[e.Ref]; dup {
			return Lock{}, c.fail(de.Image.line, "%s is already locked at line %d", e.Ref, line)
		}
		seen[e.Ref] = de.Image.line
		lock.Entries = append(lock.Entries, e)
	}
	lock.Entries = sortedEntries(lock.Entries)
	return lock, nil
}

func (c lockChecker) entry(de lockDocEntry) (LockEntry, error) {
	at := lockFirstLine(de.Image, de.Digest, de.MediaType, de.ApprovedAt)
	for _, f := range []struct {
		key string
		got lockScalar
	}{{"image", de.Image}, {"digest", de.Digest}, {"approvedAt", de.ApprovedAt}} {
		if f.got.line == 0 {
			return LockEntry{}, c.fail(at, "image entry: missing field %q", f.key)
		}
	}
	var e LockEntry
	var err error
	if e.Ref, err = ParseReference(de.Image.value); err != nil {
		return LockEntry{}, c.fail(de.Image.line, "image: %v", err)
	}
	if e.Ref.Pinned() {
		return LockEntry{}, c.fail(de.Image.line, "image %q must be a tag without digest (the digest goes in digest:)", de.Image.value)
	}
	e.Digest = de.Digest.value
	if err := ValidateDigest(e.Digest); err != nil {
		return LockEntry{}, c.fail(de.Digest.line, "%s: digest: %v", e.Ref, err)
	}
	e.MediaType = de.MediaType.value
	if e.ApprovedAt, err = time.Parse(time.RFC3339, de.ApprovedAt.value); err != nil {
		return LockEntry{}, c.fail(de.ApprovedAt.line, "%s: approvedAt must be an RFC 3339 time: %v", e.Ref, err)
	}
	e.ApprovedAt = e.ApprovedAt.UTC()
	for _, dp := range de.Platforms {
		pd := PlatformDigest{Platform: dp.Platform.value, Digest: dp.Digest.value}
		if pd.Platform != "" && !platformForm.MatchString(pd.Platform) {
			return LockEntry{}, c.fail(dp.Platform.line, "%s: platform %q is not os/arch[/variant]", e.Ref, pd.Platform)
		}
		if dp.Digest.line == 0 {
			return LockEntry{}, c.fail(lockFirstLine(dp.Platform), "%s: platform entry: missing field \"digest\"", e.Ref)
		}
		if err := ValidateDigest(pd.Digest); err != nil {
			return LockEntry{}, c.fail(dp.Digest.line, "%s: platform %s: %v", e.Ref, pd.Platform, err)
		}
		e.Platforms = append(e.Platforms, pd)
	}
	e.Platforms = sortedPlatforms(e.Platforms)
	return e, nil
}
