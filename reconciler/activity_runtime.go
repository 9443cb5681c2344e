package reconciler

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/plumbline/plumbline/activity"
	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/report"
)

// attachActivity adds what audit and Falco said to one comparison: actors on the findings of
// writes, the runtime findings of the Source still within retention, and a RuntimeAccess finding
// for each debug (ephemeral) container in the pods of its workloads, seen from the Pod watch
// with or without audit.
func (c *Controller) attachActivity(ctx context.Context, src *v1alpha1.Source, st *sourceState, rep *report.Report) {
	key := keyOfSource(src)
	if c.activity != nil {
		c.activity.setWorkloads(key, c.workloadsOf(st, src.Namespace))
		c.attachActors(ctx, rep)
		for _, e := range c.activity.runtimeFindings(key, c.opts.Now()) {
			rep.Findings = append(rep.Findings, e.finding)
		}
	}
	rep.Findings = append(rep.Findings, c.debugFindings(ctx, src, st)...)
	rep.Finalize(rep.Summary.Objects)
}

// managedWorkload is one workload a Source declares, with its reference as findings carry it.
type managedWorkload struct {
	ref report.ObjectRef
	w   workload
}

// workloadsOf lists the workloads of a Source's desired state whose pods can be told apart.
func (c *Controller) workloadsOf(st *sourceState, defaultNamespace string) []managedWorkload {
	var out []managedWorkload
	for ref, u := range c.desiredByRef(st, defaultNamespace) {
		w, ok, err := workloadOf(u)
		if err != nil || !ok || !w.podsKnown() || ref.Namespace == "" {
			continue
		}
		out = append(out, managedWorkload{ref: ref, w: w})
	}
	return out
}

// debugFindings reads the pods of the Source's workloads from the cache and makes one
// RuntimeAccess finding per ephemeral container.
func (c *Controller) debugFindings(ctx context.Context, src *v1alpha1.Source, st *sourceState) []report.Finding {
	if c.live == nil {
		return nil
	}
	var out []report.Finding
	pods := map[string][]corev1.Pod{}
	for _, mw := range c.workloadsOf(st, src.Namespace) {
		list, ok := pods[mw.ref.Namespace]
		if !ok {
			list = c.podsIn(ctx, mw.ref.Namespace, func(u *unstructured.Unstructured) bool { return len(ephemeralNames(u)) > 0 })
			pods[mw.ref.Namespace] = list
		}
		for i := range list {
			p := &list[i]
			if !mw.w.runs(p) {
				continue
			}
			for _, ec := range p.Spec.EphemeralContainers {
				var actor *report.Actor
				if c.activity != nil {
					actor = c.waitDebugActor(ctx, p)
				}
				out = append(out, report.Finding{
					Type: report.RuntimeAccess, Reason: activity.AccessDebug, Object: mw.ref, Container: ec.Name,
					Message: describeAccess(activity.AccessDebug, p.Name, ec.Name, "", 0, actor) + " with image '" + ec.Image + "'",
					Actor:   actor,
					Runtime: &report.Runtime{Pod: p.Name, Container: ec.Name, Access: activity.AccessDebug, Image: ec.Image, Command: strings.Join(append(ec.Command, ec.Args...), " ")},
				})
			}
		}
	}
	return out
}

