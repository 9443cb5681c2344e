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

// extras reports the live objects that Git does not declare: those carrying this source's
// ownership label anywhere in the cluster (pruned-from-git), and orphans next to the declared
// objects (not-in-git).
func (run *diffRun) extras(ctx context.Context, targets []*target, lists map[group][]unstructured.Unstructured) error {
	declared := make(map[objectKey]bool, len(targets))
	for _, t := range targets {
		declared[keyOf(t.desired.Object)] = true
	}
	seen := map[objectKey]bool{}
	if run.opts.SourceName != "" {
		owned, err := run.c.listOwned(ctx, run.opts.SourceName, run.opts.Concurrency)
		if err != nil {
			return err
		}
		for i := range owned {
			k := keyOf(&owned[i])
			if declared[k] || seen[k] || owned[i].GetDeletionTimestamp() != nil {
				continue
			}
			seen[k] = true
			run.add(extraFinding(&owned[i], report.ReasonPrunedFromGit, run.opts.SourceName))
		}
	}
	for g, items := range lists {
		if !g.m.namespaced {
			continue
		}
		for i := range items {
			u := &items[i]
			k := keyOf(u)
			if declared[k] || seen[k] || !orphan(u) {
				continue
			}
			seen[k] = true
			reason := report.ReasonNotInGit
			if run.opts.SourceName != "" && u.GetLabels()[LabelSource] == run.opts.SourceName {
				reason = report.ReasonPrunedFromGit
			}
			run.add(extraFinding(u, reason, run.opts.SourceName))
		}
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
}

// Field managers of the control plane itself.
var systemManagers = map[string]bool{
	"kube-apiserver": true, "kube-controller-manager": true, "kube-scheduler": true,
	"kubelet": true, "kube-proxy": true, "cloud-controller-manager": true,
}

// orphan reports whether an undeclared live object was made by hand: it has no owner, is not
// being deleted, and was not created by the control plane.
func orphan(u *unstructured.Unstructured) bool {
	if len(u.GetOwnerReferences()) > 0 || u.GetDeletionTimestamp() != nil {
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
	managers := u.GetManagedFields()
	if len(managers) == 0 {
		return true
	}
	for _, m := range managers {
		if !systemManagers[m.Manager] && !strings.HasPrefix(m.Manager, "system:") {
			return true
		}
	}
	return false
}
