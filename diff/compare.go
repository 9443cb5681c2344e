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
// desired object it is given is Git's, without status and server-set metadata; it must not
// modify it.
type ServerDryRunner interface {
	// DryRunApply returns the object the API server would store if desired were server-side
	// applied over the live object.
	DryRunApply(ctx context.Context, desired *unstructured.Unstructured) (*unstructured.Unstructured, error)
	// DryRunCreate returns the object the API server would store if desired were created anew:
	// desired plus every field the server sets by default.
	DryRunCreate(ctx context.Context, desired *unstructured.Unstructured) (*unstructured.Unstructured, error)
}

// Field is one drifted field.
type Field struct {
	// Path in structured-merge-diff notation, e.g. .spec.template.spec.containers[name="nginx"].image
	Path string
	// Desired is the value Git declares, nil when Git does not declare the field.
	Desired any
	// Live is the value in the cluster, nil when the field is absent there.
	Live any
	// Manager last wrote the field (from managedFields), empty when nobody owns it.
	Manager string
	// Time is when Manager wrote it, nil when unknown.
	Time *time.Time
	// Masked is true when Desired and Live stand in for Secret values.
	Masked bool
}

// Result says how one live object differs from its desired state.
type Result struct {
	// Fields are the drifted fields, sorted by path; empty when the object matches Git.
	Fields []Field
	// DryRuns is the number of dry-run requests the comparison made.
	DryRuns int
}

// HasChanges reports whether any field drifted.
func (r Result) HasChanges() bool { return len(r.Fields) > 0 }

// Differ compares desired objects with live ones. It is safe for concurrent use.
type Differ struct {
	opts   Options
	server ServerDryRunner
}

// New returns a Differ that confirms local differences with server. It validates the ignore
// rules of opts.
func New(server ServerDryRunner, opts Options) (*Differ, error) {
	opts.Ignore = slices.Clone(opts.Ignore)
	for i := range opts.Ignore {
		if err := opts.Ignore[i].Validate(); err != nil {
			return nil, fmt.Errorf("rule %d: %w", i+1, err)
		}
	}
	return &Differ{opts: opts, server: server}, nil
}

// Compare returns the fields of live that drifted from desired. Both must be the same object
// (same kind, namespace and name); desired must carry its namespace. It asks the server only
// when the local comparison finds a difference.
func (d *Differ) Compare(ctx context.Context, desired, live *unstructured.Unstructured) (Result, error) {
	des, liv := prepare(desired), prepare(live)
	dt, err := toTyped(des)
	if err != nil {
		return Result{}, fmt.Errorf("desired object %w", err)
	}
	lt, err := toTyped(liv)
	if err != nil {
		return Result{}, fmt.Errorf("live object %w", err)
	}
	local, err := dt.Compare(lt)
	if err != nil {
		return Result{}, fmt.Errorf("compare: %w", err)
	}
	c := comparison{
		Differ: d, desired: des, live: liv, desiredTyped: dt,
		ignored: ignoredPaths(d.opts.Ignore, selectorTarget(desired, live)),
		owners:  owners(live),
	}
	var res Result
	changed, err := c.declaredDrift(ctx, local, lt, &res)
	if err != nil {
		return res, err
	}
	added, err := c.interactiveAdditions(ctx, local.Added, &res)
	if err != nil {
		return res, err
	}
	res.Fields = append(changed, added...)
	if isSecret(des) {
		for i := range res.Fields {
			if secretValue(res.Fields[i].Path) {
				res.Fields[i] = mask(res.Fields[i])
			}
		}
	}
	slices.SortFunc(res.Fields, func(a, b Field) int { return strings.Compare(a.Path, b.Path) })
	return res, nil
}

// comparison holds what one Compare call has worked out so far.
type comparison struct {
	*Differ
	desired, live *unstructured.Unstructured
	desiredTyped  *typed.TypedValue
	ignored       []string
	owners        []owner
}

