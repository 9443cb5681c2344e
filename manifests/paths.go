package manifests

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// tree is the repository root a render may read: abs is the cleaned absolute root as given,
// real is the same directory with every symlink resolved. All containment checks are made
// against real, after resolving symlinks of the path being checked.
type tree struct {
	abs  string
	real string
}

func newTree(root string) (tree, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return tree{}, fmt.Errorf("repository root %q: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return tree{}, fmt.Errorf("repository root %q: %w", root, err)
	}
	info, err := os.Stat(real)
	if err != nil {
		return tree{}, fmt.Errorf("repository root %q: %w", root, err)
	}
	if !info.IsDir() {
		return tree{}, fmt.Errorf("repository root %q: not a directory", root)
	}
	return tree{abs: abs, real: real}, nil
}

// within reports whether p is dir or below it. Both must be clean absolute paths.
func within(dir, p string) bool {
	if p == dir {
		return true
	}
	if strings.HasSuffix(dir, string(filepath.Separator)) {
		return strings.HasPrefix(p, dir)
	}
	return strings.HasPrefix(p, dir+string(filepath.Separator))
}

// rel returns p relative to the root, slash-separated; "." for the root itself. p may be real
// or lexical; a path outside both forms of the root is returned unchanged.
func (t tree) rel(p string) string {
	for _, base := range []string{t.real, t.abs} {
		if within(base, p) {
			r, err := filepath.Rel(base, p)
			if err == nil {
				return filepath.ToSlash(r)
			}
		}
	}
	return filepath.ToSlash(p)
}

// resolve returns the real path of lexical, a clean absolute path, or an error wrapping
// ErrOutsideRoot when it is outside the root before or after resolving symlinks, or
// fs.ErrNotExist when it does not exist.
func (t tree) resolve(lexical string) (string, error) {
	if !within(t.real, lexical) && !within(t.abs, lexical) {
		return "", ErrOutsideRoot
	}
	real, err := filepath.EvalSymlinks(lexical)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fs.ErrNotExist
		}
		return "", err
	}
	if !within(t.real, real) {
		return "", fmt.Errorf("through a symlink: %w", ErrOutsideRoot)
	}
	return real, nil
}

// redact masks the user information of a URL inside entry, so that a token written into a
// kustomization never reaches an error message.
func redact(entry string) string {
	i := strings.Index(entry, "://")
	if i < 0 {
		return entry
	}
	start := i
	for start > 0 && isSchemeByte(entry[start-1]) {
		start--
	}
	if u, err := url.Parse(entry[start:]); err == nil {
		_, hasPassword := u.User.Password() // nil-safe
		if u.User == nil || !hasPassword && u.Scheme != "http" && u.Scheme != "https" {
			return entry // an ssh user name is not a secret; an HTTP one is often a token
		}
		u.User = url.User("REDACTED")
		return entry[:start] + u.String()
	}
	if at := strings.LastIndex(entry, "@"); at > i {
		return entry[:i+3] + "REDACTED" + entry[at:]
	}
	return entry
}

func isSchemeByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}

// userAt matches the "user@" of an scp-style git URL, as kustomize's repo spec parser does.
var userAt = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// looksRemote reports whether kustomize could read entry over the network or hand it to git:
// any URL ("scheme://"), go-getter's "git::" prefix, an scp-style "user@host:path", or a
// "github.com/org/repo" reference. It errs on the side of calling an entry remote.
func looksRemote(entry string) bool {
	l := strings.ToLower(strings.TrimSpace(entry))
	return strings.Contains(l, "://") ||
		strings.HasPrefix(l, "git::") ||
		strings.HasPrefix(l, "github.com/") ||
		strings.HasPrefix(l, "github.com:") ||
		userAt.MatchString(strings.TrimSpace(entry))
}
