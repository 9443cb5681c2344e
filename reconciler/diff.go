package reconciler

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/plumbline/plumbline/diff"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/report"
)

// DiffOptions tune a one-shot diff.
type DiffOptions struct {
	// Source says in the report where the desired objects came from.
	Source report.Source
	// SourceName is the value of LabelSource that marks this source's objects; objects carrying
	// it that Git no longer declares are Extra (pruned-from-git). Empty turns that search off.
	SourceName string
	// DefaultNamespace is given to namespaced objects that declare none. Default "default".
	DefaultNamespace string
	// Diff tunes the field comparison.
	Diff diff.Options
	// Concurrency caps parallel requests and comparisons. Default 16.
	Concurrency int
	// Images turns on image checks; nil skips them.
	Images *ImageOptions
	// Policy evaluates rules on the live objects, and reports the violations that Git does not
	// have (drift into a violation); nil skips them.
	Policy *policy.Engine
	// Memo, when set, reuses the comparison of an object whose live twin has not changed since
	// an earlier Diff with the same desired objects and options. Nil compares every object.
	Memo *CompareMemo
	// InventoryOnly takes pruned-from-git Extras from the source's inventory alone: a source
	// without one has none, and the label is never searched for (a search of every resource of
	// the cluster). The controller sets it: only its own applies write the label.
	InventoryOnly bool
	// Live reads the live objects of each declared kind and namespace, and the pods of managed
	// workloads. Nil lists them from the API server.
	Live LiveObjects
}

// appliedMetadataPrefix covers the labels and annotations Plumbline's apply writes itself
// (LabelSource and any it adds later): never fields that Git dropped.
const appliedMetadataPrefix = "plumbline.dev/"

// DefaultDiffOptions returns the defaults described on DiffOptions.
func DefaultDiffOptions() DiffOptions {
	return DiffOptions{DefaultNamespace: "default", Diff: diff.DefaultOptions(), Concurrency: 16}
}

// target is one desired object and what the run learned about it.
type target struct {
	desired manifests.Object
	m       mapping
	live    *unstructured.Unstructured
	// unlisted is true when the live objects of its kind could not be listed.
	unlisted bool
}

// group is one list request: the objects of a resource in a namespace.
type group struct {
	m         mapping
	namespace string
}

// Diff compares the desired objects with the cluster and returns the report. An error is
// returned only when the run as a whole could not be made (no cluster, bad options); problems
// with single objects are report errors.
func (c *Cluster) Diff(ctx context.Context, objs []manifests.Object, opts DiffOptions) (*report.Report, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.DefaultNamespace == "" {
		opts.DefaultNamespace = "default"
	}
	dopts := opts.Diff
	dopts.FieldManager = FieldManager
	dopts.AppliedMetadata = append(slices.Clone(dopts.AppliedMetadata), appliedMetadataPrefix, LabelManagedBy)
	differ, err := diff.New(dryRunner{c}, dopts, diff.WithSchemas(schemaSource{c}))
	if err != nil {
		return nil, fmt.Errorf("diff options: %w", err)
	}
	if opts.Live == nil {
		opts.Live = apiLive{c}
	}
	r := report.New(opts.Source)
	run := &diffRun{c: c, opts: opts, differ: differ, report: r}
	targets := run.resolve(objs)
	lists, err := run.listLive(ctx, targets)
	if err != nil {
		return nil, err
	}
	if err := run.compare(ctx, targets); err != nil {
		return nil, err
	}
	if err := run.extras(ctx, targets, lists); err != nil {
		return nil, err
	}
	var running runningFunc
	if opts.Images != nil {
		if running, err = run.c.runningImages(ctx, targets, opts.Live); err != nil {
			return nil, err
		}
	}
	if err := checkImagesAndPolicy(ctx, r, targets, running, opts.Images, opts.Policy, false); err != nil {
		return nil, err
	}
	r.Finalize(len(objs))
	return r, nil
}

