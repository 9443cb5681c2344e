package diff

import (
	"context"
	"fmt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Notes on additions.
const (
	noteDefaultChanged = "Git leaves this field to the server's default, which was changed in the cluster"
	noteNoDefaults     = "the server's defaults are unknown, as it refused a dry-run create of Git's object: %s"
)

// addition is a field Git does not declare that a person may have written.
type addition struct {
	path  fieldpath.Path
	field Field
}

// interactiveAdditions returns the fields that Git does not declare, that a person wrote, and
// that the API server would not have set by itself. Fields of the same added element (a whole
// container, an env var) come as one. A field the server defaults that a person set to another
// value is reported with the default as its desired value; the fields the server then set
// because of that change (sessionAffinityConfig after sessionAffinity: ClientIP) are not.
func (c *comparison) interactiveAdditions(ctx context.Context, added *fieldpath.Set) ([]Field, error) {
	if len(c.opts.InteractiveManagers) == 0 {
		return nil, nil
	}
	nameOnly := declaresNameOnly(c.desired)
	candidates := fieldpath.NewSet()
	added.Iterate(func(p fieldpath.Path) {
		if !userField(p) || matchesPattern(c.ignored, p) {
			return
		}
		w := lastWriter(c.owners, p)
		// An object declared by name only keeps no managedFields entry for Git's part, and the
		// API server then records none for later writes either: an unowned field is a person's.
		if (w != nil && interactive(c.opts.InteractiveManagers, w.manager)) || (w == nil && nameOnly) {
			candidates.Insert(p)
		}
	})
	if candidates.Empty() {
		return nil, nil
	}
	var all []addition
	for _, p := range topmost(candidates) {
		a := addition{path: p, field: Field{Path: p.String()}}
		a.field.Live, _ = valueAt(c.live.Object, p)
		c.attribute(&a.field, p)
		all = append(all, a)
	}
	created, err := c.create(ctx)
	if err != nil {
		if refusedName(err) || apierrors.IsForbidden(err) {
			return c.withoutDefaults(all, err), nil
		}
		return nil, fmt.Errorf("dry-run create (to learn the server's defaults): %w", err)
	}
	defaulted, err := c.fieldsOf(ctx, created)
	if err != nil {
		return nil, err
	}
	var out, rest []addition
	var changed []addition
	for _, a := range all {
		if !defaulted.Has(a.path) {
			rest = append(rest, a)
			continue
		}
		def, _ := valueAt(created.Object, a.path)
		w := lastWriter(c.owners, a.path)
		if w == nil || c.wroteGit(w) || equivalent(a.path, def, a.field.Live) || leftToOthers(a.path) {
			continue // the server's default, written at creation by the tool that created Git's object
		}
		a.field.Desired, a.field.Note = def, noteDefaultChanged
		changed = append(changed, a)
	}
	out = append(out, changed...)
	if len(changed) > 0 && len(rest) > 0 {
		// Which of the rest did the server set because of the person's change? A dry-run create
		// of Git's object with that change knows the defaults of the new spec.
		consequences := c.defaultsWith(ctx, changed)
		kept := rest[:0]
		for _, a := range rest {
			if !consequences.Has(a.path) {
				kept = append(kept, a)
			}
		}
		rest = kept
	}
	out = append(out, rest...)
	fields := make([]Field, len(out))
	for i, a := range out {
		fields[i] = a.field
	}
	return fields, nil
}

// withoutDefaults is the verdict on additions when the server's defaults cannot be learnt: the
// fields that the tool which wrote Git's object wrote too are taken for defaults it was given at
// creation; the others are reported, with a note.
func (c *comparison) withoutDefaults(all []addition, createErr error) []Field {
	note := fmt.Sprintf(noteNoDefaults, reason(createErr))
	var out []Field
	for _, a := range all {
		if w := lastWriter(c.owners, a.path); w != nil && c.wroteGit(w) {
			continue
		}
		a.field.Note = note
		out = append(out, a.field)
	}
	return out
}

// defaultsWith returns the fields the server would set when creating Git's object with the
// given changes. A change that cannot be written into Git's object, or a create the server
// refuses, gives no fields: the rest are then reported as they are.
func (c *comparison) defaultsWith(ctx context.Context, changes []addition) *fieldpath.Set {
	obj := c.desired.DeepCopy()
	for _, a := range changes {
		if !setValueAt(obj.Object, a.path, a.field.Live) {
			return fieldpath.NewSet()
		}
	}
	c.res.DryRuns++
	created, err := c.server.DryRunCreate(ctx, obj, c.rawLive)
	if err != nil {
		return fieldpath.NewSet()
	}
	fields, err := c.fieldsOf(ctx, prepare(created))
	if err != nil {
		return fieldpath.NewSet()
	}
	return fields
}

// fieldsOf returns every field of a dry-run result, with every prefix of each.
func (c *comparison) fieldsOf(ctx context.Context, obj *unstructured.Unstructured) (*fieldpath.Set, error) {
	tv, err := c.typedLike(ctx, obj)
	if err != nil {
		return nil, fmt.Errorf("dry-run result %w", err)
	}
	fields, err := tv.ToFieldSet()
	if err != nil {
		return nil, fmt.Errorf("dry-run result fields: %w", err)
	}
	return withPrefixes(fields), nil
}

// wroteGit reports whether w wrote Git's object: it owns a declared field that still has Git's
// value. Such a manager (kubectl apply's client-side manager, kubectl create) was given the
// server's defaults when it created the object, so its owning a defaulted field says nothing.
// Keys are matched exactly: a person's edit of a key (a port's protocol) makes a new element.
func (c *comparison) wroteGit(w *owner) bool {
	if v, ok := c.wroteGitMemo[w]; ok {
		return v
	}
	found := false
	w.fields.Leaves().Iterate(func(p fieldpath.Path) {
		if found || !c.declared.Has(p) {
			return
		}
		dv, _ := valueAt(c.desired.Object, p)
		lv, ok := valueAt(c.live.Object, p)
		found = ok && equivalent(p, dv, lv)
	})
	if c.wroteGitMemo == nil {
		c.wroteGitMemo = map[*owner]bool{}
	}
	c.wroteGitMemo[w] = found
	return found
}

// leftToOthers reports whether Git, by leaving p out, hands it to autoscalers and people:
// replicas that Git does not declare are never drift, whoever set them.
func leftToOthers(p fieldpath.Path) bool {
	return len(p) == 2 && p[0].FieldName != nil && *p[0].FieldName == "spec" &&
		p[1].FieldName != nil && *p[1].FieldName == "replicas"
}

// declaresNameOnly reports whether Git declares nothing of obj but its kind and name.
func declaresNameOnly(obj *unstructured.Unstructured) bool {
	for k := range obj.Object {
		switch k {
		case "apiVersion", "kind", "metadata":
		default:
			return false
		}
	}
	md, _ := obj.Object["metadata"].(map[string]any)
	for k := range md {
		switch k {
		case "name", "namespace":
		default:
			return false
		}
	}
	return true
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
