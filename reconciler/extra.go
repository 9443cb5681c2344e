package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/plumbline/plumbline/report"
)

// extras reports the live objects that Git does not declare: those that Plumbline applied for
// this source (pruned-from-git), and orphans of the declared kinds, next to the declared objects
// or cluster-scoped (not-in-git). What Plumbline applied is the source's inventory; a source with
// none yet (or one this caller may not read) falls back to the ownership label. Objects that
// controllers made are never Extra, whatever labels they carry.
func (run *diffRun) extras(ctx context.Context, targets []*target, lists map[group][]unstructured.Unstructured) error {
	declared := make(map[objectKey]bool, len(targets))
	for _, t := range targets {
		declared[keyOf(t.desired.Object)] = true
	}
	seen := map[objectKey]bool{}
	byInventory := false
	if run.opts.SourceName != "" {
		inv, err := run.c.inventoryStore().Load(ctx, run.opts.SourceName)
		switch {
		case err == nil && inv.Exists():
			byInventory = true
			err = run.prunedByInventory(ctx, inv, declared, targets, lists, seen)
		case err == nil, apierrors.IsForbidden(err):
			err = run.prunedByLabel(ctx, declared, seen)
		}
		if err != nil {
			return err
		}
	}
	for g, items := range lists {
		for i := range items {
			u := &items[i]
			k := keyOf(u)
			if declared[k] || seen[k] || !orphan(u) || (!g.m.namespaced && (controlPlaneOwn(u) || claimedByAnotherTool(u, run.opts.SourceName))) {
				continue
			}
			seen[k] = true
			reason := report.ReasonNotInGit
			if !byInventory && run.opts.SourceName != "" && u.GetLabels()[LabelSource] == run.opts.SourceName {
				reason = report.ReasonPrunedFromGit
			}
			run.add(extraFinding(u, reason, run.opts.SourceName))
		}
	}
	return nil
}

// prunedByLabel is the fallback for a source without an inventory: the objects anywhere that
// carry its ownership label, less those that controllers made (the Endpoints and EndpointSlices
// that copy a Service's labels).
func (run *diffRun) prunedByLabel(ctx context.Context, declared, seen map[objectKey]bool) error {
	owned, err := run.c.listOwned(ctx, run.opts.SourceName, run.opts.Concurrency)
	if err != nil {
		return err
	}
	for i := range owned {
		k := keyOf(&owned[i])
		if declared[k] || seen[k] || owned[i].GetDeletionTimestamp() != nil || controllerMade(&owned[i]) {
			continue
		}
		seen[k] = true
		run.add(extraFinding(&owned[i], report.ReasonPrunedFromGit, run.opts.SourceName))
	}
	return nil
}

// objectKey identifies an object across API versions of its kind.
type objectKey struct {
	gk        schema.GroupKind
	namespace string
	name      string
}

func keyOf(u *unstructured.Unstructured) objectKey {
	return objectKey{gk: u.GroupVersionKind().GroupKind(), namespace: u.GetNamespace(), name: u.GetName()}
}

// listOwned lists, in every listable resource of the cluster, the objects labelled as this
// source's. Resources the caller may not list are skipped: RBAC decides what Plumbline sees.
func (c *Cluster) listOwned(ctx context.Context, sourceName string, limit int) ([]unstructured.Unstructured, error) {
	resources, err := c.listableResources()
	if err != nil {
		return nil, err
	}
	selector := labels.SelectorFromSet(labels.Set{LabelSource: sourceName}).String()
	var mu sync.Mutex
	var out []unstructured.Unstructured
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(limit)
	for _, gvr := range resources {
		eg.Go(func() error {
			list, err := c.dynamic.Resource(gvr).List(ectx, metav1.ListOptions{LabelSelector: selector})
			switch {
			case apierrors.IsForbidden(err), apierrors.IsNotFound(err), apierrors.IsMethodNotSupported(err):
				return nil
			case err != nil:
				return fmt.Errorf("list %s labelled %s: %w", gvr.GroupResource(), selector, err)
			}
			mu.Lock()
			out = append(out, list.Items...)
			mu.Unlock()
			return nil
		})
	}
	return out, eg.Wait()
}

// listableResources returns the preferred version of every resource that supports list, without
// subresources and events.
func (c *Cluster) listableResources() ([]schema.GroupVersionResource, error) {
	lists, err := c.discovery.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, fmt.Errorf("discover resources: %w", err)
	}
	var out []schema.GroupVersionResource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || r.Name == "events" || !slices.Contains(r.Verbs, "list") {
				continue
			}
			out = append(out, gv.WithResource(r.Name))
		}
	}
	return out, nil
}
