package manifests

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
)

// estimate is what a kustomization would cost kustomize to build: objects emitted,
// kustomizations loaded (a base once per reference), and bytes of output. Sums saturate.
type estimate struct {
	objects, kustomizations, bytes int64
}

func (e *estimate) add(o estimate) {
	e.objects = satAdd(e.objects, o.objects)
	e.kustomizations = satAdd(e.kustomizations, o.kustomizations)
	e.bytes = satAdd(e.bytes, o.bytes)
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// kustomization is one kustomization folder, loaded and checked once however often the
// graph refers to it.
type kustomization struct {
	dir  string // real path of the folder
	file *file  // its kustomization file
	name string // base name of that file
	k    types.Kustomization

	// edges are the entries kustomize follows from here, in order: files whose objects carry
	// an origin path, and folders (bases and components) with their kustomization.
	edges []edge
	est   estimate
	done  bool
}

type edge struct {
	entry string         // as written in the kustomization
	real  string         // resolved path
	kust  *kustomization // set for folders
}

// preflight walks a kustomization graph the way kustomize will, before kustomize does: it
// reads every file once through the reader, rejects what must never reach kustomize, and
// estimates the cost of the build.
type preflight struct {
	ctx  context.Context
	t    tree
	r    *reader
	opts Options
	rf   *resource.Factory
	rmf  *resmap.Factory

	loaded  map[string]*kustomization
	chain   []string // folders being loaded, outermost first
	openAPI bool     // some kustomization sets openapi, a process-wide setting of kustomize
}

func newPreflight(ctx context.Context, r *reader) *preflight {
	rf := provider.NewDepProvider().GetResourceFactory()
	return &preflight{
		ctx: ctx, t: r.t, r: r, opts: r.opts,
		rf: rf, rmf: resmap.NewFactory(rf),
		loaded: map[string]*kustomization{},
	}
}

// kustomizationFile returns the kustomization file of dir and its base name, "" when there is
// none, or an error when there are several or one escapes the root.
func kustomizationFile(t tree, dir string) (string, string, error) {
	var found, name string
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		p := filepath.Join(dir, n)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		real, err := t.resolve(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", "", &FileError{Path: t.rel(p), Err: err}
		}
		if found != "" {
			return "", "", fileErr(t.rel(dir), 0, "found both %s and %s; keep one", name, n)
		}
		found, name = real, n
	}
	return found, name, nil
}

// load loads and checks the kustomization in dir, and everything it refers to.
func (p *preflight) load(dir string) (*kustomization, error) {
	if k, ok := p.loaded[dir]; ok {
		if !k.done {
			return nil, fileErr(k.file.rel, 0, "kustomization refers back to itself")
		}
		return k, nil
	}
	if err := p.ctx.Err(); err != nil {
		return nil, err
	}
	path, name, err := kustomizationFile(p.t, dir)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fileErr(p.t.rel(dir), 0, "folder has no kustomization.yaml, kustomization.yml or Kustomization")
	}
	f, err := p.r.readYAML(p.ctx, path)
	if err != nil {
		return nil, err
	}
	k := &kustomization{dir: dir, file: f, name: name}
	p.loaded[dir] = k
	// Read the file exactly as kustomize will (case-insensitive field names included), so
	// that no spelling of a field escapes the checks.
	if err := k.k.Unmarshal(f.data); err != nil {
		return nil, fileErr(f.rel, 0, "%w", err)
	}
	k.k.FixKustomization()
	if errs := k.k.EnforceFields(); len(errs) > 0 {
		return nil, fileErr(f.rel, 0, "invalid kustomization: %s", strings.Join(errs, "; "))
	}
	p.chain = append(p.chain, dir)
	defer func() { p.chain = p.chain[:len(p.chain)-1] }()
	if err := p.check(k); err != nil {
		return nil, err
	}
	k.done = true
	return k, p.checkEstimate(k)
}

