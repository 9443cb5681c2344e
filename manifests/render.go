package manifests

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Object is one rendered Kubernetes object and the file that declares it.
type Object struct {
	// Object is the object as Git declares it, after kustomize; never nil.
	Object *unstructured.Unstructured
	// Source is the file the object came from, relative to the repository root and
	// slash-separated: the YAML file that holds it, or the kustomization that generated it.
	Source string
}

// ID returns the identity of the object.
func (o Object) ID() ID { return IDOf(o.Object) }

// Render renders the folder dir of the checkout at root into the objects it declares,
// sorted by group, kind, namespace, name (then version and source).
//
// dir is relative to root, or absolute and inside it; "" means root. A folder with a
// kustomization file is built with kustomize; any other folder is read as plain YAML and
// JSON, recursively (see the package documentation). Nothing outside root is read, nothing is
// fetched, nothing is written. Render fails when an object is declared twice, and on any
// breach of opts, whose zero fields take their defaults (see DefaultOptions).
//
// Errors concerning a file are *FileError values naming it relative to root; the kinds of
// refusal wrap ErrRemoteReference, ErrOutsideRoot, ErrLimitExceeded, ErrExcessiveAliasing,
// ErrUnsupported and ErrTimeout. Cancelling ctx ends the render with ctx's error.
func Render(ctx context.Context, root, dir string, opts Options) ([]Object, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	t, err := newTree(root)
	if err != nil {
		return nil, err
	}
	target := dir
	if !filepath.IsAbs(target) {
		target = filepath.Join(t.abs, dir)
	}
	target = filepath.Clean(target)
	shown := t.rel(target) // how errors name dir
	if !within(t.abs, target) && !within(t.real, target) {
		shown = filepath.ToSlash(dir)
	}
	real, err := t.resolve(target)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("no such folder in the repository")
		}
		return nil, &FileError{Path: shown, Err: err}
	}
	if info, err := os.Stat(real); err != nil || !info.IsDir() {
		return nil, fileErr(shown, 0, "not a folder")
	}

	rctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	r := newReader(t, opts)
	defer r.close()
	objs, err := render(rctx, r, real)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fileErr(t.rel(real), 0, "render did not finish within %s: %w", opts.Timeout, ErrTimeout)
		}
		if errors.Is(err, ctx.Err()) {
			return nil, fmt.Errorf("render %s: %w", t.rel(real), err)
		}
		return nil, err
	}
	for _, o := range objs { // what kustomize built, with its prefixes and namespaces
		if err := checkNames(o.ID()); err != nil {
			return nil, &FileError{Path: o.Source, Err: err}
		}
	}
	slices.SortStableFunc(objs, func(a, b Object) int {
		return cmp.Or(compareIDs(a.ID(), b.ID()), cmp.Compare(a.Source, b.Source))
	})
	for i := 1; i < len(objs); i++ {
		if a, b := objs[i-1], objs[i]; sameObject(a.ID(), b.ID()) {
			return nil, fileErr(b.Source, 0, "%s is declared twice: here and in %s", b.ID(), a.Source)
		}
	}
	return objs, nil
}

// render renders the folder at real with kustomize or as plain YAML.
func render(ctx context.Context, r *reader, real string) ([]Object, error) {
	kf, _, err := kustomizationFile(r.t, real)
	if err != nil {
		return nil, err
	}
	if kf != "" {
		return kustomizeDir(ctx, r, real, r.opts.MaxObjects)
	}
	return plainDir(ctx, r, real)
}
