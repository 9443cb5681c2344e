package reconciler

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/plumbline/plumbline/images"
)

var podsGVK = corev1.SchemeGroupVersion.WithKind("Pod")

// runningImages lists, once per namespace of a live workload, the pods there, and returns a
// function that gives the images a workload's pods run.
func (c *Cluster) runningImages(ctx context.Context, targets []*target, live LiveObjects) (runningFunc, error) {
	namespaces := map[string][]corev1.Pod{}
	for _, t := range targets {
		if t.live != nil && t.m.namespaced {
			namespaces[t.desired.Object.GetNamespace()] = nil
		}
	}
	var names []string
	for ns := range namespaces {
		names = append(names, ns)
	}
	lists := make([][]corev1.Pod, len(names))
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(16)
	for i, ns := range names {
		eg.Go(func() error {
			items, err := live.List(ectx, podsGVK, ns)
			if err != nil {
				return fmt.Errorf("list pods in %s: %w", ns, err)
			}
			pods := make([]corev1.Pod, len(items))
			for j := range items {
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(items[j].Object, &pods[j]); err != nil {
					return fmt.Errorf("pod %s/%s: %w", ns, items[j].GetName(), err)
				}
			}
			lists[i] = pods
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	for i, ns := range names {
		namespaces[ns] = lists[i]
	}
	return func(t *target, w workload) []images.RunningImage {
		var out []images.RunningImage
		pods := namespaces[t.desired.Object.GetNamespace()]
		for i := range pods {
			if w.runs(&pods[i]) {
				out = append(out, images.RunningImages(&pods[i])...)
			}
		}
		return out
	}, nil
}