func (p *preflight) checkEstimate(k *kustomization) error {
	e := k.est
	switch {
	case e.objects > int64(p.opts.MaxObjects):
		return fileErr(k.file.rel, 0, "kustomization would render about %d objects, over the limit of %d: %w",
			e.objects, p.opts.MaxObjects, ErrLimitExceeded)
	case e.kustomizations > int64(p.opts.MaxKustomizations):
		return fileErr(k.file.rel, 0, "kustomization would load %d kustomizations (a base counts once per reference), over the limit of %d: %w",
			e.kustomizations, p.opts.MaxKustomizations, ErrLimitExceeded)
	case e.bytes > p.opts.MaxOutputBytes:
		return fileErr(k.file.rel, 0, "kustomization would render about %d bytes, over the limit of %d: %w",
			e.bytes, p.opts.MaxOutputBytes, ErrLimitExceeded)
	}
	return nil
}

// use says how kustomize uses an entry, which decides where it may point.
type use int

const (
	useFile      use = iota // a file in or below the kustomization folder (the load restrictor)
	useFileOrDir            // a file as above, or a kustomization folder anywhere in the root
	useDir                  // a kustomization folder anywhere in the root
)

// ref is one path that kustomize will follow from kustomization k: the entry as written in
// field of file at (the kustomization itself, or a plugin config file), and the path in it.
// Paths are relative to k's folder whichever file holds them, as in kustomize.
type ref struct {
	at      *file
	field   string
	written string
	path    string
	use     use
	line    int // line to report when written is not found as a scalar of at (inline YAML)
}

// resolveRef checks one path and returns its real path and whether it is a folder. Remote
// references, absolute paths, paths outside the root (symlinks resolved) and missing paths
// are rejected here, before kustomize could fetch or read them.
func (p *preflight) resolveRef(k *kustomization, r ref) (string, bool, error) {
	fail := func(format string, args ...any) error {
		line := lineOf(r.at.docs, r.written)
		if line == 0 {
			line = r.line
		}
		return &FileError{Path: r.at.rel, Line: line,
			Err: fmt.Errorf("%s entry %q: %w", r.field, redact(r.written), fmt.Errorf(format, args...))}
	}
	switch {
	case strings.TrimSpace(r.path) == "":
		return "", false, fail("empty path")
	case looksRemote(r.written) || looksRemote(r.path):
		return "", false, fail("%w", ErrRemoteReference)
	case filepath.IsAbs(r.path):
		return "", false, fail("absolute paths are not allowed: %w", ErrOutsideRoot)
	}
	real, err := p.t.resolve(filepath.Join(k.dir, r.path))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", false, fail("no such file or folder in the repository")
	case err != nil:
		return "", false, fail("%w", err)
	}
	info, err := os.Stat(real)
	if err != nil {
		return "", false, fail("%w", err)
	}
	isDir := info.IsDir()
	switch {
	case isDir && r.use == useFile:
		return "", false, fail("is a folder; a file is expected")
	case !isDir && r.use == useDir:
		return "", false, fail("is a file; a kustomization folder is expected")
	case !isDir && !info.Mode().IsRegular():
		return "", false, fail("not a regular file")
	case !isDir && !within(k.dir, real):
		return "", false, fail("file is outside the kustomization's folder; kustomize loads files only from its folder and below (bases in other folders are fine)")
	case isDir:
		for _, c := range p.chain {
			if within(real, c) {
				return "", false, fail("folder contains %s, which is already being built: a cycle", p.t.rel(c))
			}
		}
	}
	return real, isDir, nil
}

// entry is the common ref: a path written as is in a field of the kustomization file.
func entry(k *kustomization, field, path string, u use) ref {
	return ref{at: k.file, field: field, written: path, path: path, use: u}
}

// inline checks a string of the kustomization that kustomize parses as YAML (an inline
// patch or plugin config) for alias bombs.
func (p *preflight) inline(at *file, field, text string) error {
	_, err := parseYAML([]byte(text))
	var fe *FileError
	if err == nil || !errors.As(err, &fe) || !errors.Is(err, ErrExcessiveAliasing) {
		return nil // kustomize reports YAML that does not parse
	}
	return &FileError{Path: at.rel, Line: lineOf(at.docs, text), Err: fmt.Errorf("inline %s: %w", field, fe.Err)}
}
