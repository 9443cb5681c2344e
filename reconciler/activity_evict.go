package reconciler

import (
	"context"
	"fmt"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/report"
)

// evictTimeout bounds one eviction request, so that a pass never waits long on it.
const evictTimeout = 10 * time.Second

// respondToRuntime takes the Source's runtime response for its new RuntimeDrift findings: with
// spec.runtime.response evict, it evicts the pod through the Eviction API (so that
// PodDisruptionBudgets hold), at most once per workload per EvictEvery. Each eviction, and each
// one a budget refused, is told as EventEvicted on the finding's incident.
func (c *Controller) respondToRuntime(ctx context.Context, src *v1alpha1.Source, incidents map[string]*report.Incident, now time.Time) []Notification {
	a := c.activity
	if a == nil || src.Spec.Runtime.ResponseOr() != v1alpha1.RuntimeEvict {
		return nil
	}
	key := keyOfSource(src)
	var notes []Notification
	for _, e := range a.runtimeFindings(key, now) {
		a.mu.Lock()
		f, responded := e.finding, e.responded
		e.responded = true
		last, evictedBefore := a.evicted[f.Object]
		due := !responded && f.Type == report.RuntimeDrift && f.Runtime != nil && f.Runtime.Pod != "" &&
			(!evictedBefore || now.Sub(last) >= a.opts.EvictEvery)
		if due {
			a.evicted[f.Object] = now
		}
		a.mu.Unlock()
		if !due {
			continue
		}
		inc := incidents[report.Fingerprint(key.String(), f)]
		if inc == nil {
			continue
		}
		detail := c.evict(ctx, f.Object.Namespace, f.Runtime.Pod, f.Rule)
		c.metrics.RuntimeEvents.WithLabelValues(key.String(), "evicted").Inc()
		notes = append(notes, Notification{Event: EventEvicted, Incidents: []*report.Incident{inc}, Detail: detail})
	}
	return notes
}

// evict asks the Eviction API to evict a pod and says what came of it.
func (c *Controller) evict(ctx context.Context, namespace, pod, rule string) string {
	cs, err := c.evictionClient()
	if err != nil {
		return fmt.Sprintf("pod %s/%s not evicted: %v", namespace, pod, err)
	}
	ctx, cancel := context.WithTimeout(ctx, evictTimeout)
	defer cancel()
	err = cs.PolicyV1().Evictions(namespace).Evict(ctx, &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: pod},
	})
	switch {
	case err == nil:
		return fmt.Sprintf("pod %s/%s evicted after runtime drift (Falco rule: %s); its workload recreates it from the approved image", namespace, pod, rule)
	case apierrors.IsTooManyRequests(err):
		return fmt.Sprintf("pod %s/%s not evicted: its PodDisruptionBudget allows no disruption now (%v)", namespace, pod, err)
	default:
		return fmt.Sprintf("pod %s/%s not evicted: %v", namespace, pod, err)
	}
}

func (c *Controller) evictionClient() (kubernetes.Interface, error) {
	a := c.activity
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.clientset == nil {
		cs, err := kubernetes.NewForConfig(c.config)
		if err != nil {
			return nil, err
		}
		a.clientset = cs
	}
	return a.clientset, nil
}
