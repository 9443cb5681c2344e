package reconciler

import (
	"strings"

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
