package diff

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// ServerDryRunner asks the API server what it would store, without storing anything. The
// desired object it is given is Git's, without status and server-set metadata; live is the
// object as the cluster stores it (its UID and resourceVersion let an implementation cache
// answers). It must modify neither, and the Differ never modifies what it returns.
type ServerDryRunner interface {
	// DryRunApply returns the object the API server would store if desired were server-side
	// applied over live by field manager manager, forcing conflicts.
	DryRunApply(ctx context.Context, desired, live *unstructured.Unstructured, manager string) (*unstructured.Unstructured, error)
	// DryRunCreate returns the object the API server would store if desired were created anew:
	// desired plus every field the server sets by default. Its name may differ from desired's.
	DryRunCreate(ctx context.Context, desired, live *unstructured.Unstructured) (*unstructured.Unstructured, error)
}

// Field is one drifted field.
type Field struct {
	// Path in structured-merge-diff notation, e.g. .spec.template.spec.containers[name="nginx"].image
	Path string
	// Desired is the value Git declares, nil when Git does not declare the field. For a field
	// Git leaves to the server's default that a person changed, it is that default.
	Desired any
	// Live is the value in the cluster, nil when the field is absent there.
	Live any
	// Manager last wrote the field (from managedFields), empty when nobody owns it.
	Manager string
	// Time is when Manager wrote it, nil when unknown.
	Time *time.Time
	// Masked is true when Desired and Live stand in for Secret values.
	Masked bool
	// Note says how the verdict was reached when that is not the usual way, e.g. that the API
	// server could not confirm it. Empty otherwise.
	Note string
}

// Result says how one live object differs from its desired state.
type Result struct {
	// Fields are the drifted fields, sorted by path; empty when the object matches Git.
	Fields []Field
	// DryRuns is the number of dry runs the comparison asked of the ServerDryRunner, which may
	// answer some from a cache.
	DryRuns int
}

// HasChanges reports whether any field drifted.
func (r Result) HasChanges() bool { return len(r.Fields) > 0 }

// Differ compares desired objects with live ones. It is safe for concurrent use.
type Differ struct {
	opts    Options
	server  ServerDryRunner
	schemas SchemaSource
}

// DifferOption wires an optional dependency into a Differ.
type DifferOption func(*Differ)

// WithSchemas makes the Differ read kinds that client-go does not know (custom resources,
// CustomResourceDefinitions) with the schemas of src. Without it they are read with a schema
// deduced from their values, in which every list is atomic.
func WithSchemas(src SchemaSource) DifferOption {
	return func(d *Differ) { d.schemas = src }
}

// New returns a Differ that confirms local differences with server. It validates the ignore
// rules of opts.
func New(server ServerDryRunner, opts Options, options ...DifferOption) (*Differ, error) {
	opts.Ignore = slices.Clone(opts.Ignore)
	for i := range opts.Ignore {
		if err := opts.Ignore[i].Validate(); err != nil {
			return nil, fmt.Errorf("rule %d: %w", i+1, err)
		}
	}
	if opts.FieldManager == "" {
		opts.FieldManager = "plumbline"
	}
	d := &Differ{opts: opts, server: server}
	for _, o := range options {
		o(d)
	}
	return d, nil
}

// Compare returns the fields of live that drifted from desired. Both must be the same object
// (same kind, namespace and name); desired must carry its namespace. It asks the server only
// when the local comparison finds a difference.
func (d *Differ) Compare(ctx context.Context, desired, live *unstructured.Unstructured) (Result, error) {
	des, liv := prepare(desired), prepare(live)
	dt, lt, err := d.toTypedPair(ctx, des, liv)
	if err != nil {
		return Result{}, err
	}
	local, err := dt.Compare(lt.TypedValue)
	if err != nil {
		return Result{}, fmt.Errorf("compare: %w", err)
	}
	declared, err := dt.ToFieldSet()
	if err != nil {
		return Result{}, fmt.Errorf("desired fields: %w", err)
	}
	c := &comparison{
		Differ: d, desired: des, live: liv, rawLive: live, desiredTyped: dt, liveTyped: lt,
		declared: declared,
		ignored:  ignoredPaths(d.opts.Ignore, selectorTarget(desired, live)),
		owners:   owners(live),
		applied:  map[string]dryRun{},
	}
	changed, err := c.declaredDrift(ctx, local)
	if err != nil {
		return c.res, err
	}
	added, err := c.interactiveAdditions(ctx, local.Added)
	if err != nil {
		return c.res, err
	}
	dropped, err := c.droppedFields(ctx)
	if err != nil {
		return c.res, err
	}
	res := c.res
	res.Fields = mergeFields(changed, added, dropped)
	if isSecret(des) {
		for i := range res.Fields {
			if secretValue(res.Fields[i].Path) {
				res.Fields[i] = mask(res.Fields[i])
			}
			// A note may quote the server's refusal, which may quote a value.
			res.Fields[i].Note = ScrubSecretValues(live, ScrubSecretValues(desired, res.Fields[i].Note))
		}
	}
	slices.SortFunc(res.Fields, func(a, b Field) int { return strings.Compare(a.Path, b.Path) })
	return res, nil
}