// declaredDrift returns the declared fields whose live value differs from the value the server
// would store for Git's. Local differences that normalisation explains cost no request; the rest
// are settled by one dry-run apply.
func (c *comparison) declaredDrift(ctx context.Context, local *typed.Comparison, lt *typed.TypedValue, res *Result) ([]Field, error) {
	suspects := false
	local.Modified.Union(local.Removed).Iterate(func(p fieldpath.Path) {
		if suspects || matchesPattern(c.ignored, p) {
			return
		}
		dv, _ := valueAt(c.desired.Object, p)
		lv, ok := valueAt(c.live.Object, p)
		if !ok || !equivalent(p, dv, lv) {
			suspects = true
		}
	})
	if !suspects {
		return nil, nil
	}
	res.DryRuns++
	applied, err := c.server.DryRunApply(ctx, c.desired)
	if err != nil {
		return nil, fmt.Errorf("dry-run apply: %w", err)
	}
	app := prepare(applied)
	at, err := toTyped(app)
	if err != nil {
		return nil, fmt.Errorf("dry-run result %w", err)
	}
	declared, err := c.desiredTyped.ToFieldSet()
	if err != nil {
		return nil, fmt.Errorf("desired fields: %w", err)
	}
	confirmed, err := at.ExtractItems(declared).Compare(lt.ExtractItems(declared))
	if err != nil {
		return nil, fmt.Errorf("compare with dry-run result: %w", err)
	}
	var fields []Field
	for _, p := range topmost(confirmed.Modified.Union(confirmed.Removed)) {
		if matchesPattern(c.ignored, p) {
			continue
		}
		f := Field{Path: p.String()}
		var ok bool
		if f.Desired, ok = valueAt(c.desired.Object, p); !ok {
			f.Desired, _ = valueAt(app.Object, p)
		}
		f.Live, _ = valueAt(c.live.Object, p)
		if w := lastWriter(c.owners, p); w != nil {
			f.Manager, f.Time = w.manager, w.time
		}
		fields = append(fields, f)
	}
	return fields, nil
}

// interactiveAdditions returns the fields that Git does not declare, that a person wrote, and
// that the API server would not have set by itself. Fields of the same added element (a whole
// container, an env var) come as one.
func (c *comparison) interactiveAdditions(ctx context.Context, added *fieldpath.Set, res *Result) ([]Field, error) {
	if len(c.opts.InteractiveManagers) == 0 {
		return nil, nil
	}
	candidates := fieldpath.NewSet()
	added.Iterate(func(p fieldpath.Path) {
		if !userField(p) || matchesPattern(c.ignored, p) {
			return
		}
		if w := lastWriter(c.owners, p); w != nil && interactive(c.opts.InteractiveManagers, w.manager) {
			candidates.Insert(p)
		}
	})
	if candidates.Empty() {
		return nil, nil
	}
	res.DryRuns++
	created, err := c.server.DryRunCreate(ctx, c.desired)
	if err != nil {
		return nil, fmt.Errorf("dry-run create (to learn the server's defaults): %w", err)
	}
	ct, err := toTyped(prepare(created))
	if err != nil {
		return nil, fmt.Errorf("dry-run result %w", err)
	}
	fields, err := ct.ToFieldSet()
	if err != nil {
		return nil, fmt.Errorf("dry-run result fields: %w", err)
	}
	defaulted := withPrefixes(fields)
	var out []Field
	for _, p := range topmost(candidates) {
		if defaulted.Has(p) {
			continue
		}
		w := lastWriter(c.owners, p)
		live, _ := valueAt(c.live.Object, p)
		out = append(out, Field{Path: p.String(), Live: live, Manager: w.manager, Time: w.time})
	}
	return out, nil
}

// userField reports whether a field Git is silent about could be a person's edit. Metadata
// other than labels, annotations and finalizers is the server's or a controller's.
func userField(p fieldpath.Path) bool {
	if len(p) == 0 || p[0].FieldName == nil {
		return false
	}
	switch *p[0].FieldName {
	case "status", "apiVersion", "kind":
		return false
	case "metadata":
		if len(p) < 2 || p[1].FieldName == nil {
			return false
		}
		switch *p[1].FieldName {
		case "labels", "annotations", "finalizers":
			return len(p) > 2
		}
		return false
	}
	return true
}

// selectorTarget is the object whose labels ignore rules match: the live one when there is one.
func selectorTarget(desired, live *unstructured.Unstructured) *unstructured.Unstructured {
	if live != nil {
		return live
	}
	return desired
}
