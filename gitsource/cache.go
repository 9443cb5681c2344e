package gitsource

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Modes of a handed-out tree. Root ignores them, so the package also never
// hands out a path that it writes to afterwards.
const (
	readOnlyFile os.FileMode = 0o444
	readOnlyDir  os.FileMode = 0o555
)

// stagingPrefix starts the names of work directories in the cache. An entry
// is published only by renaming its finished tree to the commit's SHA, so a
// process that dies mid-checkout leaves a staging directory that is never
// read, and that a later fetch removes once it is older than staleAfter.
const (
	stagingPrefix = ".staging-"
	staleAfter    = 24 * time.Hour
)

// cacheDirFor returns the cache folder of one remote: its redacted URL,
// hashed, so that neither credentials nor path characters reach the disk.
func cacheDirFor(cacheDir, rawURL string) string {
	sum := sha256.Sum256([]byte(RedactURL(rawURL)))
	return filepath.Join(cacheDir, hex.EncodeToString(sum[:16]))
}

// cachedTree returns the published tree of commit under remoteDir, if any.
func cachedTree(remoteDir, commit string) (string, bool, error) {
	dir := filepath.Join(remoteDir, commit)
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("cache: %w", err)
	}
	if !fi.IsDir() {
		return "", false, fmt.Errorf("cache: %s is not a directory", dir)
	}
	// A crash between publishing and sealing the root leaves a complete
	// tree with a writable root: seal it now.
	if fi.Mode().Perm() != readOnlyDir {
		if err := os.Chmod(dir, readOnlyDir); err != nil {
			return "", false, fmt.Errorf("cache: %w", err)
		}
	}
	return dir, true, nil
}

// newStaging creates a private work directory under remoteDir, and removes
// stale ones left by processes that died.
func newStaging(remoteDir string, now time.Time) (string, error) {
	if err := os.MkdirAll(remoteDir, 0o700); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	entries, err := os.ReadDir(remoteDir)
	if err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), stagingPrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < staleAfter {
			continue // gone already, or perhaps another process's work
		}
		if err := removeTree(filepath.Join(remoteDir, e.Name())); err != nil {
			return "", fmt.Errorf("cache: remove stale staging: %w", err)
		}
	}
	dir, err := os.MkdirTemp(remoteDir, stagingPrefix)
	if err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	return dir, nil
}

// publish makes the finished tree workDir/tree the cache entry of commit,
// atomically, and removes workDir. If another process published the same
// commit first, its tree is kept and ours dropped.
func publish(remoteDir, workDir, commit string) (string, error) {
	final := filepath.Join(remoteDir, commit)
	tree := filepath.Join(workDir, "tree")
	// The root stays writable until after the rename: moving a directory
	// to another parent needs write access to it.
	if err := sealTree(tree, false); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	renameErr := os.Rename(tree, final)
	if err := removeTree(workDir); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	if renameErr != nil {
		if dir, ok, err := cachedTree(remoteDir, commit); err == nil && ok {
			return dir, nil
		}
		return "", fmt.Errorf("cache: publish %s: %w", commit, renameErr)
	}
	if err := os.Chmod(final, readOnlyDir); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	return final, nil
}

// sealTree makes every file under root 0444 and every directory 0555, root
// itself only if withRoot. Symbolic links are neither followed nor changed.
func sealTree(root string, withRoot bool) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			return nil
		case d.IsDir():
			if path == root && !withRoot {
				return nil
			}
			return os.Chmod(path, readOnlyDir)
		default:
			return os.Chmod(path, readOnlyFile)
		}
	})
}

// removeTree removes root and everything under it, read-only directories
// included. A missing root is not an error.
func removeTree(root string) error {
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(path, 0o700)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(root)
}
