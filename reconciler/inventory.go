package reconciler

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/plumbline/plumbline/report"
)

// InventoryEntry is one object that Plumbline applied for a source.
type InventoryEntry struct {
	APIVersion string
	Kind       string
	// Namespace is empty for cluster-scoped objects.
	Namespace string
	Name      string
	// UID tells the object Plumbline applied from a later one of the same name: an object
	// deleted and made again by someone else is not Plumbline's.
	UID types.UID
}

func (e InventoryEntry) key() objectKey {
	return objectKey{gk: schema.FromAPIVersionAndKind(e.APIVersion, e.Kind).GroupKind(), namespace: e.Namespace, name: e.Name}
}

// object returns an object with only the entry's identity, to name it in report errors.
func (e InventoryEntry) object() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(e.APIVersion)
	u.SetKind(e.Kind)
	u.SetNamespace(e.Namespace)
	u.SetName(e.Name)
	return u
}

// Inventory is what Plumbline applied for one source and has not removed since, as Flux's
// kustomize-controller keeps it in a Kustomization's .status.inventory. Extra (pruned-from-git)
// is this inventory minus what Git declares now.
type Inventory struct {
	// Source is the source's name, the value of LabelSource on its objects.
	Source string
	// Entries are sorted by group, kind, namespace and name, one per object.
	Entries []InventoryEntry
	// ResourceVersion is the version of the stored copy that Load read; empty when none is
	// stored yet. A store's Save refuses with a Conflict when the stored copy changed since.
	ResourceVersion string
}

// Exists reports whether the inventory was read from the store, as opposed to a new, empty one
// for a source that has none yet.
func (inv *Inventory) Exists() bool { return inv.ResourceVersion != "" }

// InventoryStore keeps the inventory of each source. ConfigMapInventory is the one there is;
// the controller can keep it in a Source's status behind the same two methods.
type InventoryStore interface {
	// Load returns the inventory of a source: an empty one, for which Exists is false, when none
	// is stored yet.
	Load(ctx context.Context, source string) (*Inventory, error)
	// Save stores inv. It returns a Conflict error (apierrors.IsConflict) when the stored copy
	// changed since inv was loaded, so that the caller loads, changes and saves again.
	Save(ctx context.Context, inv *Inventory) error
	// Delete removes the source's inventory, when the source itself goes; none is no error.
	Delete(ctx context.Context, source string) error
}

// inventoryBackoff spaces the attempts of writers of one inventory that keep colliding: up to
// ten, over about ten seconds, with full jitter so that they fall apart.
var inventoryBackoff = wait.Backoff{Steps: 10, Duration: 10 * time.Millisecond, Factor: 2, Jitter: 1}

// updateInventory loads a source's inventory, changes it and saves it, again from a fresh load
// whenever another writer saved in between. A change that returns false saves nothing.
func updateInventory(ctx context.Context, store InventoryStore, source string, change func(*Inventory) (bool, error)) error {
	return retry.RetryOnConflict(inventoryBackoff, func() error {
		inv, err := store.Load(ctx, source)
		if err != nil {
			return err
		}
		if save, err := change(inv); err != nil || !save {
			return err
		}
		return store.Save(ctx, inv)
	})
}

