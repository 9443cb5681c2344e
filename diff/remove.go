package diff

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// WithoutFields returns a copy of obj without the fields at paths (in structured-merge-diff
// notation, as Field.Path gives them) and everything below them, without status and
// managedFields. Paths that obj does not have are ignored. It is how a revert takes back fields
// that a person added and Git does not declare: server-side apply cannot remove a field that
// another manager owns.
func WithoutFields(obj *unstructured.Unstructured, paths []string) (*unstructured.Unstructured, error) {
	in := obj.DeepCopy()
	delete(in.Object, "status")
	in.SetManagedFields(nil)
	// The compiled schema knows the list keys of built-in kinds; other kinds are read with a
	// deduced schema, in which a path inside a list takes the whole list.
	tv, err := builtinTypes().ObjectToTyped(in, typed.AllowDuplicates)
	if err != nil {
		if tv, err = deducedTypes.ObjectToTyped(in, typed.AllowDuplicates); err != nil {
			return nil, fmt.Errorf("object %s: %w", in.GroupVersionKind(), err)
		}
	}
	fields, err := tv.ToFieldSet()
	if err != nil {
		return nil, fmt.Errorf("object fields: %w", err)
	}
	want := make(map[string]bool, len(paths))
	for _, p := range paths {
		want[p] = true
	}
	remove := fieldpath.NewSet()
	fields.Iterate(func(p fieldpath.Path) {
		for i := 1; i <= len(p); i++ { // the field and everything below it
			if want[p[:i].String()] {
				remove.Insert(p)
				return
			}
		}
	})
	if remove.Empty() {
		return in, nil
	}
	out, ok := tv.RemoveItems(remove).AsValue().Unstructured().(map[string]any)
	if !ok {
		return nil, fmt.Errorf("object without fields is not a map")
	}
	return &unstructured.Unstructured{Object: out}, nil
}
