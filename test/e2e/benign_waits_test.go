package e2e

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// controllerCheck is one thing kube-controller-manager does to the benign corpus.
type controllerCheck struct {
	what string
	done func(ctx context.Context) (bool, error)
}

func ownedBy(refs []metav1.OwnerReference, kind, name string) bool {
	for _, r := range refs {
		if r.Kind == kind && r.Name == name {
			return true
		}
	}
	return false
}

// controllerChecks lists what the controllers do to testdata/benign-controllers in ns, and to
// every namespace.
func controllerChecks(ns string) ([]controllerCheck, error) {
	// Quiet: the API server warns on every read of Endpoints that they are deprecated.
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = rest.NoWarnings{}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	list := metav1.ListOptions{}
	byLabel := func(selector string) metav1.ListOptions { return metav1.ListOptions{LabelSelector: selector} }
	get := metav1.GetOptions{}
	return []controllerCheck{
		{"the HPA scales Deployment web to its minReplicas, 2", func(ctx context.Context) (bool, error) {
			d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", get)
			return err == nil && d.Spec.Replicas != nil && *d.Spec.Replicas == 2, err
		}},
		{"the HPA writes its status", func(ctx context.Context) (bool, error) {
			h, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "web", get)
			return err == nil && len(h.Status.Conditions) > 0, err
		}},
		{"Deployment web gets a ReplicaSet with 2 Pods", func(ctx context.Context) (bool, error) {
			rss, err := cs.AppsV1().ReplicaSets(ns).List(ctx, list)
			if err != nil {
				return false, err
			}
			var rs string
			for _, r := range rss.Items {
				if ownedBy(r.OwnerReferences, "Deployment", "web") {
					rs = r.Name
				}
			}
			pods, err := cs.CoreV1().Pods(ns).List(ctx, byLabel("app=web"))
			if err != nil || rs == "" {
				return false, err
			}
			n := 0
			for _, p := range pods.Items {
				if ownedBy(p.OwnerReferences, "ReplicaSet", rs) {
					n++
				}
			}
			return n == 2, nil
		}},
		{"StatefulSet db gets Pod db-0, claim data-db-0 and a ControllerRevision", func(ctx context.Context) (bool, error) {
			if _, err := cs.CoreV1().Pods(ns).Get(ctx, "db-0", get); err != nil {
				return false, nil
			}
			if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data-db-0", get); err != nil {
				return false, nil
			}
			revs, err := cs.AppsV1().ControllerRevisions(ns).List(ctx, list)
			return err == nil && len(revs.Items) > 0 && ownedBy(revs.Items[0].OwnerReferences, "StatefulSet", "db"), err
		}},
		{"Services web and db get Endpoints and EndpointSlices", func(ctx context.Context) (bool, error) {
			for _, svc := range []string{"web", "db"} {
				// Deprecated for EndpointSlices, but the controller still writes them.
				if _, err := cs.CoreV1().Endpoints(ns).Get(ctx, svc, get); err != nil {
					return false, nil
				}
				slices, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, byLabel("kubernetes.io/service-name="+svc))
				if err != nil || len(slices.Items) == 0 {
					return false, err
				}
			}
			return true, nil
		}},
		{"Job migrate gets a Pod", func(ctx context.Context) (bool, error) {
			pods, err := cs.CoreV1().Pods(ns).List(ctx, byLabel("batch.kubernetes.io/job-name=migrate"))
			return err == nil && len(pods.Items) > 0, err
		}},
		{"CronJob backup makes a Job (at the next minute)", func(ctx context.Context) (bool, error) {
			jobs, err := cs.BatchV1().Jobs(ns).List(ctx, list)
			if err != nil {
				return false, err
			}
			for _, j := range jobs.Items {
				if ownedBy(j.OwnerReferences, "CronJob", "backup") {
					return true, nil
				}
			}
			return false, nil
		}},
		{"the disruption controller writes PDB web's status for 2 Pods", func(ctx context.Context) (bool, error) {
			p, err := cs.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "web", get)
			return err == nil && p.Status.ObservedGeneration == p.Generation && p.Status.ExpectedPods == 2, err
		}},
		{"the aggregation controller writes the aggregated ClusterRole's rules", func(ctx context.Context) (bool, error) {
			r, err := cs.RbacV1().ClusterRoles().Get(ctx, fmt.Sprintf("benign-%s-widgets", ns), get)
			return err == nil && len(r.Rules) > 0, err
		}},
		{"the namespace gets ConfigMap kube-root-ca.crt and ServiceAccount default", func(ctx context.Context) (bool, error) {
			if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", get); err != nil {
				return false, nil
			}
			_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", get)
			return err == nil, nil
		}},
	}, nil
}
