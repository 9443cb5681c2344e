package manifests

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	sigyaml "sigs.k8s.io/yaml"
)

// originAnnotation is where kustomize records the file an object came from, when asked to
// with `buildMetadata: [originAnnotations]`.
const originAnnotation = "config.kubernetes.io/origin"

// buildSlot serialises all use of kustomize, preflight and build: kustomize keeps
// process-wide state (its OpenAPI schema, builtin plugin tables) that is not safe for
// concurrent use. A build abandoned after a timeout keeps the slot until it ends, so at most
// one build runs at any time, however many renders time out.
var buildSlot = make(chan struct{}, 1)

// kustomizeDir renders the kustomization in dir (a real path) with at most budget objects.
func kustomizeDir(ctx context.Context, r *reader, dir string, budget int) ([]Object, error) {
	select {
	case buildSlot <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	handedOver := false // to the build goroutine, which releases the slot when kustomize returns
	defer func() {
		if !handedOver {
			<-buildSlot
		}
	}()
	p := newPreflight(ctx, r)
	top, err := p.load(dir)
	if err != nil {
		return nil, err
	}
	if top.est.objects > int64(budget) {
		return nil, fileErr(top.file.rel, 0, "kustomization would render about %d objects, over what is left (%d) of the limit of %d: %w",
			top.est.objects, budget, r.opts.MaxObjects, ErrLimitExceeded)
	}
	// Ask kustomize to record each object's origin, unless the user already does, in which
	// case the annotation is theirs and stays.
	keepOrigin := slices.Contains(top.k.BuildMetadata, types.OriginAnnotations)
	fsys := &rootFS{t: r.t, r: r, overrides: map[string][]byte{}}
	if !keepOrigin {
		b, err := withOriginAnnotations(top.file.data)
		if err != nil {
			return nil, fileErr(top.file.rel, 0, "%w", err)
		}
		fsys.overrides[top.file.real] = b
	}
	origins := map[string]string{}
	p.origins(top, "", origins)

	handedOver = true
	m, err := build(ctx, fsys, dir, p.openAPI)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &FileError{Path: top.file.rel, Err: fmt.Errorf("kustomize build: %w", relativiseError(err, r.t.real, r.t.abs))}
	}
	if m.Size() > budget {
		return nil, fileErr(top.file.rel, 0, "kustomization rendered %d objects, over what is left (%d) of the limit of %d: %w",
			m.Size(), budget, r.opts.MaxObjects, ErrLimitExceeded)
	}
	objs := make([]Object, 0, m.Size())
	var size int64
	topDir := r.t.rel(dir)
	for _, res := range m.Resources() {
		js, err := res.MarshalJSON()
		if err != nil {
			return nil, fileErr(top.file.rel, 0, "%s: %w", res.CurId(), err)
		}
		if size += int64(len(js)); size > r.opts.MaxOutputBytes {
			return nil, fileErr(top.file.rel, 0, "kustomization rendered more than the limit of %d bytes: %w", r.opts.MaxOutputBytes, ErrLimitExceeded)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, fileErr(top.file.rel, 0, "%s: %w", res.CurId(), err)
		}
		source := sourceOf(u, origins, topDir, top.file.rel)
		if !keepOrigin {
			removeAnnotation(u, originAnnotation)
		}
		objs = append(objs, Object{Object: u, Source: source})
	}
	return objs, nil
}

// build runs kustomize on dir through fsys, in its own goroutine, which releases buildSlot
// (held by the caller) when kustomize returns. Kustomize cannot be cancelled, so on
// cancellation build returns at once and closes the reader, which fails the abandoned build
// at its next file access.
func build(ctx context.Context, fsys *rootFS, dir string, resetOpenAPI bool) (resmap.ResMap, error) {
	type result struct {
		m   resmap.ResMap
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-buildSlot }()
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("kustomize failed: %v", p)}
			}
		}()
		if resetOpenAPI {
			// A custom schema would otherwise stay in force for every later build.
			defer openapi.ResetOpenAPI()
		}
		k := krusty.MakeKustomizer(&krusty.Options{
			Reorder:           krusty.ReorderOptionNone, // Render sorts
			AddManagedbyLabel: false,
			LoadRestrictions:  types.LoadRestrictionsRootOnly,
			PluginConfig:      types.DisabledPluginConfig(),
		})
		m, err := k.Run(fsys, dir)
		done <- result{m: m, err: err}
	}()
	select {
	case res := <-done:
		return res.m, res.err
	case <-ctx.Done():
		fsys.r.close()
		return nil, ctx.Err()
	}
}

// withOriginAnnotations returns the kustomization in data with originAnnotations added to its
// buildMetadata, written the way kustomize reads it back to the same value.
func withOriginAnnotations(data []byte) ([]byte, error) {
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		return nil, err
	}
	k.BuildMetadata = append(k.BuildMetadata, types.OriginAnnotations)
	out, err := sigyaml.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("adding origin tracking: %w", err)
	}
	// Kustomize must read back exactly what the preflight checked, plus the option.
	var back types.Kustomization
	if err := back.Unmarshal(out); err != nil || !reflect.DeepEqual(back, k) {
		return nil, fmt.Errorf("adding origin tracking changed the kustomization (%v)", err)
	}
	return out, nil
}

// origins records, for every file kustomize will annotate objects with, the path kustomize
// writes (joined from the entries along the way, relative to the entry kustomization) and the
// file's path relative to the repository root, symlinks resolved. A path that two files
// share (possible through symlinked folders) maps to "".
func (p *preflight) origins(k *kustomization, prefix string, m map[string]string) {
	set := func(key, real string) {
		rel := p.t.rel(real)
		if old, ok := m[key]; ok && old != rel {
			rel = ""
		}
		m[key] = rel
	}
	set(filepath.Join(prefix, k.name), k.file.real)
	for _, e := range k.edges {
		if e.kust != nil {
			p.origins(e.kust, filepath.Join(prefix, e.entry), m)
			continue
		}
		set(filepath.Join(prefix, e.entry), e.real)
	}
}

// sourceOf returns the file u came from, relative to the repository root, read from its
// origin annotation: the resource file, or the kustomization that generated it. Objects
// without one are attributed to the entry kustomization.
func sourceOf(u *unstructured.Unstructured, origins map[string]string, topDir, topFile string) string {
	raw, ok := u.GetAnnotations()[originAnnotation]
	if !ok {
		return topFile
	}
	var o struct {
		Path         string `yaml:"path"`
		ConfiguredIn string `yaml:"configuredIn"`
	}
	if err := yaml.Unmarshal([]byte(raw), &o); err != nil {
		return topFile
	}
	for _, p := range []string{o.Path, o.ConfiguredIn} {
		if p == "" {
			continue
		}
		if rel := origins[filepath.Clean(p)]; rel != "" {
			return rel
		}
		return filepath.ToSlash(filepath.Join(topDir, p))
	}
	return topFile
}

// removeAnnotation deletes key from u's annotations, and the annotations field when it
// becomes empty, as kustomize does when it removes its own.
func removeAnnotation(u *unstructured.Unstructured, key string) {
	a := u.GetAnnotations()
	if _, ok := a[key]; !ok {
		return
	}
	delete(a, key)
	if len(a) == 0 {
		unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
		return
	}
	u.SetAnnotations(a)
}
