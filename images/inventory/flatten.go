package inventory

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/osv-scalibr/extractor/filesystem"
)

// Whiteout markers of the OCI image layer spec.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// flattener applies layers from the top one down, as go-containerregistry's
// mutate.Extract does: the first layer (from the top) to mention a path owns
// it, a whiteout hides the path in the layers below, an opaque marker hides
// its folder's contents below. Only regular files the required func asks for
// are written, under an os.Root so that nothing lands outside the folder.
type flattener struct {
	root     *os.Root
	limits   Limits
	required func(filesystem.FileAPI) bool
	written  int64

	// seen holds every path a higher (or this) layer owns; true for folders.
	seen map[string]bool
	// hidden holds whited-out paths and opaque folders of the layers above.
	hidden map[string]bool
	opaque map[string]bool
	// origin says from which layer each written file came.
	origin map[string]int
}

func newFlattener(dir string, limits Limits, required func(filesystem.FileAPI) bool) (*flattener, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	// osv-scalibr's OS extractors read os-release only when an etc folder
	// exists; an image whose etc/os-release is a link has no file written there.
	if err := r.Mkdir("etc", 0o700); err != nil {
		_ = r.Close()
		return nil, err
	}
	return &flattener{root: r, limits: limits, required: required,
		seen: map[string]bool{}, hidden: map[string]bool{}, opaque: map[string]bool{}, origin: map[string]int{}}, nil
}

func (f *flattener) close() { _ = f.root.Close() }

// layer streams one layer. Nothing of it is held in memory beyond tar's buffers.
func (f *flattener) layer(index int, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	whiteouts, opaques := map[string]bool{}, map[string]bool{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read: not a valid tar (or gzip'd tar) stream: %w", err)
		}
		name, err := entryPath(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		if err := checkLink(name, hdr); err != nil {
			return err
		}
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		if base == opaqueMarker {
			opaques[dir] = true
			continue
		}
		if strings.HasPrefix(base, whiteoutPrefix) {
			whiteouts[path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix))] = true
			continue
		}
		if f.shadowed(name) {
			continue
		}
		f.seen[name] = hdr.Typeflag == tar.TypeDir
		switch hdr.Typeflag {
		case tar.TypeReg:
			if f.required(fileAPI{path: name, info: hdr.FileInfo()}) {
				if err := f.write(name, hdr, tr); err != nil {
					return err
				}
				f.origin[name] = index
			}
		case tar.TypeLink:
			target, _ := entryPath(hdr.Linkname)
			if _, ok := f.origin[target]; ok && f.required(fileAPI{path: name, info: hdr.FileInfo()}) {
				if err := f.copy(target, name); err != nil {
					return err
				}
				f.origin[name] = index
			}
		}
	}
	for p := range whiteouts {
		f.hidden[p] = true
	}
	for p := range opaques {
		f.opaque[p] = true
	}
	return nil
}

// shadowed reports whether a layer above owns name: it owns name itself, a
// non-folder at one of its parents, whites out name or a parent, or made a
// parent opaque.
func (f *flattener) shadowed(name string) bool {
	if _, ok := f.seen[name]; ok {
		return true
	}
	if f.hidden[name] {
		return true
	}
	for p := path.Dir(name); p != "." && p != "/"; p = path.Dir(p) {
		if isDir, ok := f.seen[p]; ok && !isDir {
			return true
		}
		if f.hidden[p] || f.opaque[p] {
			return true
		}
	}
	return f.opaque[""]
}

func (f *flattener) write(name string, hdr *tar.Header, r io.Reader) error {
	if hdr.Size > f.limits.MaxFileBytes {
		return fmt.Errorf("/%s: %d bytes, over the limit of %d bytes per file: %w", name, hdr.Size, f.limits.MaxFileBytes, ErrTooLarge)
	}
	if f.written+hdr.Size > f.limits.MaxExtractedBytes {
		return fmt.Errorf("/%s: the files to inspect pass the limit of %d bytes per image: %w", name, f.limits.MaxExtractedBytes, ErrTooLarge)
	}
	if d := path.Dir(name); d != "." {
		if err := f.root.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("/%s: %w", name, err)
		}
	}
	mode := os.FileMode(0o600)
	if hdr.FileInfo().Mode()&0o111 != 0 {
		mode = 0o700
	}
	out, err := f.root.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return fmt.Errorf("/%s: %w", name, err)
	}
	n, err := io.Copy(out, io.LimitReader(r, f.limits.MaxFileBytes))
	f.written += n
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("/%s: %w", name, err)
	}
	return nil
}

func (f *flattener) copy(from, to string) error {
	in, err := f.root.Open(from)
	if err != nil {
		return fmt.Errorf("/%s: %w", to, err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("/%s: %w", to, err)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Size: st.Size(), Mode: int64(st.Mode().Perm())}
	return f.write(to, hdr, in)
}

// entryPath turns a tar entry name into a clean path relative to the image
// root ("" for the root itself). A name with a ".." element is refused: it
// is how a hostile layer writes outside the folder it is unpacked into.
func entryPath(raw string) (string, error) {
	for _, el := range strings.Split(raw, "/") {
		if el == ".." {
			return "", fmt.Errorf("entry %q: path %w", raw, ErrUnsafePath)
		}
	}
	p := path.Clean("/" + raw)
	return strings.TrimPrefix(p, "/"), nil
}

// checkLink refuses a symbolic link whose relative target climbs above the
// image root, and a hard link to a path with "..". Absolute symbolic links
// resolve inside the image root, as the container runtime resolves them.
func checkLink(name string, hdr *tar.Header) error {
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		if path.IsAbs(hdr.Linkname) {
			return nil
		}
		depth := strings.Count(name, "/") // parents of name below the root
		for _, el := range strings.Split(hdr.Linkname, "/") {
			switch el {
			case "..":
				depth--
				if depth < 0 {
					return fmt.Errorf("symbolic link /%s -> %s %w", name, hdr.Linkname, ErrUnsafePath)
				}
			case "", ".":
			default:
				depth++
			}
		}
	case tar.TypeLink:
		if _, err := entryPath(hdr.Linkname); err != nil {
			return fmt.Errorf("hard link /%s -> %s %w", name, hdr.Linkname, ErrUnsafePath)
		}
	}
	return nil
}

// fileAPI is what an extractor's FileRequired sees of a tar entry.
type fileAPI struct {
	path string
	info fs.FileInfo
}

func (a fileAPI) Path() string               { return a.path }
func (a fileAPI) Stat() (fs.FileInfo, error) { return a.info, nil }
