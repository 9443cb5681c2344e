package reconciler

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Objects the control plane creates in every namespace or cluster.
var systemObjects = map[string]bool{
	"ConfigMap/kube-root-ca.crt": true,
	"ServiceAccount/default":     true,
	"Service/kubernetes":         true,
	"Endpoints/kubernetes":       true,
	"EndpointSlice/kubernetes":   true,
	// The aggregated roles, whose rules the clusterrole-aggregation controller writes.
	"ClusterRole/admin":         true,
	"ClusterRole/edit":          true,
	"ClusterRole/view":          true,
	"ClusterRole/cluster-admin": true,
}

// Field managers of the control plane itself, besides every kube-* and system:* one.
var systemManagers = map[string]bool{
	"kubelet": true, "cloud-controller-manager": true,
	// kube-apiserver's priority-and-fairness bootstrap, which writes FlowSchemas and
	// PriorityLevelConfigurations.
	"api-priority-and-fairness-config-producer-v1": true,
	"api-priority-and-fairness-config-consumer-v1": true,
}

// controlPlaneManager reports whether a field manager is the control plane: kube-apiserver,
// kube-controller-manager, kube-scheduler, kube-proxy, the kubelet, system:* service accounts.
func controlPlaneManager(m string) bool {
	return systemManagers[m] || strings.HasPrefix(m, "kube-") || strings.HasPrefix(m, "system:")
}

// controllerMade reports whether controllers made an object: it has an owner, or only the
// control plane's field managers ever wrote it. Such an object is never Extra, whatever labels
// it carries: the Endpoints controller copies a Service's labels, ownership label included.
func controllerMade(u *unstructured.Unstructured) bool {
	if len(u.GetOwnerReferences()) > 0 {
		return true
	}
	managers := u.GetManagedFields()
	if len(managers) == 0 {
		return false
	}
	for _, m := range managers {
		if !controlPlaneManager(m.Manager) {
			return false
		}
	}
	return true
}

// orphan reports whether an undeclared live object was made by hand: no controller made it, it
// is not being deleted, and it is none of the objects the control plane puts everywhere.
func orphan(u *unstructured.Unstructured) bool {
	if controllerMade(u) || u.GetDeletionTimestamp() != nil {
		return false
	}
	if systemObjects[u.GetKind()+"/"+u.GetName()] {
		return false
	}
	if u.GetKind() == "Secret" {
		if t, _, _ := unstructured.NestedString(u.Object, "type"); t == "kubernetes.io/service-account-token" {
			return false
		}
	}
	if _, ok := u.GetLabels()["kubernetes.io/bootstrapping"]; ok {
		return false
	}
	return true
}

// controlPlaneOwn reports whether a cluster-scoped object is the control plane's own by its name:
// RBAC reserves system:* names for the control plane and its components.
func controlPlaneOwn(u *unstructured.Unstructured) bool {
	return strings.HasPrefix(u.GetName(), "system:")
}

// Labels and annotations by which GitOps and packaging tools mark what they manage.
var toolMarks = []string{
	"helm.toolkit.fluxcd.io/name", "kustomize.toolkit.fluxcd.io/name", // Flux
	"argocd.argoproj.io/instance", "argocd.argoproj.io/tracking-id", // Argo CD
}

// claimedByAnotherTool reports whether a cluster-scoped object is another tool's: it carries
// another source's ownership label, a managed-by label other than Plumbline's, or Flux's or Argo
// CD's marks, and kubectl did not create it. A cluster holds hundreds of such ClusterRoles and CRDs
// from Helm charts and other sources; they are not what a person made by hand. A person who
// labels a `kubectl create`d object with a tool's label is still reported.
func claimedByAnotherTool(u *unstructured.Unstructured, source string) bool {
	labels, annotations := u.GetLabels(), u.GetAnnotations()
	claimed := (labels[LabelSource] != "" && labels[LabelSource] != source) ||
		(labels[LabelManagedBy] != "" && labels[LabelManagedBy] != FieldManager)
	for _, k := range toolMarks {
		_, inLabels := labels[k]
		_, inAnnotations := annotations[k]
		claimed = claimed || inLabels || inAnnotations
	}
	return claimed && !strings.HasPrefix(creatorManager(u), "kubectl")
}

// creatorManager is the field manager of an object's oldest managedFields entry.
func creatorManager(u *unstructured.Unstructured) string {
	var manager string
	var at *metav1.Time
	for _, e := range u.GetManagedFields() {
		if e.Time != nil && (at == nil || e.Time.Before(at)) {
			manager, at = e.Manager, e.Time
		}
	}
	return manager
}
