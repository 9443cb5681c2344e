package diff

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// Notes on fields whose verdict the server could not confirm.
const (
	noteUnconfirmed = "not confirmed by the API server, which refused Git's object merged onto the live one: %s"
	// noteForbidden marks a field compared locally because this identity may not dry-run (a
	// read-only install): normalisation is the local comparison's only.
	noteForbidden = "compared without the API server's dry run, which RBAC forbids to this identity"
)

// declaredDrift returns the declared fields whose live value differs from the value the server
// would store for Git's. Local differences that normalisation explains cost no request; the rest
// are settled by one dry-run apply. When the server refuses the merged object (a person's edit
// and Git's together are invalid, as two ports of one name), the verdict falls back to the local
// comparison, normalised by a dry-run create of Git's object alone, and says so in a note.
func (c *comparison) declaredDrift(ctx context.Context, local *typed.Comparison) ([]Field, error) {
	suspects := fieldpath.NewSet()
	local.Modified.Union(local.Removed).Iterate(func(p fieldpath.Path) {
		if matchesPattern(c.ignored, p) {
			return
		}
		dv, _ := valueAt(c.desired.Object, p)
		lv, ok := valueAt(c.live.Object, p)
		if !ok || !equivalent(p, dv, lv) {
			suspects.Insert(p)
		}
	})
	if suspects.Empty() {
		return nil, nil
	}
	applied, err := c.apply(ctx, c.opts.FieldManager)
	if refused(err) {
		return c.unconfirmedDrift(ctx, suspects, err)
	}
	if apierrors.IsForbidden(err) {
		return c.localDrift(suspects), nil
	}
	if err != nil {
		return nil, fmt.Errorf("dry-run apply: %w", err)
	}
	confirmed, err := c.confirm(ctx, applied)
	if err != nil {
		return nil, err
	}
	var fields []Field
	for _, p := range topmost(confirmed) {
		if matchesPattern(c.ignored, p) {
			continue
		}
		f := Field{Path: p.String()}
		var ok bool
		if f.Desired, ok = valueAt(c.desired.Object, p); !ok {
			f.Desired, _ = valueAt(applied.Object, p)
		}
		f.Live, _ = valueAt(c.live.Object, p)
		c.attribute(&f, p)
		fields = append(fields, f)
	}
	return fields, nil
}

// confirm returns the declared fields whose value in the dry-run result differs from the live
// one. With a known schema the declared items are cut out of both and compared; with a deduced
// one (which cannot cut out below the top level) each declared field is compared by value.
func (c *comparison) confirm(ctx context.Context, applied *unstructured.Unstructured) (*fieldpath.Set, error) {
	if c.desiredTyped.deduced {
		out := fieldpath.NewSet()
		c.declared.Leaves().Iterate(func(p fieldpath.Path) {
			av, aok := valueAt(applied.Object, p)
			lv, lok := valueAt(c.live.Object, p)
			if aok != lok || !reflect.DeepEqual(av, lv) {
				out.Insert(p)
			}
		})
		return out, nil
	}
	at, err := c.typedLike(ctx, applied)
	if err != nil {
		return nil, fmt.Errorf("dry-run result %w", err)
	}
	cmp, err := at.ExtractItems(c.declared).Compare(c.liveTyped.ExtractItems(c.declared))
	if err != nil {
		return nil, fmt.Errorf("compare with dry-run result: %w", err)
	}
	return cmp.Modified.Union(cmp.Removed), nil
}

// unconfirmedDrift reports the local suspects when the dry-run apply was refused. Git's object
// alone, created anew in a dry run, gives the values the server would store for Git's fields;
// a suspect whose live value matches it is normalisation, not drift. When that create is
// refused too, Git's object itself is invalid: that is an error, not drift.
func (c *comparison) unconfirmedDrift(ctx context.Context, suspects *fieldpath.Set, applyErr error) ([]Field, error) {
	created, err := c.create(ctx)
	switch {
	case err != nil && refusedName(err):
		created = nil // the name is refused, not the spec: compare with Git's values as written
	case err != nil:
		return nil, errors.Join(fmt.Errorf("dry-run apply: %w", applyErr), fmt.Errorf("dry-run create of Git's object alone: %w", err))
	}
	note := fmt.Sprintf(noteUnconfirmed, reason(applyErr))
	var fields []Field
	for _, p := range topmost(suspects) {
		f := Field{Path: p.String(), Note: note}
		f.Desired, _ = valueAt(c.desired.Object, p)
		lv, lok := valueAt(c.live.Object, p)
		if created != nil {
			if cv, ok := valueAt(created.Object, p); ok && lok && equivalent(p, cv, lv) {
				continue
			}
		}
		f.Live = lv
		c.attribute(&f, p)
		fields = append(fields, f)
	}
	return fields, nil
}

// localDrift reports the suspects of the local comparison as they are, noted, for an identity
// that may not dry-run: a read-only install still alerts.
func (c *comparison) localDrift(suspects *fieldpath.Set) []Field {
	var fields []Field
	for _, p := range topmost(suspects) {
		f := Field{Path: p.String(), Note: noteForbidden}
		f.Desired, _ = valueAt(c.desired.Object, p)
		f.Live, _ = valueAt(c.live.Object, p)
		c.attribute(&f, p)
		fields = append(fields, f)
	}
	return fields
}

// refused reports whether the server refused a dry run because the object it would store is
// invalid, rather than failing to answer.
func refused(err error) bool {
	return err != nil && apierrors.IsInvalid(err)
}

// refusedName reports whether the server refused a dry-run create only because of the object's
// name (kinds whose names must follow their spec, as a CustomResourceDefinition's
// <plural>.<group>).
func refusedName(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || !apierrors.IsInvalid(err) {
		return false
	}
	details := status.Status().Details
	if details == nil || len(details.Causes) == 0 {
		return false
	}
	for _, cause := range details.Causes {
		switch cause.Field {
		case "metadata.name", "metadata.generateName":
		default:
			return false
		}
	}
	return true
}

// reason is the server's message for a refused dry run, without the object's name in front.
func reason(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return err.Error()
}
