package diff

import (
	"bytes"
	"path"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// owner is one managedFields entry of a live object, with its field set decoded.
type owner struct {
	manager   string
	operation metav1.ManagedFieldsOperationType
	// subresource is set when the entry is of a subresource's writes (status, scale).
	subresource string
	time        *time.Time
	fields      *fieldpath.Set
}

// owners decodes the managedFields of a live object. Entries that cannot be decoded are skipped:
// attribution is a hint, never a reason to fail a comparison.
func owners(live *unstructured.Unstructured) []owner {
	var out []owner
	for _, e := range live.GetManagedFields() {
		if e.FieldsV1 == nil {
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
			continue
		}
		o := owner{manager: e.Manager, operation: e.Operation, subresource: e.Subresource, fields: set}
		if e.Time != nil {
			t := e.Time.UTC()
			o.time = &t
		}
		out = append(out, o)
	}
	return out
}

// lastWriter returns the manager that most recently wrote path p, or nil when nobody owns it
// (a field removed in the cluster has no owner).
func lastWriter(all []owner, p fieldpath.Path) *owner {
	var best *owner
	for i := range all {
		o := &all[i]
		if !o.fields.Has(p) {
			continue
		}
		if best == nil || (o.time != nil && (best.time == nil || o.time.After(*best.time))) {
			best = o
		}
	}
	return best
}

// interactive reports whether a field manager is a person, by the configured glob patterns.
func interactive(patterns []string, manager string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, manager); ok {
			return true
		}
	}
	return false
}
