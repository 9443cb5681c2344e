package reconciler

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/plumbline/plumbline/activity"
	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/report"
)

// ActivityStream is where the controller hears of audit and Falco events; *activity.Receiver
// implements it.
type ActivityStream interface {
	Events() <-chan activity.Event
	Stats() activity.Stats
}

// ActivityOptions wire audit and Falco events into the controller.
type ActivityOptions struct {
	// Stream delivers the events. Required.
	Stream ActivityStream
	// AuditWait is how long a pass waits for the audit event of a write it just saw (the API
	// server's audit webhook sends in batches, a second or so after the write). Default 3 s.
	AuditWait time.Duration
	// Retention is how long a runtime finding (an exec, a Falco event) stays in the Source's
	// report, and so its incident open. Default 1 hour.
	Retention time.Duration
	// EvictEvery is the least time between two evictions of one workload's pods. Default 10 minutes.
	EvictEvery time.Duration
}

// Bounds of what the controller keeps of activity, whatever arrives.
const (
	maxWriteObjects    = 10000 // objects with recent writes
	maxWritesPerObject = 8
	maxRuntimePerSrc   = 256 // runtime findings per Source
	maxPodMatches      = 10000
	podMatchTTL        = 30 * time.Second
)

// activityState is what the controller keeps of audit and Falco events, bounded.
type activityState struct {
	opts ActivityOptions

	mu sync.Mutex
	// writes are the recent writes per object, oldest first; order is the objects in the order
	// of their first write, to drop the oldest past maxWriteObjects.
	writes map[activityKey][]activity.Event
	order  []activityKey
	// changed is closed and replaced at each new write, for a pass that waits for one.
	changed chan struct{}
	// access are the recent accesses into pods (exec, attach, debug), by pod.
	access map[podKey][]activity.Event
	// runtime are the runtime findings of each Source, by fingerprint.
	runtime map[types.NamespacedName]map[string]*runtimeEntry
	// workloads are the managed workloads of each Source, as of its last pass.
	workloads map[types.NamespacedName][]managedWorkload
	// pods remembers which workload of which Source a pod belongs to.
	pods map[podKey]podMatch
	// evicted is when a workload's pod was last evicted (or refused eviction).
	evicted   map[report.ObjectRef]time.Time
	enqueued  map[types.NamespacedName]time.Time
	clientset kubernetes.Interface
	last      activity.Stats
}

// activityKey names an object as the audit log does.
type activityKey struct {
	group, resource, namespace, name string
}

type podKey struct{ namespace, name string }

// podMatch is the workload a pod belongs to, or none (src empty), as of at.
type podMatch struct {
	src      types.NamespacedName
	workload report.ObjectRef
	at       time.Time
}

// runtimeEntry is one runtime finding of a Source and when it was last seen.
type runtimeEntry struct {
	finding  report.Finding
	lastSeen time.Time
	// responded says the Source's runtime response (evict) was taken for it.
	responded bool
}

func newActivityState(opts *ActivityOptions) *activityState {
	if opts == nil || opts.Stream == nil {
		return nil
	}
	o := *opts
	if o.AuditWait <= 0 {
		o.AuditWait = 3 * time.Second
	}
	if o.Retention <= 0 {
		o.Retention = time.Hour
	}
	if o.EvictEvery <= 0 {
		o.EvictEvery = 10 * time.Minute
	}
	return &activityState{
		opts: o, writes: map[activityKey][]activity.Event{}, changed: make(chan struct{}),
		access: map[podKey][]activity.Event{}, runtime: map[types.NamespacedName]map[string]*runtimeEntry{},
		pods: map[podKey]podMatch{}, workloads: map[types.NamespacedName][]managedWorkload{}, evicted: map[report.ObjectRef]time.Time{}, enqueued: map[types.NamespacedName]time.Time{},
	}
}

// RunActivity consumes the activity stream until ctx ends: writes go into the recent-writes
// index, accesses and Falco events of managed pods become runtime findings of their Source
// (whose pass they wake), the rest is counted and dropped. The manager runs it when
// ControllerOptions.Activity is set.
func (c *Controller) RunActivity(ctx context.Context) error {
	a := c.activity
	if a == nil {
		<-ctx.Done()
		return nil
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	events := a.opts.Stream.Events()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			c.countIntake()
		case e := <-events:
			c.consume(ctx, e)
		}
	}
}

// countIntake counts the events the receiver sampled out or dropped since the last tick.
func (c *Controller) countIntake() {
	a := c.activity
	s := a.opts.Stream.Stats()
	if d := s.Sampled - a.last.Sampled; d > 0 {
		c.metrics.RuntimeEvents.WithLabelValues("", "sampled").Add(float64(d))
	}
	if d := s.Dropped - a.last.Dropped; d > 0 {
		c.metrics.RuntimeEvents.WithLabelValues("", "dropped").Add(float64(d))
	}
	a.last = s
}