// diffRun is the state of one Diff call.
type diffRun struct {
	c      *Cluster
	opts   DiffOptions
	differ *diff.Differ
	mu     sync.Mutex
	report *report.Report
}

func (run *diffRun) add(f report.Finding) {
	run.mu.Lock()
	defer run.mu.Unlock()
	run.report.Findings = append(run.report.Findings, f)
}

func (run *diffRun) fail(obj *unstructured.Unstructured, err error) {
	e := objectError(obj, "", err)
	run.mu.Lock()
	defer run.mu.Unlock()
	run.report.Errors = append(run.report.Errors, e)
}

// resolve maps each desired object to its resource and namespace. Objects of kinds the cluster
// does not serve become report errors.
func (run *diffRun) resolve(objs []manifests.Object) []*target {
	targets := make([]*target, 0, len(objs))
	for _, o := range objs {
		u := o.Object.DeepCopy()
		m, err := run.c.mappingFor(u.GroupVersionKind())
		if err != nil {
			run.fail(u, err)
			continue
		}
		switch {
		case m.namespaced && u.GetNamespace() == "":
			u.SetNamespace(run.opts.DefaultNamespace)
		case !m.namespaced:
			u.SetNamespace("")
		}
		targets = append(targets, &target{desired: manifests.Object{Object: u, Source: o.Source}, m: m})
	}
	return targets
}

// listLive lists each declared resource once per declared namespace and attaches every live
// twin to its target. It returns the lists, which also hold the objects Git does not declare.
func (run *diffRun) listLive(ctx context.Context, targets []*target) (map[group][]unstructured.Unstructured, error) {
	byGroup := map[group][]*target{}
	for _, t := range targets {
		g := group{m: t.m, namespace: t.desired.Object.GetNamespace()}
		byGroup[g] = append(byGroup[g], t)
	}
	gvkOf := func(g group) schema.GroupVersionKind { return byGroup[g][0].desired.Object.GroupVersionKind() }
	lists := make(map[group][]unstructured.Unstructured, len(byGroup))
	var mu sync.Mutex
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(run.opts.Concurrency)
	for g, ts := range byGroup {
		eg.Go(func() error {
			items, err := run.opts.Live.List(ectx, gvkOf(g), g.namespace)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				for _, t := range ts {
					t.unlisted = true
					run.fail(t.desired.Object, fmt.Errorf("list %s: %w", g.m.gvr.Resource, err))
				}
				return nil
			}
			byName := make(map[string]*unstructured.Unstructured, len(items))
			for i := range items {
				byName[items[i].GetName()] = &items[i]
			}
			for _, t := range ts {
				t.live = byName[t.desired.Object.GetName()]
			}
			mu.Lock()
			lists[g] = items
			mu.Unlock()
			return nil
		})
	}
	return lists, eg.Wait()
}

// compare reports each desired object that is missing or whose fields drifted.
func (run *diffRun) compare(ctx context.Context, targets []*target) error {
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(run.opts.Concurrency)
	for _, t := range targets {
		desired := t.desired.Object
		if t.unlisted {
			continue
		}
		if t.live == nil {
			run.add(missingFinding(t.desired))
			continue
		}
		key := memoKey{obj: keyOf(desired), uid: t.live.GetUID(), resourceVersion: t.live.GetResourceVersion()}
		if res, ok := run.opts.Memo.get(key); ok {
			if res.HasChanges() {
				run.add(modifiedFinding(t.desired, res.Fields))
			}
			continue
		}
		eg.Go(func() error {
			res, err := run.differ.Compare(ectx, desired, t.live)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				run.fail(desired, err)
				return nil
			}
			run.opts.Memo.put(key, res)
			if res.HasChanges() {
				run.add(modifiedFinding(t.desired, res.Fields))
			}
			return nil
		})
	}
	return eg.Wait()
}
