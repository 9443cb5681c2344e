package reconciler

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// workload is the pod template of an object that runs pods.
type workload struct {
	spec *corev1.PodSpec
	// pods selects the workload's pods in its namespace; nil when they cannot be told apart
	// (a CronJob's pods belong to Jobs that do not exist yet).
	pods labels.Selector
	// pod is set for a bare Pod: it is its own one pod, matched by name. Its labels select
	// nothing of its own (no labels would select every pod of the namespace).
	pod string
}

// podsKnown reports whether the workload's pods can be told apart from the others.
func (w workload) podsKnown() bool { return w.pod != "" || w.pods != nil }

// runs reports whether pod is one of the workload's pods.
func (w workload) runs(pod *corev1.Pod) bool {
	if w.pod != "" {
		return pod.Name == w.pod
	}
	return w.pods != nil && w.pods.Matches(labels.Set(pod.Labels))
}

// workloadOf returns the pod template of u, or false when u does not run pods.
func workloadOf(u *unstructured.Unstructured) (workload, bool, error) {
	if u.GroupVersionKind().Group != "" && u.GroupVersionKind().Group != "apps" && u.GroupVersionKind().Group != "batch" {
		return workload{}, false, nil
	}
	from := func(obj any) error {
		return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj)
	}
	var (
		w   workload
		sel *metav1.LabelSelector
		err error
	)
	switch u.GetKind() {
	case "Pod":
		var p corev1.Pod
		err = from(&p)
		w.spec = &p.Spec
		w.pod = p.Name
	case "Deployment":
		var d appsv1.Deployment
		err, w.spec, sel = from(&d), &d.Spec.Template.Spec, d.Spec.Selector
	case "StatefulSet":
		var s appsv1.StatefulSet
		err, w.spec, sel = from(&s), &s.Spec.Template.Spec, s.Spec.Selector
	case "DaemonSet":
		var d appsv1.DaemonSet
		err, w.spec, sel = from(&d), &d.Spec.Template.Spec, d.Spec.Selector
	case "ReplicaSet":
		var r appsv1.ReplicaSet
		err, w.spec, sel = from(&r), &r.Spec.Template.Spec, r.Spec.Selector
	case "ReplicationController":
		var r corev1.ReplicationController
		err = from(&r)
		if r.Spec.Template != nil {
			w.spec = &r.Spec.Template.Spec
		}
		if len(r.Spec.Selector) > 0 {
			w.pods = labels.SelectorFromSet(r.Spec.Selector)
		}
	case "Job":
		var j batchv1.Job
		err, w.spec, sel = from(&j), &j.Spec.Template.Spec, j.Spec.Selector
		if sel == nil {
			w.pods = labels.SelectorFromSet(labels.Set{batchv1.JobNameLabel: j.Name})
		}
	case "CronJob":
		var c batchv1.CronJob
		err, w.spec = from(&c), &c.Spec.JobTemplate.Spec.Template.Spec
	default:
		return workload{}, false, nil
	}
	if err != nil {
		return workload{}, false, fmt.Errorf("read pod template: %w", err)
	}
	if w.spec == nil {
		return workload{}, false, nil
	}
	if sel != nil {
		if w.pods, err = metav1.LabelSelectorAsSelector(sel); err != nil {
			return workload{}, false, fmt.Errorf("selector: %w", err)
		}
		if w.pods.Empty() {
			w.pods = nil // an empty selector would claim every pod of the namespace
		}
	}
	return w, true, nil
}

// container is one container of a pod template.
type container struct {
	name, image string
}

// containers lists the init, regular and ephemeral containers of a pod spec.
func containers(spec *corev1.PodSpec) []container {
	var out []container
	for _, c := range spec.InitContainers {
		out = append(out, container{c.Name, c.Image})
	}
	for _, c := range spec.Containers {
		out = append(out, container{c.Name, c.Image})
	}
	for _, c := range spec.EphemeralContainers {
		out = append(out, container{c.Name, c.Image})
	}
	return out
}
