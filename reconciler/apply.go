package reconciler

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// SourceName is written as LabelSource on every object, so that a later run finds the objects
	// Git stopped declaring. Empty writes no ownership labels.
	SourceName string
	// DefaultNamespace is given to namespaced objects that declare none. Default "default".
	DefaultNamespace string
}

// Apply server-side applies each object as field manager "plumbline", forcing conflicts, with
// Plumbline's ownership labels. It stops at the first object the API server refuses.
func (c *Cluster) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) error {
	if opts.DefaultNamespace == "" {
		opts.DefaultNamespace = "default"
	}
	for _, o := range objs {
		u := o.DeepCopy()
		m, err := c.mappingFor(u.GroupVersionKind())
		if err != nil {
			return fmt.Errorf("%s/%s: %w", u.GetKind(), u.GetName(), err)
		}
		if m.namespaced && u.GetNamespace() == "" {
			u.SetNamespace(opts.DefaultNamespace)
		}
		if opts.SourceName != "" {
			l := u.GetLabels()
			if l == nil {
				l = map[string]string{}
			}
			l[LabelSource] = opts.SourceName
			l[LabelManagedBy] = FieldManager
			u.SetLabels(l)
		}
		_, err = c.resource(m, u.GetNamespace()).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
		if err != nil {
			return fmt.Errorf("%s %s/%s: apply: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
	return nil
}
