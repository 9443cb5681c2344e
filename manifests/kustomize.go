package manifests

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/openapi"
)

// originAnnotation is where kustomize records the file an object came from, when a
// kustomization asks for it with `buildMetadata: [originAnnotations]`; it is the user's and
// stays.
const originAnnotation = "config.kubernetes.io/origin"

// buildSlot serialises all use of kustomize, preflight and build: kustomize keeps
// process-wide state (its OpenAPI schema, builtin plugin tables) that is not safe for
// concurrent use. A build abandoned after a timeout keeps the slot until it ends, so at most
// one build runs at any time, however many renders time out.
var buildSlot = make(chan struct{}, 1)

// forceKustomize sends even kustomizations that only list resources through kustomize, for the
// test that compares both ways.
var forceKustomize = false

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
	if onlyListsResources(top) && !forceKustomize {
		return p.aggregate(top, nil)
	}
	// Mark every object of every resource file with the file it came from. Kustomize carries
	// annotations through, far more cheaply than its own origin tracking, which also tracks
	// every transformer; the mark is removed again below.
	fsys := &rootFS{t: r.t, r: r, overrides: map[string][]byte{}}
	if err := p.markSources(fsys.overrides); err != nil {
		return nil, err
	}
	generators := p.generatorSources()

	handedOver = true
	m, err := build(ctx, fsys, dir, p.openAPI)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// Kustomize's messages may quote a Secret's value: they leave with none.
		err = scrubSecrets(relativiseError(err, r.t.real, r.t.abs), p.secretValues())
		return nil, &FileError{Path: top.file.rel, Err: fmt.Errorf("kustomize build: %w", err)}
	}
	if m.Size() > budget {
		return nil, fileErr(top.file.rel, 0, "kustomization rendered %d objects, over what is left (%d) of the limit of %d: %w",
			m.Size(), budget, r.opts.MaxObjects, ErrLimitExceeded)
	}
	objs := make([]Object, 0, m.Size())
	var size int64
	for _, res := range m.Resources() {
		// What RNode.MarshalJSON does, without its detour through a YAML string.
		fields, err := res.Map()
		if err != nil {
			return nil, fileErr(top.file.rel, 0, "%s: %w", res.CurId(), err)
		}
		js, err := json.Marshal(fields)
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
		source, ok := u.GetAnnotations()[sourceAnnotation]
		if ok {
			removeAnnotation(u, sourceAnnotation)
		} else {
			source = generatedSource(u, generators, top.file.rel)
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
