package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/plumbline/plumbline/activity"
	"github.com/plumbline/plumbline/report"
)

// recordWrite adds a write to the recent-writes index of its object.
func (a *activityState) recordWrite(e activity.Event) {
	k := activityKey{group: e.Object.APIGroup, resource: e.Object.Resource, namespace: e.Object.Namespace, name: e.Object.Name}
	a.mu.Lock()
	defer a.mu.Unlock()
	list, known := a.writes[k]
	if !known {
		if len(a.order) >= maxWriteObjects {
			delete(a.writes, a.order[0])
			a.order = a.order[1:]
		}
		a.order = append(a.order, k)
	}
	if len(list) >= maxWritesPerObject {
		list = list[1:]
	}
	a.writes[k] = append(list, e)
	close(a.changed)
	a.changed = make(chan struct{})
}

// recordAccess keeps the recent accesses into a pod, for the debug containers that the Pod
// watch shows.
func (a *activityState) recordAccess(e activity.Event) {
	k := podKey{e.Object.Namespace, e.Object.Name}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, known := a.access[k]; !known && len(a.access) >= maxWriteObjects {
		for old := range a.access { // any one: the map is only a bound
			delete(a.access, old)
			break
		}
	}
	list := a.access[k]
	if len(list) >= maxWritesPerObject {
		list = list[1:]
	}
	a.access[k] = append(list, e)
	close(a.changed)
	a.changed = make(chan struct{})
}

// writesOf returns the recent writes of an object and a channel closed at the next write.
func (a *activityState) writesOf(k activityKey) ([]activity.Event, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.writes[k]), a.changed
}

// debugActor returns who last added an ephemeral container to a pod, and a channel closed at
// the next access or write.
func (a *activityState) debugActor(namespace, pod string) (*report.Actor, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	list := a.access[podKey{namespace, pod}]
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Access == activity.AccessDebug && list[i].Code < 400 {
			return list[i].Actor, a.changed
		}
	}
	return nil, a.changed
}

// waitDebugActor returns who added the debug containers of a pod; when they were added seconds
// ago (managedFields of the ephemeralcontainers subresource), it waits, at most AuditWait, for
// the audit event.
func (c *Controller) waitDebugActor(ctx context.Context, p *corev1.Pod) *report.Actor {
	a := c.activity
	var at *time.Time
	for _, m := range p.ManagedFields {
		if m.Subresource == "ephemeralcontainers" && m.Time != nil && (at == nil || m.Time.After(*at)) {
			t := m.Time.Time
			at = &t
		}
	}
	deadline := c.opts.Now().Add(a.opts.AuditWait)
	for {
		actor, changed := a.debugActor(p.Namespace, p.Name)
		if actor != nil || at == nil || c.opts.Now().Sub(*at) > a.opts.AuditWait+time.Second || !c.opts.Now().Before(deadline) {
			return actor
		}
		wait := time.NewTimer(deadline.Sub(c.opts.Now()))
		select {
		case <-ctx.Done():
			wait.Stop()
			return nil
		case <-changed:
		case <-wait.C:
		}
		wait.Stop()
	}
}

// attachActors gives each Modified, Missing and Extra finding the person behind the write that
// made it. A finding whose write is seconds old waits, at most AuditWait, for its audit event.
func (c *Controller) attachActors(ctx context.Context, rep *report.Report) {
	a := c.activity
	deadline := c.opts.Now().Add(a.opts.AuditWait)
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.Actor != nil || (f.Type != report.Modified && f.Type != report.Missing && f.Type != report.Extra) {
			continue
		}
		k, ok := c.auditKeyOf(f.Object)
		if !ok {
			continue
		}
		for {
			writes, changed := a.writesOf(k)
			if actor := matchWrite(*f, writes); actor != nil {
				f.Actor = actor
				f.Message += "; changed by " + report.DescribeActor(actor)
				break
			}
			at := writeTime(*f)
			if at == nil || c.opts.Now().Sub(*at) > a.opts.AuditWait+time.Second || !c.opts.Now().Before(deadline) {
				break // no audit event is coming for this one
			}
			wait := time.NewTimer(deadline.Sub(c.opts.Now()))
			select {
			case <-ctx.Done():
				wait.Stop()
				return
			case <-changed:
			case <-wait.C:
			}
			wait.Stop()
		}
	}
}

// auditKeyOf names an object by resource, as the audit log does.
func (c *Controller) auditKeyOf(ref report.ObjectRef) (activityKey, bool) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return activityKey{}, false
	}
	m, err := c.cluster.mappingFor(gv.WithKind(ref.Kind))
	if err != nil {
		return activityKey{}, false
	}
	return activityKey{group: m.gvr.Group, resource: m.gvr.Resource, namespace: ref.Namespace, name: ref.Name}, true
}

// writeTime is when the finding's drift was written, from managedFields, or nil.
func writeTime(f report.Finding) *time.Time {
	var at *time.Time
	for _, fl := range f.Fields {
		if fl.Time != nil && (at == nil || fl.Time.After(*at)) {
			at = fl.Time
		}
	}
	return at
}

// matchWrite picks the write behind a finding: for Modified, the write whose field manager
// wrote the drifted field at the time managedFields records (a second's resolution); for
// Missing the last delete; for Extra the last create. Nil when none fits.
func matchWrite(f report.Finding, writes []activity.Event) *report.Actor {
	verbs := map[report.FindingType][]string{
		report.Modified: {"patch", "update", "create"},
		report.Missing:  {"delete"},
		report.Extra:    {"create"},
	}[f.Type]
	var manager string
	var at *time.Time
	for _, fl := range f.Fields {
		if fl.Manager != "" {
			manager, at = fl.Manager, fl.Time
			break
		}
	}
	var best *report.Actor
	var bestGap time.Duration
	for i := len(writes) - 1; i >= 0; i-- {
		w := writes[i]
		if !slices.Contains(verbs, w.Actor.Verb) {
			continue
		}
		if manager != "" && !managerMatches(manager, w.Actor) {
			continue
		}
		if at == nil {
			return w.Actor // the latest
		}
		// managedFields times are truncated to the second, and taken before the response: the
		// write's completion is in [at, at+1s), and a little after on a loaded server.
		gap := w.Time.Sub(*at)
		if gap < 0 || gap > 2*time.Second {
			continue
		}
		if best == nil || gap < bestGap {
			best, bestGap = w.Actor, gap
		}
	}
	return best
}

// managerMatches reports whether a write was made as field manager m: its fieldManager, or
// without one the program name of its user agent, as the API server defaults it.
func managerMatches(m string, a *report.Actor) bool {
	if a.FieldManager != "" {
		return a.FieldManager == m
	}
	prog, _, _ := strings.Cut(a.UserAgent, "/")
	return prog != "" && prog == m
}

// describeAccess says who got into a pod, for a RuntimeAccess message.
func describeAccess(kind, pod, container, command string, code int, actor *report.Actor) string {
	verb := map[string]string{
		activity.AccessExec: "Exec into", activity.AccessAttach: "Attach to",
		activity.AccessPortForward: "Port-forward to", activity.AccessDebug: "Debug container in",
	}[kind]
	s := fmt.Sprintf("%s pod %s", verb, pod)
	if container != "" {
		s += " (container " + container + ")"
	}
	if command != "" {
		s += ": '" + command + "'"
	}
	if actor != nil {
		s += " by " + report.DescribeActor(actor)
	}
	if code != 0 {
		s += fmt.Sprintf("; the API server answered %d", code)
	}
	return s
}
