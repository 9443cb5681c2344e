package manifests

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// MaxConfigFileBytes caps a file of Plumbline's own kinds: the lock file, the PolicySet, the
// ignore rules.
const MaxConfigFileBytes = 4 << 20

// ReadConfigFile reads a file of Plumbline's own kinds from a repository, as the render reads
// manifests: rel (slash-separated, relative to root) must resolve inside root, symlinks
// included, and outside any version-control folder; it must be a regular file with one hard
// link and at most MaxConfigFileBytes, which is checked before a byte is read. A FIFO or a
// device is refused before it is opened, so the read never blocks past ctx. Errors are
// *FileError values naming rel; they never quote the file. A file that does not exist gives an
// error wrapping fs.ErrNotExist.
func ReadConfigFile(ctx context.Context, root, rel string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := newTree(root)
	if err != nil {
		return nil, err
	}
	real, shown, err := t.resolveFile(rel)
	if err != nil {
		return nil, err
	}
	return readRegular(real, shown, readLimits{max: MaxConfigFileBytes, oneLink: true, alive: ctx.Err})
}

// resolveFile resolves rel inside the tree and returns its real path and how errors name it.
func (t tree) resolveFile(rel string) (real, shown string, err error) {
	shown = path.Clean(filepath.ToSlash(rel))
	if filepath.IsAbs(rel) {
		shown = t.rel(filepath.Clean(rel))
	}
	if err := checkVCS(shown); err != nil {
		return "", shown, &FileError{Path: shown, Err: err}
	}
	lexical := filepath.Clean(filepath.Join(t.abs, filepath.FromSlash(shown)))
	if filepath.IsAbs(rel) {
		lexical = filepath.Clean(rel)
	}
	real, err = t.resolve(lexical)
	if err != nil {
		return "", shown, &FileError{Path: shown, Err: err}
	}
	if err := checkVCS(t.rel(real)); err != nil {
		return "", shown, &FileError{Path: shown, Err: fmt.Errorf("through a symlink: %w", err)}
	}
	return real, shown, nil
}

// ReadLocalFile reads a file of Plumbline's own kinds named on the command line, outside any
// repository (--policy, --ignore-file): it may be a symlink, but what it names must be a
// regular file of at most MaxConfigFileBytes, checked before a byte is read, so that
// /dev/zero or a FIFO is refused at once. Errors are *FileError values naming file.
func ReadLocalFile(ctx context.Context, file string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(file)
	if err != nil {
		return nil, &FileError{Path: file, Err: unwrapPathError(err)}
	}
	return readRegular(real, file, readLimits{max: MaxConfigFileBytes, alive: ctx.Err})
}

// unwrapPathError drops the *fs.PathError around err, whose path the FileError already names.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// WriteConfigFile writes a file of Plumbline's own kinds into a repository folder, as
// `images lock` writes the lock file: rel's folder must resolve inside root, outside any
// version-control folder; the file itself is never followed if it is a symlink (that is an
// error, dangling or not) and must be a regular file if it exists. The bytes go to a
// temporary file in the same folder, which is then renamed over rel: a reader sees the old
// file or the new one, never half of one, and nothing is created outside the root. Errors are
// *FileError values naming rel.
func WriteConfigFile(ctx context.Context, root, rel string, data []byte, perm fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := newTree(root)
	if err != nil {
		return err
	}
	shown := path.Clean(filepath.ToSlash(rel))
	dir, base := path.Split(shown)
	if base == "" || base == "." || base == ".." {
		return fileErr(shown, 0, "not a file name")
	}
	realDir, _, err := t.resolveFile(path.Clean("./" + dir))
	if err != nil {
		return &FileError{Path: shown, Err: errors.Unwrap(err)}
	}
	if info, err := os.Stat(realDir); err != nil || !info.IsDir() {
		return fileErr(shown, 0, "its folder is not a folder")
	}
	target := filepath.Join(realDir, base)
	switch info, err := os.Lstat(target); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return &FileError{Path: shown, Err: err}
	case info.Mode()&fs.ModeSymlink != 0:
		return fileErr(shown, 0, "is a symlink; refusing to write through it")
	case !info.Mode().IsRegular():
		return fileErr(shown, 0, "not a regular file (%s)", fileType(info.Mode()))
	}
	tmp, err := os.CreateTemp(realDir, "."+base+".tmp-*")
	if err != nil {
		return &FileError{Path: shown, Err: unwrapPathError(err)}
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return &FileError{Path: shown, Err: err}
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return &FileError{Path: shown, Err: err}
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return &FileError{Path: shown, Err: err}
	}
	if err := tmp.Close(); err != nil {
		return &FileError{Path: shown, Err: err}
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return &FileError{Path: shown, Err: unwrapPathError(err)}
	}
	return nil
}
