package manifests

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestIDString(t *testing.T) {
	tests := []struct {
		name string
		obj  map[string]any
		want string
	}{
		{"apps deployment", obj("apps/v1", "Deployment", "default", "nginx-deployment"), "apps/Deployment/default/nginx-deployment"},
		{"core service", obj("v1", "Service", "default", "web"), "Service/default/web"},
		{"cluster-scoped core", obj("v1", "Namespace", "", "prod"), "Namespace/prod"},
		{"cluster-scoped group", obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "admin"), "rbac.authorization.k8s.io/ClusterRole/admin"},
		{"custom resource", obj("monitoring.coreos.com/v1", "ServiceMonitor", "shop", "web"), "monitoring.coreos.com/ServiceMonitor/shop/web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IDOf(&unstructured.Unstructured{Object: tt.obj}).String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
	if got := IDOf(nil); got != (ID{}) {
		t.Errorf("IDOf(nil) = %+v, want the zero ID", got)
	}
}

func obj(apiVersion, kind, namespace, name string) map[string]any {
	md := map[string]any{"name": name}
	if namespace != "" {
		md["namespace"] = namespace
	}
	return map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md}
}
