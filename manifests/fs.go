package manifests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// errReadOnly answers every write kustomize attempts.
var errReadOnly = errors.New("the render file system is read-only")

// rootFS is the only file system kustomize sees. It resolves every path, symlinks included,
// and refuses any path outside the repository root; it serves file contents through the
// reader, so each file is read at most once, within the caps, and the bytes kustomize builds
// from are the bytes the preflight checked. It never writes.
type rootFS struct {
	t tree
	r *reader
	// overrides holds bytes served instead of a file's own: the entry kustomization with
	// origin annotations switched on.
	overrides map[string][]byte
}

var _ filesys.FileSystem = (*rootFS)(nil)

// check resolves path (relative paths against the working directory, as the OS would) and
// returns its real path when it is inside the root.
func (f *rootFS) check(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	real, err := f.t.resolve(abs)
	if err != nil {
		return "", fmt.Errorf("%s: %w", abs, err)
	}
	// kustomize gets the error for every way in: a resource, a generator's file, a patch.
	err = checkVCS(f.t.rel(abs))
	if err == nil {
		err = checkVCS(f.t.rel(real))
	}
	if err != nil {
		return "", &FileError{Path: f.t.rel(abs), Err: err}
	}
	return real, nil
}

// Create refuses: the render never writes.
func (f *rootFS) Create(string) (filesys.File, error) { return nil, errReadOnly }

// Mkdir refuses: the render never writes.
func (f *rootFS) Mkdir(string) error { return errReadOnly }

// MkdirAll refuses: the render never writes.
func (f *rootFS) MkdirAll(string) error { return errReadOnly }

// RemoveAll refuses: the render never writes.
func (f *rootFS) RemoveAll(string) error { return errReadOnly }

// WriteFile refuses: the render never writes.
func (f *rootFS) WriteFile(string, []byte) error { return errReadOnly }

// Open refuses: kustomize builds read whole files through ReadFile, which is capped.
func (f *rootFS) Open(path string) (filesys.File, error) {
	return nil, fmt.Errorf("%s: open is not supported by the render file system", path)
}

// IsDir reports whether path is a directory inside the root.
func (f *rootFS) IsDir(path string) bool {
	real, err := f.check(path)
	if err != nil {
		return false
	}
	info, err := os.Stat(real)
	return err == nil && info.IsDir()
}

// Exists reports whether path exists inside the root.
func (f *rootFS) Exists(path string) bool {
	_, err := f.check(path)
	return err == nil
}

// ReadDir lists a directory inside the root.
func (f *rootFS) ReadDir(path string) ([]string, error) {
	real, err := f.check(path)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// CleanedAbs splits path, resolved, into its directory and file name ("" for a directory),
// as kustomize's loader expects; unlike the on-disk file system it never exits the process.
func (f *rootFS) CleanedAbs(path string) (filesys.ConfirmedDir, string, error) {
	real, err := f.check(path)
	if err != nil {
		return "", "", err
	}
	info, err := os.Stat(real)
	if err != nil {
		return "", "", err
	}
	if info.IsDir() {
		return filesys.ConfirmedDir(real), "", nil
	}
	return filesys.ConfirmedDir(filepath.Dir(real)), filepath.Base(real), nil
}

// Glob returns the matches of pattern that lie inside the root, hidden files left out unless
// the pattern names them, as kustomize's on-disk file system does.
func (f *rootFS) Glob(pattern string) ([]string, error) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	var inside []string
	for _, m := range matches {
		if _, err := f.check(m); err == nil {
			inside = append(inside, m)
		}
	}
	if filesys.IsHiddenFilePath(pattern) {
		return inside, nil
	}
	return filesys.RemoveHiddenFiles(inside), nil
}

// ReadFile returns the bytes of a file inside the root, through the reader's caps and checks.
func (f *rootFS) ReadFile(path string) ([]byte, error) {
	real, err := f.check(path)
	if err != nil {
		return nil, err
	}
	if b, ok := f.overrides[real]; ok {
		return append([]byte(nil), b...), nil
	}
	b, err := f.r.served(real)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// Walk walks a directory inside the root without following symlinks.
func (f *rootFS) Walk(path string, fn filepath.WalkFunc) error {
	real, err := f.check(path)
	if err != nil {
		return err
	}
	return filepath.Walk(real, fn)
}