// sortEntries sorts entries by group, kind, namespace and name and keeps one per object, the
// last one given.
func sortEntries(entries []InventoryEntry) []InventoryEntry {
	last := make(map[objectKey]InventoryEntry, len(entries))
	for _, e := range entries {
		last[e.key()] = e
	}
	out := make([]InventoryEntry, 0, len(last))
	for _, e := range last {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b InventoryEntry) int {
		ka, kb := a.key(), b.key()
		return cmp.Or(cmp.Compare(ka.gk.Group, kb.gk.Group), cmp.Compare(ka.gk.Kind, kb.gk.Kind),
			cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// recordApplied adds what Apply applied to the source's inventory. With complete, applied is
// all that Git declares, and the other entries are kept while their object lives: Apply does
// not prune, so they stay Plumbline's, and Extra, until something deletes them.
//
// A source's first inventory starts from what the label said until then: the objects that carry
// its label, less those that controllers made. So the first apply, whole or of one object, loses
// none of what earlier runs reported as pruned-from-git.
func (c *Cluster) recordApplied(ctx context.Context, source string, applied []InventoryEntry, complete bool) error {
	err := updateInventory(ctx, c.inventoryStore(), source, func(inv *Inventory) (bool, error) {
		now := make(map[objectKey]bool, len(applied))
		for _, e := range applied {
			now[e.key()] = true
		}
		entries := slices.Clone(applied)
		if !inv.Exists() {
			labelled, err := c.labelledEntries(ctx, source)
			if err != nil {
				return false, err
			}
			entries = append(labelled, entries...) // sortEntries keeps the last of each object
		}
		for _, e := range inv.Entries {
			if now[e.key()] {
				continue
			}
			live := true
			if complete {
				var err error
				if live, err = c.stillApplied(ctx, e); err != nil {
					return false, err
				}
			}
			if live {
				entries = append(entries, e)
			}
		}
		inv.Entries = sortEntries(entries)
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("source %s: record applied objects in the inventory: %w", source, err)
	}
	return nil
}

// DeleteInventory removes the source's inventory, for a source that is gone with its objects (a
// deleted Source, the demo's clean-up). Its objects' labels stay; none is no error.
func (c *Cluster) DeleteInventory(ctx context.Context, source string) error {
	return c.inventoryStore().Delete(ctx, source)
}

// labelledEntries returns the inventory entries of the objects that carry the source's label,
// less those that controllers made or that are being deleted.
func (c *Cluster) labelledEntries(ctx context.Context, source string) ([]InventoryEntry, error) {
	owned, err := c.listOwned(ctx, source, 16)
	if err != nil {
		return nil, err
	}
	var out []InventoryEntry
	for i := range owned {
		u := &owned[i]
		if u.GetDeletionTimestamp() != nil || controllerMade(u) {
			continue
		}
		out = append(out, InventoryEntry{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(), UID: u.GetUID()})
	}
	return out, nil
}

// ForgetApplied removes objects from the source's inventory, once pruning deleted them, so that
// no later run reads them again. Objects it does not hold are no error.
func (c *Cluster) ForgetApplied(ctx context.Context, source string, objs ...report.ObjectRef) error {
	gone := make(map[objectKey]bool, len(objs))
	for _, o := range objs {
		gone[InventoryEntry{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}.key()] = true
	}
	err := updateInventory(ctx, c.inventoryStore(), source, func(inv *Inventory) (bool, error) {
		n := len(inv.Entries)
		inv.Entries = slices.DeleteFunc(inv.Entries, func(e InventoryEntry) bool { return gone[e.key()] })
		return len(inv.Entries) < n, nil // none yet, or nothing to forget: the label still decides
	})
	if err != nil {
		return fmt.Errorf("source %s: forget pruned objects in the inventory: %w", source, err)
	}
	return nil
}

// stillApplied reports whether the object of an inventory entry still lives with the UID that
// Plumbline applied. Whatever it cannot read it keeps: forgetting an object is what loses it.
func (c *Cluster) stillApplied(ctx context.Context, e InventoryEntry) (bool, error) {
	m, err := c.mappingFor(schema.FromAPIVersionAndKind(e.APIVersion, e.Kind))
	if meta.IsNoMatchError(err) {
		return false, nil // its kind is gone from the cluster, and its objects with it
	}
	if err != nil {
		return true, nil
	}
	live, err := c.resource(m, e.Namespace).Get(ctx, e.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case ctx.Err() != nil:
		return false, ctx.Err()
	case err != nil:
		return true, nil
	}
	return live.GetUID() == e.UID, nil
}
