package diff

import (
	"errors"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// builtinTypes knows the schema of every built-in kind from the schema compiled into client-go:
// list keys, atomic and granular maps. Kinds it does not know (custom resources) are compared
// with a deduced schema in which lists are atomic.
var builtinTypes = sync.OnceValue(func() managedfields.TypeConverter {
	return applyconfigurations.NewTypeConverter(scheme.Scheme)
})

var deducedTypes = managedfields.NewDeducedTypeConverter()

// toTyped converts an object to a typed value. Duplicate list keys are allowed, as the API
// server allows them in objects written with Update.
func toTyped(obj *unstructured.Unstructured) (*typed.TypedValue, error) {
	if _, err := scheme.Scheme.New(obj.GroupVersionKind()); err == nil {
		tv, err := builtinTypes().ObjectToTyped(obj, typed.AllowDuplicates)
		if err == nil {
			return tv, nil
		}
		return nil, fmt.Errorf("does not match the schema of %s: %w", obj.GroupVersionKind(), err)
	}
	tv, err := deducedTypes.ObjectToTyped(obj, typed.AllowDuplicates)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("cannot read as %s", obj.GroupVersionKind()), err)
	}
	return tv, nil
}

// Warm parses the built-in schema now rather than at the first comparison, so that a caller can
// overlap that work with its own (rendering, listing).
func Warm() { builtinTypes() }
