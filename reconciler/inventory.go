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
}

// inventoryBackoff spaces the attempts of writers of one inventory that keep colliding: up to
// ten, over about ten seconds, with full jitter so that they fall apart.
var inventoryBackoff = wait.Backoff{Steps: 10, Duration: 10 * time.Millisecond, Factor: 2, Jitter: 1}

// updateInventory loads a source's inventory, changes it and saves it, again from a fresh load
// whenever another writer saved in between.
func updateInventory(ctx context.Context, store InventoryStore, source string, change func(*Inventory) error) error {
	return retry.RetryOnConflict(inventoryBackoff, func() error {
		inv, err := store.Load(ctx, source)
		if err != nil {
			return err
		}
		if err := change(inv); err != nil {
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

// recordApplied adds what Apply applied to the source's inventory. Entries of earlier applies
// that Git no longer declares stay while their object lives: Apply does not prune, so they stay
// Plumbline's, and Extra, until something deletes them.
func (c *Cluster) recordApplied(ctx context.Context, source string, applied []InventoryEntry) error {
	err := updateInventory(ctx, c.inventoryStore(), source, func(inv *Inventory) error {
		now := make(map[objectKey]bool, len(applied))
		for _, e := range applied {
			now[e.key()] = true
		}
		entries := slices.Clone(applied)
		for _, e := range inv.Entries {
			if now[e.key()] {
				continue
			}
			live, err := c.stillApplied(ctx, e)
			if err != nil {
				return err
			}
			if live {
				entries = append(entries, e)
			}
		}
		inv.Entries = sortEntries(entries)
		return nil
	})
	if err != nil {
		return fmt.Errorf("source %s: record applied objects in the inventory: %w", source, err)
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
