package manifests

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.yaml.in/yaml/v3"
)

// file is one file of the checkout, read once and kept for the rest of the render.
type file struct {
	real string // path with symlinks resolved
	rel  string // slash path relative to the repository root
	data []byte

	parsed bool         // parsed as YAML; docs is set
	docs   []*yaml.Node // YAML documents, set once parsed
}

// reader reads files of the checkout under the caps of Options, each file at most once. It
// is safe for concurrent use: kustomize reads through it from its own goroutine.
type reader struct {
	t    tree
	opts Options

	mu     sync.Mutex
	files  map[string]*file
	total  int64
	closed bool // the render is over: every read fails
}

func newReader(t tree, opts Options) *reader {
	return &reader{t: t, opts: opts, files: map[string]*file{}}
}

// close makes every later read fail, so that a kustomize build abandoned after a timeout
// stops at its next file access.
func (r *reader) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
}

// read returns the file at real, a path already resolved inside the root. Only regular files
// are read; the size of each and the sum of all are capped.
func (r *reader) read(ctx context.Context, real string) (*file, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, fmt.Errorf("%s: render already finished", r.t.rel(real))
	}
	if f, ok := r.files[real]; ok {
		return f, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rel := r.t.rel(real)
	data, err := r.readCapped(real, rel)
	if err != nil {
		return nil, err
	}
	f := &file{real: real, rel: rel, data: data}
	r.files[real] = f
	return f, nil
}

func (r *reader) readCapped(real, rel string) ([]byte, error) {
	if err := checkVCS(rel); err != nil {
		return nil, &FileError{Path: rel, Err: err}
	}
	data, err := readRegular(real, rel, readLimits{max: r.opts.MaxFileBytes, oneLink: true, per: " per file"})
	if err != nil {
		return nil, err
	}
	if r.total+int64(len(data)) > r.opts.MaxTotalBytes {
		return nil, fileErr(rel, 0, "reading this file takes the render over the limit of %d bytes read in total: %w",
			r.opts.MaxTotalBytes, ErrLimitExceeded)
	}
	r.total += int64(len(data))
	return data, nil
}

// readYAML reads the file at real and parses it as a YAML stream, rejecting alias bombs.
func (r *reader) readYAML(ctx context.Context, real string) (*file, error) {
	f, err := r.read(ctx, real)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.parsed {
		return f, nil
	}
	docs, err := r.opts.parseYAML(f.data)
	if err != nil {
		return nil, withPath(err, f.rel)
	}
	f.docs, f.parsed = docs, true
	return f, nil
}

// served returns the bytes kustomize gets for real: the bytes the preflight read, or, for a
// file the preflight did not read, the file read now under the same caps and rejected if its
// YAML aliases explode. A file that does not parse as YAML is served as is: kustomize reads
// some files (generator sources) as plain data.
func (r *reader) served(real string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rel := r.t.rel(real)
	if r.closed {
		return nil, fmt.Errorf("%s: render already finished", rel)
	}
	if f, ok := r.files[real]; ok {
		return f.data, nil
	}
	data, err := r.readCapped(real, rel)
	if err != nil {
		return nil, err
	}
	if _, err := r.opts.parseYAML(data); err != nil && (errors.Is(err, ErrExcessiveAliasing) || errors.Is(err, ErrLimitExceeded)) {
		return nil, withPath(err, rel)
	}
	r.files[real] = &file{real: real, rel: rel, data: data}
	return data, nil
}

// withPath turns a *FileError without a path, as parseYAML returns, into one naming path.
func withPath(err error, path string) error {
	if fe, ok := err.(*FileError); ok && fe.Path == "" {
		return &FileError{Path: path, Line: fe.Line, Err: fe.Err}
	}
	return &FileError{Path: path, Err: err}
}
