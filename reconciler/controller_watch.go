package reconciler

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/report"
)

// informers is the part of controller-runtime's cache the controller watches through.
type informers interface {
	GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error)
}

// watchSet keeps one informer per kind that any Source declares, and maps each watch event of
// an object to the Sources that declare it (or its kind and namespace, for objects added behind
// Git's back), so that an edit reaches its Source in milliseconds, not at the next poll.
type watchSet struct {
	mu       sync.Mutex
	cache    informers
	events   chan event.GenericEvent
	watched  map[schema.GroupVersionKind]bool
	byObject map[objectKey]map[types.NamespacedName]bool
	byKind   map[kindInNamespace]map[types.NamespacedName]bool
	declared map[types.NamespacedName][]objectKey
	onEvent  func(types.NamespacedName, report.ObjectRef, time.Time)
}

type kindInNamespace struct {
	gk        schema.GroupKind
	namespace string
}

func newWatchSet() *watchSet {
	return &watchSet{
		watched:  map[schema.GroupVersionKind]bool{},
		byObject: map[objectKey]map[types.NamespacedName]bool{},
		byKind:   map[kindInNamespace]map[types.NamespacedName]bool{},
		declared: map[types.NamespacedName][]objectKey{},
	}
}

// ensure records what a Source declares and starts an informer for each kind not yet watched.
// Without a cache (tests that call Reconcile directly) it only records.
func (w *watchSet) ensure(ctx context.Context, src types.NamespacedName, desired []manifests.Object, defaultNamespace func(*unstructured.Unstructured) string) {
	w.mu.Lock()
	w.forgetLocked(src)
	var kinds []schema.GroupVersionKind
	watch := func(gvk schema.GroupVersionKind) {
		if !w.watched[gvk] && w.cache != nil {
			w.watched[gvk] = true
			kinds = append(kinds, gvk)
		}
	}
	for _, o := range desired {
		u := o.Object
		k := objectKey{gk: u.GroupVersionKind().GroupKind(), namespace: defaultNamespace(u), name: u.GetName()}
		w.declared[src] = append(w.declared[src], k)
		add(w.byObject, k, src)
		add(w.byKind, kindInNamespace{gk: k.gk, namespace: k.namespace}, src)
		watch(u.GroupVersionKind())
		if _, runs, _ := workloadOf(u); runs && k.namespace != "" {
			// The digests its pods run: a pod that starts on another digest is a finding.
			add(w.byKind, kindInNamespace{gk: podsGVK.GroupKind(), namespace: k.namespace}, src)
			w.declared[src] = append(w.declared[src], objectKey{gk: podsGVK.GroupKind(), namespace: k.namespace})
			watch(podsGVK)
		}
	}
	c := w.cache
	w.mu.Unlock()
	for _, gvk := range kinds {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		inf, err := c.GetInformer(ctx, u)
		if err != nil {
			w.mu.Lock()
			delete(w.watched, gvk) // tried again on the next pass
			w.mu.Unlock()
			continue
		}
		if _, err := inf.AddEventHandler(w.handler()); err != nil {
			w.mu.Lock()
			delete(w.watched, gvk)
			w.mu.Unlock()
		}
	}
}

func add[K comparable](m map[K]map[types.NamespacedName]bool, k K, src types.NamespacedName) {
	if m[k] == nil {
		m[k] = map[types.NamespacedName]bool{}
	}
	m[k][src] = true
}

func (w *watchSet) forget(src types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.forgetLocked(src)
}

func (w *watchSet) forgetLocked(src types.NamespacedName) {
	for _, k := range w.declared[src] {
		delete(w.byObject[k], src)
		if len(w.byObject[k]) == 0 {
			delete(w.byObject, k)
		}
		kn := kindInNamespace{gk: k.gk, namespace: k.namespace}
		delete(w.byKind[kn], src)
		if len(w.byKind[kn]) == 0 {
			delete(w.byKind, kn)
		}
	}
	delete(w.declared, src)
}

// handler enqueues the Sources of an object on its add, delete and meaningful update: status
// writes of controllers (same generation, same labels and annotations) wake nobody.
func (w *watchSet) handler() toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { w.enqueue(obj) },
		UpdateFunc: func(oldObj, newObj any) {
			if p, ok := newObj.(*unstructured.Unstructured); ok && p.GetKind() == "Pod" {
				if old, ok := oldObj.(*unstructured.Unstructured); ok && slices.Equal(imageIDs(old), imageIDs(p)) &&
					slices.Equal(ephemeralNames(old), ephemeralNames(p)) {
					return // a pod's status changes all the time; only the digests it runs matter
				}
				w.enqueue(newObj)
				return
			}
			o, ok1 := oldObj.(metav1.Object)
			n, ok2 := newObj.(metav1.Object)
			if ok1 && ok2 && n.GetGeneration() != 0 && o.GetGeneration() == n.GetGeneration() &&
				maps.Equal(o.GetLabels(), n.GetLabels()) && maps.Equal(o.GetAnnotations(), n.GetAnnotations()) {
				return
			}
			w.enqueue(newObj)
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			w.enqueue(obj)
		},
	}
}

// imageIDs lists the digests a pod's containers run, from its status.
func imageIDs(pod *unstructured.Unstructured) []string {
	var out []string
	for _, field := range []string{"initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"} {
		statuses, _, _ := unstructured.NestedSlice(pod.Object, "status", field)
		for _, st := range statuses {
			if m, ok := st.(map[string]any); ok {
				id, _ := m["imageID"].(string)
				out = append(out, id)
			}
		}
	}
	return out
}

func (w *watchSet) enqueue(obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	k := keyOf(u)
	now := time.Now()
	w.mu.Lock()
	srcs := maps.Clone(w.byObject[k])
	if len(srcs) == 0 {
		srcs = maps.Clone(w.byKind[kindInNamespace{gk: k.gk, namespace: k.namespace}])
	}
	events, onEvent := w.events, w.onEvent
	w.mu.Unlock()
	for src := range srcs {
		if onEvent != nil {
			onEvent(src, refOf(u), now)
		}
		if events != nil {
			events <- event.GenericEvent{Object: &v1alpha1.Source{ObjectMeta: metav1.ObjectMeta{Namespace: src.Namespace, Name: src.Name}}}
		}
	}
}
