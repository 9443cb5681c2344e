package reconciler

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// LiveObjects reads the live objects of one kind in one namespace ("" for a cluster-scoped
// kind). `plumbline diff` lists them from the API server; the controller reads its watch cache,
// so that a comparison in steady state costs no request. Callers must not modify what it returns.
type LiveObjects interface {
	List(ctx context.Context, gvk schema.GroupVersionKind, namespace string) ([]unstructured.Unstructured, error)
}

// apiLive lists from the API server.
type apiLive struct{ c *Cluster }

func (l apiLive) List(ctx context.Context, gvk schema.GroupVersionKind, namespace string) ([]unstructured.Unstructured, error) {
	m, err := l.c.mappingFor(gvk)
	if err != nil {
		return nil, err
	}
	list, err := l.c.resource(m, namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// CacheLive reads controller-runtime's cache: the first read of a kind starts its informer and
// waits for it to sync; every read after costs nothing.
type CacheLive struct{ Reader client.Reader }

// List returns the cached objects of gvk in namespace.
func (l CacheLive) List(ctx context.Context, gvk schema.GroupVersionKind, namespace string) ([]unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	var opts []client.ListOption
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	if err := l.Reader.List(ctx, list, opts...); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// StripForDiff is a cache transform (controller-runtime's cache.Options.DefaultTransform) that
// drops what the comparison never reads from the live objects the controller watches: the
// status of every kind but Pods (whose status holds the digests they run), and kubectl's
// last-applied-configuration annotation, often the largest field of an object. Typed objects
// (the Sources) pass untouched.
func StripForDiff(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	if u.GetKind() != "Pod" {
		delete(u.Object, "status")
	}
	if ann := u.GetAnnotations(); ann != nil {
		if _, ok := ann[lastApplied]; ok {
			delete(ann, lastApplied)
			u.SetAnnotations(ann)
		}
	}
	return u, nil
}

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
