package reconciler

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// SourceName is written as LabelSource on every object, as a hint to people and to
	// `kubectl get -l`, and names the inventory in which Apply records what it applied, so that a
	// later run finds the objects Git stopped declaring. Empty writes no labels and no inventory.
	SourceName string
	// DefaultNamespace is given to namespaced objects that declare none. Default "default".
	DefaultNamespace string
	// Complete says that the objects are all that the source declares now. Then the inventory's
	// other entries, of objects Git no longer declares, are kept while their object lives (one
	// get each) and dropped once it is gone. Otherwise (the default, for an apply of a few
	// objects, as a revert is) Apply only adds or updates the entries of what it applied: one
	// read and one write of the inventory.
	Complete bool
}

// Apply server-side applies each object as field manager "plumbline", forcing conflicts, with
// Plumbline's ownership labels. It stops at the first object the API server refuses. With a
// SourceName it then records what it applied (also when it stopped early) in the source's
// inventory, a ConfigMap in InventoryNamespace, which it creates when needed. Objects applied
// before and still live stay in the inventory, and so Extra, until something deletes them:
// Apply never prunes.
func (c *Cluster) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) error {
	if opts.DefaultNamespace == "" {
		opts.DefaultNamespace = "default"
	}
	var applied []InventoryEntry
	var err error
	for _, o := range objs {
		var e InventoryEntry
		if e, err = c.applyOne(ctx, o, opts); err != nil {
			break
		}
		applied = append(applied, e)
	}
	if opts.SourceName != "" && (err == nil || len(applied) > 0) {
		err = errors.Join(err, c.recordApplied(ctx, opts.SourceName, applied, opts.Complete && err == nil))
	}
	return err
}

// applyOne applies one object and returns its inventory entry.
func (c *Cluster) applyOne(ctx context.Context, o *unstructured.Unstructured, opts ApplyOptions) (InventoryEntry, error) {
	u := o.DeepCopy()
	m, err := c.mappingFor(u.GroupVersionKind())
	if err != nil {
		return InventoryEntry{}, fmt.Errorf("%s: %w", refOf(u), err)
	}
	if m.namespaced && u.GetNamespace() == "" {
		u.SetNamespace(opts.DefaultNamespace)
	}
	if !m.namespaced {
		u.SetNamespace("")
	}
	if opts.SourceName != "" {
		l := u.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		l[LabelSource] = opts.SourceName
		l[LabelManagedBy] = FieldManager
		u.SetLabels(l)
	}
	live, err := c.resource(m, u.GetNamespace()).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return InventoryEntry{}, fmt.Errorf("%s: apply: %w", refOf(u), err)
	}
	return InventoryEntry{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(), UID: live.GetUID()}, nil
}