// toTypedPair converts both sides with one schema: when either can only be read with a deduced
// schema, both are, since typed values of different schemas cannot be compared.
func (d *Differ) toTypedPair(ctx context.Context, des, liv *unstructured.Unstructured) (dt, lt typedObject, err error) {
	if dt, err = d.toTyped(ctx, des); err != nil {
		return dt, lt, fmt.Errorf("desired object %w", err)
	}
	if lt, err = d.toTyped(ctx, liv); err != nil {
		return dt, lt, fmt.Errorf("live object %w", err)
	}
	if dt.deduced == lt.deduced {
		return dt, lt, nil
	}
	for _, side := range []struct {
		t   *typedObject
		obj *unstructured.Unstructured
	}{{&dt, des}, {&lt, liv}} {
		tv, err := deducedTypes.ObjectToTyped(side.obj, typed.AllowDuplicates)
		if err != nil {
			return dt, lt, fmt.Errorf("cannot read %s: %w", side.obj.GroupVersionKind(), err)
		}
		*side.t = typedObject{TypedValue: tv, deduced: true}
	}
	return dt, lt, nil
}

// mergeFields joins the fields found by each check; a path found twice is kept once, first
// found first.
func mergeFields(lists ...[]Field) []Field {
	var out []Field
	seen := map[string]bool{}
	for _, l := range lists {
		for _, f := range l {
			if !seen[f.Path] {
				seen[f.Path] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// comparison holds what one Compare call has worked out so far.
type comparison struct {
	*Differ
	desired, live *unstructured.Unstructured
	// rawLive is the live object as given, with the UID and resourceVersion dry-runners key on.
	rawLive      *unstructured.Unstructured
	desiredTyped typedObject
	liveTyped    typedObject
	declared     *fieldpath.Set
	ignored      []string
	owners       []owner
	res          Result

	// applied and created remember dry runs, so that each is asked at most once.
	applied map[string]dryRun
	created *dryRun
	// wroteGitMemo remembers wroteGit per owner.
	wroteGitMemo map[*owner]bool
}

// dryRun is one answer of the server: the object it would store, or why it refused.
type dryRun struct {
	obj *unstructured.Unstructured
	err error
}

// apply dry-runs Git's object as manager, once per manager.
func (c *comparison) apply(ctx context.Context, manager string) (*unstructured.Unstructured, error) {
	if r, ok := c.applied[manager]; ok {
		return r.obj, r.err
	}
	c.res.DryRuns++
	obj, err := c.server.DryRunApply(ctx, c.desired, c.rawLive, manager)
	if obj != nil {
		obj = prepare(obj)
	}
	c.applied[manager] = dryRun{obj: obj, err: err}
	return obj, err
}

// create dry-runs the creation of Git's object anew, once.
func (c *comparison) create(ctx context.Context) (*unstructured.Unstructured, error) {
	if c.created == nil {
		c.res.DryRuns++
		obj, err := c.server.DryRunCreate(ctx, c.desired, c.rawLive)
		if obj != nil {
			obj = prepare(obj)
		}
		c.created = &dryRun{obj: obj, err: err}
	}
	return c.created.obj, c.created.err
}

// attribute fills in who last wrote the field at p.
func (c *comparison) attribute(f *Field, p fieldpath.Path) {
	if w := lastWriter(c.owners, p); w != nil {
		f.Manager, f.Time = w.manager, w.time
	}
}

// selectorTarget is the object whose labels ignore rules match: the live one when there is one.
func selectorTarget(desired, live *unstructured.Unstructured) *unstructured.Unstructured {
	if live != nil {
		return live
	}
	return desired
}
