package images

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxLockSize bounds the lock file ParseLock accepts (it comes from Git).
const maxLockSize = 4 << 20

var (
	yamlLine     = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	platformForm = regexp.MustCompile(`^[a-z0-9_.-]+/[a-z0-9_.-]+(?:/[a-z0-9_.-]+)?(?::[A-Za-z0-9_.-]+)?$`)
)

// ParseLock parses a lock file strictly: one YAML document, apiVersion and
// kind as above, every field known, every reference a tag without digest,
// every digest valid, no reference twice. file names the file in errors,
// which are *LockFileError values with the line concerned.
func ParseLock(file string, data []byte) (Lock, error) {
	if len(data) > maxLockSize {
		return Lock{}, &LockFileError{File: file, Msg: fmt.Sprintf("larger than %d bytes", maxLockSize)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return Lock{}, &LockFileError{File: file, Msg: "empty file: want apiVersion, kind and images"}
	} else if err != nil {
		return Lock{}, yamlError(file, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return Lock{}, &LockFileError{File: file, Line: extra.Line, Msg: "more than one YAML document"}
	} else if !errors.Is(err, io.EOF) {
		return Lock{}, yamlError(file, data, err)
	}
	p := lockParser{file: file}
	return p.document(&doc)
}

// yamlError turns a YAML syntax error into a *LockFileError. The YAML
// library reports the line where the enclosing block starts (the `images:`
// list, say), not the line at fault; the line is refined by finding the
// first prefix of the file, at or after that line, that no longer parses.
func yamlError(file string, data []byte, err error) error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return &LockFileError{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	line, convErr := strconv.Atoi(m[1])
	if convErr != nil {
		return &LockFileError{File: file, Msg: "invalid YAML: " + m[2]}
	}
	return &LockFileError{File: file, Line: faultyLine(data, line), Msg: "invalid YAML: " + m[2]}
}

// faultyLine binary-searches the smallest n >= from such that the first n
// lines of data fail to parse. It returns from when none is found.
func faultyLine(data []byte, from int) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	parses := func(n int) bool {
		var node yaml.Node
		dec := yaml.NewDecoder(bytes.NewReader(bytes.Join(lines[:n], nil)))
		for {
			if err := dec.Decode(&node); err != nil {
				return errors.Is(err, io.EOF)
			}
		}
	}
	lo, hi := from, len(lines)
	if lo < 1 || lo > hi || parses(hi) {
		return from
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if parses(mid) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

type lockParser struct{ file string }

func (p lockParser) fail(n *yaml.Node, format string, args ...any) error {
	return &LockFileError{File: p.file, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

// fields checks that n is a mapping whose keys are all known and unique, and
// returns the value node of each key.
func (p lockParser) fields(n *yaml.Node, what string, known ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.fail(n, "%s must be a mapping", what)
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, p.fail(k, "%s: keys must be strings", what)
		}
		if !contains(known, k.Value) {
			return nil, p.fail(k, "%s: unknown field %q (known: %s)", what, k.Value, strings.Join(known, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, p.fail(k, "%s: field %q given twice", what, k.Value)
		}
		out[k.Value] = v
	}
	return out, nil
}

func (p lockParser) str(parent *yaml.Node, f map[string]*yaml.Node, key, what string, required bool) (string, *yaml.Node, error) {
	v, ok := f[key]
	if !ok {
		if required {
			return "", parent, p.fail(parent, "%s: missing field %q", what, key)
		}
		return "", parent, nil
	}
	if v.Kind != yaml.ScalarNode || (v.Tag != "!!str" && v.Tag != "!!timestamp") {
		return "", v, p.fail(v, "%s: %q must be a string", what, key)
	}
	return v.Value, v, nil
}

func (p lockParser) document(doc *yaml.Node) (Lock, error) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return Lock{}, p.fail(doc, "empty document")
	}
	root := doc.Content[0]
	f, err := p.fields(root, "ImageLock", "apiVersion", "kind", "images")
	if err != nil {
		return Lock{}, err
	}
	for _, kv := range [][2]string{{"apiVersion", LockAPIVersion}, {"kind", LockKind}} {
		key, want := kv[0], kv[1]
		got, n, err := p.str(root, f, key, "ImageLock", true)
		if err != nil {
			return Lock{}, err
		}
		if got != want {
			return Lock{}, p.fail(n, "%s must be %q, got %q", key, want, got)
		}
	}
	var lock Lock
	images, ok := f["images"]
	if !ok {
		return lock, nil
	}
	if images.Kind == yaml.ScalarNode && images.Tag == "!!null" {
		return lock, nil
	}
	if images.Kind != yaml.SequenceNode {
		return Lock{}, p.fail(images, "images must be a list")
	}
	seen := map[Reference]int{}
	for _, n := range images.Content {
		e, err := p.entry(n)
		if err != nil {
			return Lock{}, err
		}
		if line, dup := seen[e.Ref]; dup {
			return Lock{}, p.fail(n, "%s is already locked at line %d", e.Ref, line)
		}
		seen[e.Ref] = n.Line
		lock.Entries = append(lock.Entries, e)
	}
	lock.Entries = sortedEntries(lock.Entries)
	return lock, nil
}

func (p lockParser) entry(n *yaml.Node) (LockEntry, error) {
	const what = "image entry"
	f, err := p.fields(n, what, "image", "digest", "mediaType", "platforms", "approvedAt")
	if err != nil {
		return LockEntry{}, err
	}
	var e LockEntry
	image, in, err := p.str(n, f, "image", what, true)
	if err != nil {
		return LockEntry{}, err
	}
	if e.Ref, err = ParseReference(image); err != nil {
		return LockEntry{}, p.fail(in, "image: %v", err)
	}
	if e.Ref.Pinned() {
		return LockEntry{}, p.fail(in, "image %q must be a tag without digest (the digest goes in digest:)", image)
	}
	var dn *yaml.Node
	if e.Digest, dn, err = p.str(n, f, "digest", what, true); err != nil {
		return LockEntry{}, err
	}
	if err := ValidateDigest(e.Digest); err != nil {
		return LockEntry{}, p.fail(dn, "%s: digest: %v", e.Ref, err)
	}
	if e.MediaType, _, err = p.str(n, f, "mediaType", what, false); err != nil {
		return LockEntry{}, err
	}
	at, an, err := p.str(n, f, "approvedAt", what, true)
	if err != nil {
		return LockEntry{}, err
	}
	if e.ApprovedAt, err = time.Parse(time.RFC3339, at); err != nil {
		return LockEntry{}, p.fail(an, "%s: approvedAt must be an RFC 3339 time: %v", e.Ref, err)
	}
	e.ApprovedAt = e.ApprovedAt.UTC()
	if e.Platforms, err = p.platforms(f["platforms"], e.Ref); err != nil {
		return LockEntry{}, err
	}
	return e, nil
}

func (p lockParser) platforms(n *yaml.Node, ref Reference) ([]PlatformDigest, error) {
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.fail(n, "%s: platforms must be a list", ref)
	}
	var out []PlatformDigest
	for _, c := range n.Content {
		f, err := p.fields(c, "platform entry", "platform", "digest")
		if err != nil {
			return nil, err
		}
		var pd PlatformDigest
		var pn, dn *yaml.Node
		if pd.Platform, pn, err = p.str(c, f, "platform", "platform entry", false); err != nil {
			return nil, err
		}
		if pd.Platform != "" && !platformForm.MatchString(pd.Platform) {
			return nil, p.fail(pn, "%s: platform %q is not os/arch[/variant]", ref, pd.Platform)
		}
		if pd.Digest, dn, err = p.str(c, f, "digest", "platform entry", true); err != nil {
			return nil, err
		}
		if err := ValidateDigest(pd.Digest); err != nil {
			return nil, p.fail(dn, "%s: platform %s: %v", ref, pd.Platform, err)
		}
		out = append(out, pd)
	}
	return sortedPlatforms(out), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
