package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/plumbline/plumbline/reconciler"
)

// demoLabel marks the demo's namespace, so that one a killed run left behind can be found:
// kubectl delete namespace -l plumbline.dev/demo=true.
const demoLabel = "plumbline.dev/demo"

// demoCleanupTimeout bounds the clean-up, which runs also after Ctrl-C has ended the run's
// context.
const demoCleanupTimeout = time.Minute

// close stops the registry, deletes the demo's namespace and waits until it is gone (the
// namespace controller deletes what is in it), and removes the work folder unless keep. It
// runs whatever ended the run: the cancellation of ctx (Ctrl-C, SIGTERM) does not stop it, its
// own deadline does.
func (d *demo) close(ctx context.Context, keep bool) error {
	d.registry.close()
	var errs []error
	if d.namespace != "" {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), demoCleanupTimeout)
		defer cancel()
		errs = append(errs, d.deleteNamespace(ctx), d.deleteInventories(ctx))
	}
	if d.installedCRD {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), demoCleanupTimeout)
		defer cancel()
		errs = append(errs, d.kubectl(ctx, "delete", "customresourcedefinition", "sources.plumbline.dev", "--wait=false"))
	}
	if keep {
		fmt.Fprintf(d.out, "The demo repository stays at %s\n", d.repo)
	} else if d.dir != "" {
		if err := os.RemoveAll(d.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove the demo folder: %w", err))
		}
	}
	return errors.Join(errs...)
}

// deleteNamespace deletes the demo's namespace and waits until the API server no longer has it.
func (d *demo) deleteNamespace(ctx context.Context) error {
	fmt.Fprintf(d.out, "\nCleaning up: deleting namespace %s and everything in it.\n", d.namespace)
	namespaces := d.kube.CoreV1().Namespaces()
	err := namespaces.Delete(ctx, d.namespace, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("namespace %s: delete: %w", d.namespace, err)
	}
	err = wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := namespaces.Get(ctx, d.namespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		return fmt.Errorf("namespace %s: still there after %s (kubectl delete namespace %s): %w", d.namespace, demoCleanupTimeout, d.namespace, err)
	}
	fmt.Fprintf(d.out, "Namespace %s is gone.\n", d.namespace)
	return nil
}

// deleteInventories removes the inventories of what the demo applied: its own apply's, and the
// controller's Source's.
func (d *demo) deleteInventories(ctx context.Context) error {
	cfg, _, err := (&kubeFlags{}).config()
	if err != nil {
		return err
	}
	c, err := reconciler.NewCluster(cfg)
	if err != nil {
		return err
	}
	return errors.Join(c.DeleteInventory(ctx, demoSource), c.DeleteInventory(ctx, d.namespace+".shop"))
}