// podsIn lists the cached pods of a namespace that keep passes (all when keep is nil).
func (c *Controller) podsIn(ctx context.Context, namespace string, keep func(*unstructured.Unstructured) bool) []corev1.Pod {
	items, err := c.live.List(ctx, podsGVK, namespace)
	if err != nil {
		return nil
	}
	out := make([]corev1.Pod, 0, len(items))
	for i := range items {
		if keep != nil && !keep(&items[i]) {
			continue
		}
		var p corev1.Pod
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(items[i].Object, &p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// matchPod finds the Source and workload that run a pod (by namespace and name, or by container
// ID when Falco knew no pod), remembered for podMatchTTL. A zero podMatch: no managed workload.
func (c *Controller) matchPod(ctx context.Context, namespace, name, containerID string) podMatch {
	a := c.activity
	now := c.opts.Now()
	k := podKey{namespace, name}
	a.mu.Lock()
	m, ok := a.pods[k]
	a.mu.Unlock()
	if ok && now.Sub(m.at) < podMatchTTL {
		return m
	}
	m = podMatch{at: now}
	if c.live == nil || (name == "" && containerID == "") {
		return m
	}
	a.mu.Lock()
	sources := make(map[types.NamespacedName][]managedWorkload, len(a.workloads))
	for k, v := range a.workloads {
		sources[k] = v
	}
	a.mu.Unlock()
	pods := map[string][]corev1.Pod{}
	for src, wls := range sources {
		for _, mw := range wls {
			if namespace != "" && mw.ref.Namespace != namespace {
				continue
			}
			list, ok := pods[mw.ref.Namespace]
			if !ok {
				list = c.podsIn(ctx, mw.ref.Namespace, func(u *unstructured.Unstructured) bool { return name == "" || u.GetName() == name })
				pods[mw.ref.Namespace] = list
			}
			for i := range list {
				p := &list[i]
				if (name != "" && p.Name != name) || (name == "" && !runsContainer(p, containerID)) {
					continue
				}
				if mw.w.runs(p) {
					m.src, m.workload = src, mw.ref
					k = podKey{p.Namespace, p.Name}
					break
				}
			}
		}
	}
	a.mu.Lock()
	if len(a.pods) >= maxPodMatches {
		clear(a.pods)
	}
	a.pods[k] = m
	a.mu.Unlock()
	return m
}

// runsContainer reports whether a pod runs the container of a (possibly short) container ID.
func runsContainer(p *corev1.Pod, id string) bool {
	for _, list := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses, p.Status.EphemeralContainerStatuses} {
		for _, s := range list {
			_, full, _ := strings.Cut(s.ContainerID, "://")
			if len(id) >= 12 && strings.HasPrefix(full, id) {
				return true
			}
		}
	}
	return false
}

// accessFinding is the RuntimeAccess finding of an exec, attach or port-forward.
func accessFinding(m podMatch, e activity.Event) report.Finding {
	return report.Finding{
		Type: report.RuntimeAccess, Reason: e.Access, Object: m.workload, Container: e.Container,
		Message: describeAccess(e.Access, e.Object.Name, e.Container, e.Command, e.Code, e.Actor),
		Actor:   e.Actor,
		Runtime: &report.Runtime{Pod: e.Object.Name, Container: e.Container, Access: e.Access, Command: e.Command, Code: e.Code, Time: e.Actor.Time, Count: 1},
	}
}

// falcoFinding is the RuntimeDrift finding of a Falco event, in the mission's words:
// "Unauthorized process executed in pod web-7c9…: Process '/usr/bin/nc' started by user
// 'www-data' (Falco rule: Drop and execute new binary in container)".
func falcoFinding(m podMatch, e activity.Event) report.Finding {
	rt := *e.Runtime
	if rt.Pod == "" {
		rt.Pod = e.Pod
	}
	if rt.Count == 0 {
		rt.Count = 1
	}
	var what string
	switch {
	case rt.File != "":
		what = fmt.Sprintf("File changed in pod %s: File '%s' opened for writing by process '%s' of user '%s'", rt.Pod, rt.File, rt.Process, rt.User)
	case rt.Process != "":
		what = fmt.Sprintf("Unauthorized process executed in pod %s: Process '%s' started by user '%s'", rt.Pod, rt.Process, rt.User)
	default:
		what = fmt.Sprintf("Runtime drift in pod %s: %s", rt.Pod, e.Output)
	}
	return report.Finding{
		Type: report.RuntimeDrift, Object: m.workload, Rule: rt.Rule, Severity: strings.ToLower(rt.Priority), Container: rt.Container,
		Message: countedMessage(what+" (Falco rule: "+rt.Rule+")", rt.Count),
		Runtime: &rt,
	}
}

// countedMessage says how many events a finding stands for, when more than one.
func countedMessage(msg string, n int) string {
	if i := strings.LastIndex(msg, " ["); i >= 0 && strings.HasSuffix(msg, " events]") {
		msg = msg[:i]
	}
	if n <= 1 {
		return msg
	}
	return fmt.Sprintf("%s [%d events]", msg, n)
}

// setWorkloads records the workloads of a Source, for matching pods to it.
func (a *activityState) setWorkloads(src types.NamespacedName, wls []managedWorkload) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.workloads[src] = wls
}

// ephemeralNames lists the debug containers of a pod, so that one added wakes its Source.
func ephemeralNames(pod *unstructured.Unstructured) []string {
	var out []string
	list, _, _ := unstructured.NestedSlice(pod.Object, "spec", "ephemeralContainers")
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			name, _ := m["name"].(string)
			out = append(out, name)
		}
	}
	return out
}

// eventReason is the reason of the Kubernetes Event that tells of a notification on an incident.
func eventReason(e Event, t report.FindingType) string {
	switch e {
	case EventOpened:
		switch t {
		case report.RuntimeAccess:
			return "RuntimeAccess"
		case report.RuntimeDrift:
			return "RuntimeDrift"
		}
		return "DriftDetected"
	case EventEvicted:
		return "Evicted"
	}
	return ""
}
