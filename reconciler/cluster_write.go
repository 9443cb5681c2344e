package reconciler

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/plumbline/plumbline/report"
)

// get reads one live object.
func (c *Cluster) get(ctx context.Context, ref report.ObjectRef) (*unstructured.Unstructured, mapping, error) {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(ref.APIVersion)
	u.SetKind(ref.Kind)
	m, err := c.mappingFor(u.GroupVersionKind())
	if err != nil {
		return nil, m, fmt.Errorf("%s: %w", ref, err)
	}
	live, err := c.resource(m, ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, m, fmt.Errorf("%s: get: %w", ref, err)
	}
	return live, m, nil
}

// update writes obj with an Update (PUT) as field manager plumbline; obj carries the
// resourceVersion it was read at, so a concurrent write makes it a conflict, never a lost write.
func (c *Cluster) update(ctx context.Context, m mapping, obj *unstructured.Unstructured) error {
	_, err := c.resource(m, obj.GetNamespace()).Update(ctx, obj, metav1.UpdateOptions{FieldManager: FieldManager})
	if err != nil {
		return fmt.Errorf("%s: update: %w", refOf(obj), err)
	}
	return nil
}

// Delete deletes one object in the foreground, only if it still has the UID that was seen (when
// uid is not empty). An object that is already gone is not an error.
func (c *Cluster) Delete(ctx context.Context, ref report.ObjectRef, uid string) error {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(ref.APIVersion)
	u.SetKind(ref.Kind)
	m, err := c.mappingFor(u.GroupVersionKind())
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	policy := metav1.DeletePropagationForeground
	opts := metav1.DeleteOptions{PropagationPolicy: &policy}
	if uid != "" {
		opts.Preconditions = metav1.NewUIDPreconditions(uid)
	}
	err = c.resource(m, ref.Namespace).Delete(ctx, ref.Name, opts)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: delete: %w", ref, err)
	}
	return nil
}
