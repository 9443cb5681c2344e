package cluster

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// TestStart proves the built control plane starts, serves the pinned version, and accepts the
// admin kubeconfig it writes.
func TestStart(t *testing.T) {
	c, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	v, err := c.Clientset.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.37.2" {
		t.Errorf("server version = %s, want v1.37.2", v.GitVersion)
	}
	ns, err := c.NewNamespace(context.Background(), "start")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Clientset.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestControllersRun proves kube-controller-manager works beside the API server: a Deployment
// gets a ReplicaSet and Pods, a Service gets an EndpointSlice that carries its labels, and the
// aggregated ClusterRole edit has rules.
func TestControllersRun(t *testing.T) {
	c, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	ctx := t.Context()
	ns, err := c.NewNamespace(ctx, "controllers")
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web", "plumbline.dev/source": "s"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.21.0"}}},
			},
		},
	}
	if _, err := c.Clientset.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Labels: labels},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if _, err := c.Clientset.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err
		}
		slices, err := c.Clientset.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "plumbline.dev/source=s"})
		if err != nil {
			return false, err
		}
		return len(pods.Items) == 2 && len(slices.Items) == 1, nil
	})
	if err != nil {
		t.Fatalf("no Pods or EndpointSlice from the controllers: %v", err)
	}
	edit, err := c.Clientset.RbacV1().ClusterRoles().Get(ctx, "edit", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(edit.Rules) == 0 {
		t.Error("ClusterRole edit has no rules: the aggregation controller did not run")
	}
}
