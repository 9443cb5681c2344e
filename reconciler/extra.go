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
		case run.opts.InventoryOnly:
			byInventory = true
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
			if declared[k] || seen[k] || !orphan(u) || (!g.m.namespaced && !clusterOrphanKind(u, run.opts.SourceName)) {
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

// Objects the control plane creates in every namespace or cluster.
var systemObjects = map[string]bool{
	"ConfigMap/kube-root-ca.crt": true,
	"ServiceAccount/default":     true,
	"Service/kubernetes":         true,
	"Endpoints/kubernetes":       true,
	"EndpointSlice/kubernetes":   true,
	// The aggregated roles, whose rules the clusterrole-aggregation controller writes.
	"ClusterRole/admin":         true,
	"ClusterRole/edit":          true,
	"ClusterRole/view":          true,
	"ClusterRole/cluster-admin": true,
}

// Field managers of the control plane itself, besides every kube-* and system:* one.
var systemManagers = map[string]bool{
	"kubelet": true, "cloud-controller-manager": true,
	// kube-apiserver's priority-and-fairness bootstrap, which writes FlowSchemas and
	// PriorityLevelConfigurations.
	"api-priority-and-fairness-config-producer-v1": true,
	"api-priority-and-fairness-config-consumer-v1": true,
}

// controlPlaneManager reports whether a field manager is the control plane: kube-apiserver,
// kube-controller-manager, kube-scheduler, kube-proxy, the kubelet, system:* service accounts.
func controlPlaneManager(m string) bool {
	return systemManagers[m] || strings.HasPrefix(m, "kube-") || strings.HasPrefix(m, "system:")
}

// controllerMade reports whether controllers made an object: it has an owner, or only the
// control plane's field managers ever wrote it. Such an object is never Extra, whatever labels
// it carries: the Endpoints controller copies a Service's labels, ownership label included.
func controllerMade(u *unstructured.Unstructured) bool {
	if len(u.GetOwnerReferences()) > 0 {
		return true
	}
	managers := u.GetManagedFields()
	if len(managers) == 0 {
		return false
	}
	for _, m := range managers {
		if !controlPlaneManager(m.Manager) {
			return false
		}
	}
	return true
}

// orphan reports whether an undeclared live object was made by hand: no controller made it, it
// is not being deleted, and it is none of the objects the control plane puts everywhere.
func orphan(u *unstructured.Unstructured) bool {
	if controllerMade(u) || u.GetDeletionTimestamp() != nil {
		return false
	}
	if systemObjects[u.GetKind()+"/"+u.GetName()] {
		return false
	}
	if u.GetKind() == "Secret" {
		if t, _, _ := unstructured.NestedString(u.Object, "type"); t == "kubernetes.io/service-account-token" {
			return false
		}
	}
	if _, ok := u.GetLabels()["kubernetes.io/bootstrapping"]; ok {
		return false
	}
	return true
}

// clusterOrphanKind reports whether an undeclared cluster-scoped object may be an orphan: not
// an extension of the API (CustomResourceDefinitions, APIServices: tools install them by the dozen,
// Plumbline's own Source among them, and one made by hand grants nobody anything), not the control
// plane's by its name, and not another tool's. RBAC, webhooks, admission policies, namespaces,
// priority and storage classes made by hand are orphans.
func clusterOrphanKind(u *unstructured.Unstructured, source string) bool {
	switch u.GroupVersionKind().GroupKind() {
	case schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"},
		schema.GroupKind{Group: "apiregistration.k8s.io", Kind: "APIService"}:
		return false
	}
	return !controlPlaneOwn(u) && !claimedByAnotherTool(u, source)
}

// controlPlaneOwn reports whether a cluster-scoped object is the control plane's own by its name:
// RBAC reserves system:* names for the control plane and its components.
func controlPlaneOwn(u *unstructured.Unstructured) bool {
	return strings.HasPrefix(u.GetName(), "system:")
}

// Labels and annotations by which GitOps and packaging tools mark what they manage.
var toolMarks = []string{
	"helm.toolkit.fluxcd.io/name", "kustomize.toolkit.fluxcd.io/name", // Flux
	"argocd.argoproj.io/instance", "argocd.argoproj.io/tracking-id", // Argo CD
}

// claimedByAnotherTool reports whether a cluster-scoped object is another tool's: it carries
// another source's ownership label, a managed-by label other than Plumbline's, or Flux's or Argo
// CD's marks, and kubectl did not create it. A cluster holds hundreds of such ClusterRoles and CRDs
// from Helm charts and other sources; they are not what a person made by hand. A person who
// labels a `kubectl create`d object with a tool's label is still reported.
func claimedByAnotherTool(u *unstructured.Unstructured, source string) bool {
	labels, annotations := u.GetLabels(), u.GetAnnotations()
	claimed := (labels[LabelSource] != "" && labels[LabelSource] != source) ||
		(labels[LabelManagedBy] != "" && labels[LabelManagedBy] != FieldManager)
	for _, k := range toolMarks {
		_, inLabels := labels[k]
		_, inAnnotations := annotations[k]
		claimed = claimed || inLabels || inAnnotations
	}
	return claimed && !strings.HasPrefix(creatorManager(u), "kubectl")
}

// creatorManager is the field manager of an object's oldest managedFields entry.
func creatorManager(u *unstructured.Unstructured) string {
	var manager string
	var at *metav1.Time
	for _, e := range u.GetManagedFields() {
		if e.Time != nil && (at == nil || e.Time.Before(at)) {
			manager, at = e.Manager, e.Time
		}
	}
	return manager
}
