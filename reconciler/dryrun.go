package reconciler

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// dryRunner implements diff.ServerDryRunner against the cluster. It writes nothing: every
// request carries dryRun=All.
type dryRunner struct{ c *Cluster }

// DryRunApply server-side applies desired as Plumbline, forcing conflicts, in dry-run mode.
func (d dryRunner) DryRunApply(ctx context.Context, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	m, err := d.c.mappingFor(desired.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	return d.c.resource(m, desired.GetNamespace()).Apply(ctx, desired.GetName(), desired, metav1.ApplyOptions{
		FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll},
	})
}

// DryRunCreate creates desired anew in dry-run mode, under a generated name so that it does not
// collide with the live object, and returns what the server would store.
func (d dryRunner) DryRunCreate(ctx context.Context, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	m, err := d.c.mappingFor(desired.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	obj := desired.DeepCopy()
	prefix := obj.GetName()
	if len(prefix) > 40 {
		prefix = prefix[:40]
	}
	obj.SetName("")
	obj.SetGenerateName(prefix + "-")
	out, err := d.c.resource(m, obj.GetNamespace()).Create(ctx, obj, metav1.CreateOptions{
		FieldManager: FieldManager, DryRun: []string{metav1.DryRunAll},
	})
	if err != nil {
		return nil, fmt.Errorf("as %s: %w", obj.GetGenerateName(), err)
	}
	return out, nil
}
