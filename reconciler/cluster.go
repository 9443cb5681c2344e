package reconciler

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/singleflight"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/plumbline/plumbline/diff"
	"github.com/plumbline/plumbline/report"
)

// FieldManager is the field manager Plumbline applies and dry-runs as.
const FieldManager = "plumbline"

// Labels that mark an object as applied by Plumbline for one source.
const (
	// LabelSource names the source (see SourceName) that owns the object.
	LabelSource = "plumbline.dev/source"
	// LabelManagedBy is the well-known label every Plumbline-applied object carries.
	LabelManagedBy = "app.kubernetes.io/managed-by"
)

// Cluster reaches one Kubernetes API server.
type Cluster struct {
	dynamic   dynamic.Interface
	discovery discovery.CachedDiscoveryInterface
	mapper    meta.ResettableRESTMapper

	// dryRuns caches dry-run answers (see dryRunner); schemas caches the published schemas of
	// group-versions client-go does not know (see schemaSource).
	dryRuns     *cache.LRUExpireCache
	schemas     *cache.LRUExpireCache
	schemaFetch singleflight.Group
	// inventory, when set, is the store of inventories; nil is the ConfigMap store.
	inventory InventoryStore
	// mappings remembers where each kind is served; a kind not served is asked again, since a
	// CRD may come.
	mappings sync.Map
}

// NewCluster returns a Cluster for cfg. Discovery is cached in memory for the Cluster's life.
func NewCluster(cfg *rest.Config) (*Cluster, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NoWarnings{} // deprecation notices of kinds listed for ownership labels
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	cached := memory.NewMemCacheClient(dc)
	return &Cluster{
		dynamic: dyn, discovery: cached, mapper: restmapper.NewDeferredDiscoveryRESTMapper(cached),
		dryRuns: newDryRunCache(), schemas: cache.NewLRUExpireCache(256),
	}, nil
}

// mapping says where the API server serves objects of a kind.
type mapping struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

func (c *Cluster) mappingFor(gvk schema.GroupVersionKind) (mapping, error) {
	if m, ok := c.mappings.Load(gvk); ok { // the discovery mapper costs microseconds a call
		return m.(mapping), nil
	}
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return mapping{}, fmt.Errorf("the cluster does not serve %s: %w", gvk, err)
	}
	found := mapping{gvr: m.Resource, namespaced: m.Scope.Name() == meta.RESTScopeNameNamespace}
	c.mappings.Store(gvk, found)
	return found, nil
}

// resource returns the client for one object's kind and namespace.
func (c *Cluster) resource(m mapping, namespace string) dynamic.ResourceInterface {
	if m.namespaced {
		return c.dynamic.Resource(m.gvr).Namespace(namespace)
	}
	return c.dynamic.Resource(m.gvr)
}

// refOf returns the report's name for an object.
func refOf(u *unstructured.Unstructured) report.ObjectRef {
	return report.ObjectRef{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
}

// Warm fetches discovery and prepares the schemas that a Diff will need, so that a caller can
// overlap that work with fetching and rendering the source. Errors are left for Diff to report.
func (c *Cluster) Warm(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		diff.Warm()
	}()
	_, _, _ = c.discovery.ServerGroupsAndResources() // a failure surfaces again, named, in Diff
	<-done
}