func (c *Controller) consume(ctx context.Context, e activity.Event) {
	switch e.Kind {
	case activity.KindWrite:
		c.activity.recordWrite(e)
		c.metrics.RuntimeEvents.WithLabelValues("", "write").Inc()
	case activity.KindAccess:
		c.activity.recordAccess(e)
		if e.Access == activity.AccessDebug {
			// The debug container itself comes from the Pod watch; its pass names the person.
			c.wakePodSource(ctx, e.Object.Namespace, e.Object.Name)
			return
		}
		c.runtimeEvent(ctx, e.Object.Namespace, e.Object.Name, "", func(m podMatch) report.Finding { return accessFinding(m, e) })
	case activity.KindFalco:
		c.runtimeEvent(ctx, e.Namespace, e.Pod, e.Runtime.ContainerID, func(m podMatch) report.Finding { return falcoFinding(m, e) })
	}
}

// runtimeEvent turns an event on a pod into a runtime finding of the Source whose workload runs
// the pod, and wakes that Source; an event on an unmanaged pod is counted and dropped.
func (c *Controller) runtimeEvent(ctx context.Context, namespace, pod, containerID string, finding func(podMatch) report.Finding) {
	m := c.matchPod(ctx, namespace, pod, containerID)
	if m.src.Name == "" {
		c.metrics.RuntimeEvents.WithLabelValues("", "unmanaged").Inc()
		return
	}
	f := finding(m)
	c.metrics.RuntimeEvents.WithLabelValues(m.src.String(), string(f.Type)).Inc()
	now := c.opts.Now()
	a := c.activity
	fp := report.Fingerprint(m.src.String(), f)
	a.mu.Lock()
	byFP := a.runtime[m.src]
	if byFP == nil {
		byFP = map[string]*runtimeEntry{}
		a.runtime[m.src] = byFP
	}
	entry, known := byFP[fp]
	if known {
		n := entry.finding.Runtime.Count + f.Runtime.Count
		entry.finding = f
		entry.finding.Runtime.Count = n
		entry.finding.Message = countedMessage(f.Message, n)
		entry.lastSeen = now
	} else {
		if len(byFP) >= maxRuntimePerSrc {
			dropOldest(byFP)
		}
		byFP[fp] = &runtimeEntry{finding: f, lastSeen: now}
	}
	wake := !known || now.Sub(a.enqueued[m.src]) > 2*time.Second
	if wake {
		a.enqueued[m.src] = now
	}
	a.mu.Unlock()
	if wake {
		c.wake(ctx, m.src)
	}
}

func dropOldest(byFP map[string]*runtimeEntry) {
	oldest := ""
	for fp, e := range byFP {
		if oldest == "" || e.lastSeen.Before(byFP[oldest].lastSeen) {
			oldest = fp
		}
	}
	delete(byFP, oldest)
}

// wake asks for a pass over a Source.
func (c *Controller) wake(ctx context.Context, src types.NamespacedName) {
	c.mu.Lock()
	if st := c.sources[src]; st != nil {
		st.dirty = true
	}
	c.mu.Unlock()
	c.watches.mu.Lock()
	events := c.watches.events
	c.watches.mu.Unlock()
	if events == nil {
		return
	}
	select {
	case events <- event.GenericEvent{Object: &v1alpha1.Source{ObjectMeta: metav1.ObjectMeta{Namespace: src.Namespace, Name: src.Name}}}:
	case <-ctx.Done():
	}
}

// wakePodSource wakes the Source whose workload runs a pod, if any.
func (c *Controller) wakePodSource(ctx context.Context, namespace, pod string) {
	if m := c.matchPod(ctx, namespace, pod, ""); m.src.Name != "" {
		c.wake(ctx, m.src)
	}
}

// runtimeFindings returns the runtime findings of a Source that are still within retention,
// forgetting the others.
func (a *activityState) runtimeFindings(src types.NamespacedName, now time.Time) []*runtimeEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*runtimeEntry
	for fp, e := range a.runtime[src] {
		if now.Sub(e.lastSeen) > a.opts.Retention {
			delete(a.runtime[src], fp)
			continue
		}
		out = append(out, e)
	}
	return out
}

// forget drops what is kept of a deleted Source; nil-safe.
func (a *activityState) forget(src types.NamespacedName) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.runtime, src)
	delete(a.workloads, src)
	delete(a.enqueued, src)
	for k, m := range a.pods {
		if m.src == src {
			delete(a.pods, k)
		}
	}
}
