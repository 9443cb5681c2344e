package manifests

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// The one door every file Plumbline reads goes through, manifests and its own kinds alike:
// regular files only, refused before they are opened otherwise (a FIFO or a device never
// blocks and never streams), one hard link only, a size cap checked on the inode before any
// byte is read and again while reading, nothing inside a version-control folder.

// vcsFolders are never part of a render: a work tree's .git/config is where CI checkouts keep
// their tokens.
var vcsFolders = []string{".git", ".hg", ".svn"}

// ErrVCSFolder marks a path inside a version-control folder.
var ErrVCSFolder = errors.New("inside a version-control folder, which is never read")

// vcsFolder returns the version-control folder that the slash path rel (relative to the
// root) lies in or names, "" when none.
func vcsFolder(rel string) string {
	for _, part := range strings.Split(rel, "/") {
		for _, v := range vcsFolders {
			if strings.EqualFold(part, v) {
				return v
			}
		}
	}
	return ""
}

// checkVCS returns an error wrapping ErrVCSFolder when rel is inside a version-control folder.
func checkVCS(rel string) error {
	if v := vcsFolder(rel); v != "" {
		return fmt.Errorf("%s: %w", v, ErrVCSFolder)
	}
	return nil
}

// readLimits say what readRegular accepts.
type readLimits struct {
	max int64
	// oneLink refuses a file with more than one hard link: inside a repository on a local disk
	// it may be a second name of a file outside it. Git cannot carry hard links.
	oneLink bool
	// alive, when set, is asked between reads whether to go on (the caller's deadline).
	alive func() error
	// per qualifies the limit in messages, e.g. " per file".
	per string
}

// readRegular reads the file at real, a path whose symlinks are already resolved; shown names
// it in errors, which are *FileError values that never quote the file's content.
func readRegular(real, shown string, lim readLimits) ([]byte, error) {
	info, err := os.Lstat(real)
	if err != nil {
		return nil, &FileError{Path: shown, Err: err}
	}
	if err := checkInode(info, lim); err != nil {
		return nil, &FileError{Path: shown, Err: err}
	}
	// O_NONBLOCK: a file swapped for a FIFO after the check must not block the open either;
	// O_NOFOLLOW: nor may it have become a symlink.
	fh, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &FileError{Path: shown, Err: err}
	}
	defer fh.Close()
	opened, err := fh.Stat()
	if err != nil {
		return nil, &FileError{Path: shown, Err: err}
	}
	if !os.SameFile(info, opened) {
		return nil, fileErr(shown, 0, "the file changed while it was opened")
	}
	if err := checkInode(opened, lim); err != nil {
		return nil, &FileError{Path: shown, Err: err}
	}
	var src io.Reader = fh
	if lim.alive != nil {
		src = &aliveReader{r: fh, alive: lim.alive}
	}
	// The size is known and under the cap: one buffer of it, and a byte more to see a file that
	// grew, rather than ReadAll's doublings, which cost up to three times a large file.
	limited := io.LimitReader(src, lim.max+1)
	data := make([]byte, min(opened.Size(), lim.max)+1)
	n, err := io.ReadFull(limited, data)
	switch {
	case err == nil: // it grew since the stat: read on, up to the cap
		more, err := io.ReadAll(limited)
		if err != nil {
			return nil, &FileError{Path: shown, Err: err}
		}
		data = append(data, more...)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		data = data[:n]
	default:
		return nil, &FileError{Path: shown, Err: err}
	}
	if int64(len(data)) > lim.max {
		return nil, fileErr(shown, 0, "file grew over the limit of %d bytes%s: %w", lim.max, lim.per, ErrLimitExceeded)
	}
	return data, nil
}

// checkInode refuses what is not a small regular file with one name.
func checkInode(info fs.FileInfo, lim readLimits) error {
	if !info.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (%s)", fileType(info.Mode()))
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && lim.oneLink && st.Nlink > 1 {
		return fmt.Errorf("the file has %d hard links; a file with more than one is refused, as it may be a second name of a file outside the repository", st.Nlink)
	}
	if info.Size() > lim.max {
		return fmt.Errorf("file is %d bytes, over the limit of %d bytes%s: %w", info.Size(), lim.max, lim.per, ErrLimitExceeded)
	}
	return nil
}

func fileType(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

// aliveReader stops a read when its caller's deadline has passed.
type aliveReader struct {
	r     io.Reader
	alive func() error
}

func (a *aliveReader) Read(p []byte) (int, error) {
	if err := a.alive(); err != nil {
		return 0, err
	}
	return a.r.Read(p)
}
