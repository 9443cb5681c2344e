package manifests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
)

// plainExtensions are the file names a plain folder's objects are read from.
var plainExtensions = []string{".yaml", ".yml", ".json"}

// plainWalker reads a folder without a kustomization file: every YAML and JSON file below it
// in name order, hidden files and folders left out, symlinks followed when they stay inside
// the root; a subfolder with a kustomization file is built with kustomize.
type plainWalker struct {
	ctx   context.Context
	r     *reader
	seen  map[string]bool // real paths of folders and files already read
	objs  []Object
	bytes int64 // size of the files that objects came from
}

func plainDir(ctx context.Context, r *reader, dir string) ([]Object, error) {
	w := &plainWalker{ctx: ctx, r: r, seen: map[string]bool{dir: true}}
	if err := w.walk(dir); err != nil {
		return nil, err
	}
	return w.objs, nil
}

func (w *plainWalker) walk(dir string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return &FileError{Path: w.r.t.rel(dir), Err: err}
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		real, err := w.r.t.resolve(path)
		if err != nil {
			return &FileError{Path: w.r.t.rel(path), Err: err}
		}
		if w.seen[real] {
			continue
		}
		w.seen[real] = true
		info, err := os.Stat(real)
		if err != nil {
			return &FileError{Path: w.r.t.rel(path), Err: err}
		}
		switch {
		case info.IsDir():
			if err := w.dir(real); err != nil {
				return err
			}
		case info.Mode().IsRegular() && isPlainManifest(e.Name()):
			if err := w.file(real); err != nil {
				return err
			}
		}
	}
	return nil
}

// dir reads a subfolder: with kustomize when it has a kustomization file, else recursively.
func (w *plainWalker) dir(real string) error {
	kf, _, err := kustomizationFile(w.r.t, real)
	if err != nil {
		return err
	}
	if kf == "" {
		return w.walk(real)
	}
	objs, err := kustomizeDir(w.ctx, w.r, real, w.r.opts.MaxObjects-len(w.objs))
	if err != nil {
		return err
	}
	w.objs = append(w.objs, objs...)
	return nil
}

func (w *plainWalker) file(real string) error {
	f, err := w.r.readYAML(w.ctx, real)
	if err != nil {
		return err
	}
	var found []located
	for _, d := range f.docs {
		if found, err = nodeObjects(d, found); err != nil {
			return withPath(err, f.rel)
		}
	}
	if len(w.objs)+len(found) > w.r.opts.MaxObjects {
		return fileErr(f.rel, 0, "this file takes the render over the limit of %d objects: %w", w.r.opts.MaxObjects, ErrLimitExceeded)
	}
	if len(found) > 0 {
		if w.bytes += int64(len(f.data)); w.bytes > w.r.opts.MaxOutputBytes {
			return fileErr(f.rel, 0, "this file takes the render over the limit of %d bytes of output: %w", w.r.opts.MaxOutputBytes, ErrLimitExceeded)
		}
	}
	for _, l := range found {
		w.objs = append(w.objs, Object{Object: l.obj, Source: f.rel})
	}
	return nil
}

func isPlainManifest(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range plainExtensions {
		if ext == e {
			return true
		}
	}
	return false
}
