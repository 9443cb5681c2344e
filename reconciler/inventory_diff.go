package reconciler

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/plumbline/plumbline/report"
)

// listedAt names the live objects of one kind in one namespace that the run listed.
type listedAt struct {
	gk        schema.GroupKind
	namespace string
}

// prunedByInventory reports as Extra (pruned-from-git) each object of the inventory that Git no
// longer declares and that still lives. An object of the same name with another UID is not the
// one Plumbline applied: someone deleted it and made another, which is no longer Plumbline's to
// prune (the orphan search may still report it as not-in-git). An object that a controller took
// over (an owner) is not Extra either. The live objects come from the run's lists where it made
// them, else from one get each.
func (run *diffRun) prunedByInventory(ctx context.Context, inv *Inventory, declared map[objectKey]bool,
	targets []*target, lists map[group][]unstructured.Unstructured, seen map[objectKey]bool) error {
	listed := map[listedAt]bool{}
	for _, t := range targets {
		if !t.unlisted {
			listed[listedAt{gk: t.desired.Object.GroupVersionKind().GroupKind(), namespace: t.desired.Object.GetNamespace()}] = true
		}
	}
	live := map[objectKey]*unstructured.Unstructured{}
	for _, items := range lists {
		for i := range items {
			live[keyOf(&items[i])] = &items[i]
		}
	}
	var undeclared []InventoryEntry
	for _, e := range inv.Entries {
		if !declared[e.key()] {
			undeclared = append(undeclared, e)
		}
	}
	found := make([]*unstructured.Unstructured, len(undeclared))
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(run.opts.Concurrency)
	for i, e := range undeclared {
		k := e.key()
		if u, ok := live[k]; ok || listed[listedAt{gk: k.gk, namespace: k.namespace}] {
			found[i] = u // nil when its list did not have it: gone
			continue
		}
		eg.Go(func() error {
			u, err := run.c.getEntry(ectx, e)
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				run.fail(e.object(), fmt.Errorf("in the inventory of source %s: %w", inv.Source, err))
			}
			found[i] = u
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	for i, e := range undeclared {
		u := found[i]
		if u == nil || u.GetUID() != e.UID || u.GetDeletionTimestamp() != nil || controllerMade(u) {
			continue
		}
		seen[e.key()] = true
		f := extraFinding(u, report.ReasonPrunedFromGit, inv.Source)
		f.Message = fmt.Sprintf("No longer declared in Git, but Plumbline applied it (inventory of source %s)", inv.Source)
		run.add(f)
	}
	return nil
}

// getEntry reads the live object of an inventory entry: nil, and no error, when it is gone or
// its kind is no longer served, or when the caller may not read it (RBAC decides what Plumbline
// sees, as for the label search).
func (c *Cluster) getEntry(ctx context.Context, e InventoryEntry) (*unstructured.Unstructured, error) {
	m, err := c.mappingFor(schema.FromAPIVersionAndKind(e.APIVersion, e.Kind))
	if meta.IsNoMatchError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u, err := c.resource(m, e.Namespace).Get(ctx, e.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get: %w", err)
	}
	return u, nil
}
