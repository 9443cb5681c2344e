package diff

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// SchemaSource gives the schema of kinds that client-go's compiled schema does not know: custom
// resources, and CustomResourceDefinitions themselves. The reconciler answers from the API
// server's published OpenAPI v3 document of the group-version.
type SchemaSource interface {
	// TypeConverter returns a converter that knows every kind of gv.
	TypeConverter(ctx context.Context, gv schema.GroupVersion) (managedfields.TypeConverter, error)
}

// builtinTypes knows the schema of every built-in kind from the schema compiled into client-go:
// list keys, atomic and granular maps.
var builtinTypes = sync.OnceValue(func() managedfields.TypeConverter {
	return applyconfigurations.NewTypeConverter(scheme.Scheme)
})

// deducedTypes reads any object with a schema deduced from its values, in which lists are
// atomic. It is the last resort for kinds whose schema is unknown.
var deducedTypes = managedfields.NewDeducedTypeConverter()

// typedObject is an object converted for structured-merge-diff, and whether its schema was only
// deduced from its values (then ExtractItems cannot cut out the declared fields).
type typedObject struct {
	*typed.TypedValue
	deduced bool
}

// toTyped converts an object to a typed value with the best schema known for its kind: the
// compiled one for built-in kinds, the server's for others (when the Differ has a
// SchemaSource), else a deduced one. Duplicate list keys are allowed, as the API server allows
// them in objects written with Update.
func (d *Differ) toTyped(ctx context.Context, obj *unstructured.Unstructured) (typedObject, error) {
	gvk := obj.GroupVersionKind()
	// client-go's scheme may hold more kinds than its compiled schema (a program can register
	// apiextensions into it), so the schema is asked, not the scheme.
	tv, builtinErr := builtinTypes().ObjectToTyped(obj, typed.AllowDuplicates)
	if builtinErr == nil {
		return typedObject{TypedValue: tv}, nil
	}
	if compiledKind(gvk) {
		return typedObject{}, fmt.Errorf("does not match the schema of %s: %w", gvk, builtinErr)
	}
	if d.schemas != nil {
		// A schema that cannot be had, or that does not know the kind, leaves the deduced one:
		// the comparison is then coarser (lists are atomic), never wrong.
		if tc, err := d.schemas.TypeConverter(ctx, gvk.GroupVersion()); err == nil {
			if tv, err := tc.ObjectToTyped(obj, typed.AllowDuplicates); err == nil {
				return typedObject{TypedValue: tv}, nil
			}
		} else if ctx.Err() != nil {
			return typedObject{}, ctx.Err()
		}
	}
	tv, err := deducedTypes.ObjectToTyped(obj, typed.AllowDuplicates)
	if err != nil {
		return typedObject{}, errors.Join(fmt.Errorf("cannot read as %s", gvk), err)
	}
	return typedObject{TypedValue: tv, deduced: true}, nil
}

// compiledKinds remembers, per kind, whether client-go's compiled schema has it.
var compiledKinds sync.Map

// compiledKind reports whether client-go's compiled schema knows gvk: then an object that does
// not convert is wrong, not merely of an unknown kind.
func compiledKind(gvk schema.GroupVersionKind) bool {
	if v, ok := compiledKinds.Load(gvk); ok {
		return v.(bool)
	}
	empty := &unstructured.Unstructured{}
	empty.SetGroupVersionKind(gvk)
	_, err := builtinTypes().ObjectToTyped(empty)
	compiledKinds.Store(gvk, err == nil)
	return err == nil
}

// Warm parses the built-in schema now rather than at the first comparison, so that a caller can
// overlap that work with its own (rendering, listing).
func Warm() { builtinTypes() }

// typedLike converts a dry-run result with the schema the comparison's desired object was read
// with.
func (c *comparison) typedLike(ctx context.Context, obj *unstructured.Unstructured) (*typed.TypedValue, error) {
	if c.desiredTyped.deduced {
		tv, err := deducedTypes.ObjectToTyped(obj, typed.AllowDuplicates)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("cannot read as %s", obj.GroupVersionKind()), err)
		}
		return tv, nil
	}
	t, err := c.toTyped(ctx, obj)
	if err != nil {
		return nil, err
	}
	if t.deduced {
		return nil, fmt.Errorf("does not match the schema of %s", obj.GroupVersionKind())
	}
	return t.TypedValue, nil
}
