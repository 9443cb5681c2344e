package admission

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/reconciler"
)

const (
	controllerUser = "plumbline-controller"
	breakGlass     = "platform:break-glass"
)

// guardConfig is who the tests' guards let through: the controller, the admin user that the
// test control plane's kube-controller-manager runs as, a break-glass group, the HPA.
func guardConfig() reconciler.AdmissionConfig {
	return reconciler.AdmissionConfig{Identity: controllerUser, Users: []string{"admin"},
		BreakGlassGroups: []string{breakGlass}, ScaleUsers: reconciler.DefaultScaleUsers()}
}

// applySet creates every policy and binding of set and removes them when the test ends.
func applySet(t testing.TB, set *policy.Admission) {
	t.Helper()
	ctx := context.Background()
	api := env.Clientset.AdmissionregistrationV1()
	for i := range set.Policies {
		p := &set.Policies[i]
		if _, err := api.ValidatingAdmissionPolicies().Create(ctx, &p.Policy, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create policy %s: %v", p.Policy.Name, err)
		}
		name := p.Policy.Name
		t.Cleanup(func() {
			_ = api.ValidatingAdmissionPolicies().Delete(context.Background(), name, metav1.DeleteOptions{})
		})
		for _, b := range append([]admv1.ValidatingAdmissionPolicyBinding{p.Binding}, p.Bindings...) {
			if _, err := api.ValidatingAdmissionPolicyBindings().Create(ctx, &b, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create binding %s: %v", b.Name, err)
			}
			bname := b.Name
			t.Cleanup(func() {
				_ = api.ValidatingAdmissionPolicyBindings().Delete(context.Background(), bname, metav1.DeleteOptions{})
			})
		}
	}
}

// kubectl runs kubectl against the test control plane as its admin, with args.
func kubectl(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// eventually retries fn until it returns true: policies take a moment to be in force.
func eventually(t *testing.T, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// managedDeployment creates Deployment nginx in ns as the Source apps would: with its
// ownership label.
func managedDeployment(t *testing.T, ns, name string, labelled bool) *unstructured.Unstructured {
	t.Helper()
	labels := map[string]string{"app": name}
	meta := metav1.ObjectMeta{Name: name, Namespace: ns}
	if labelled {
		meta.Labels = map[string]string{reconciler.LabelSource: ns + ".apps"}
	}
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.27"}}},
			},
		},
	}
	if _, err := env.Clientset.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func ptr[T any](v T) *T { return &v }

func imageOf(t *testing.T, ns, name string) string {
	t.Helper()
	d, err := env.Clientset.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// impersonating returns a clientset that acts as user in groups.
func impersonating(t testing.TB, user string, groups ...string) *kubernetes.Clientset {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// warnings collects the warnings a client is sent.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

func sourceKey(ns string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: "apps"}
}

func oneNamespace(ns string) func(*unstructured.Unstructured) string {
	return func(*unstructured.Unstructured) string { return ns }
}

func guardMessage(ns, name string) string {
	return "Deployment " + ns + "/" + name + " is managed by Plumbline (source apps, repo platform/apps, path overlays/prod). " +
		"Change it in Git, or ask for break-glass."
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
