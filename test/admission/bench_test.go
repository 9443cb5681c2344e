package admission

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/reconciler"
)

// BenchmarkDeploymentUpdate measures the latency a Deployment update sees on the real API
// server, with no policy bound and with a Source's guard and baseline rules bound in deny
// (the update comes from an identity the guard lets through, on a Deployment that keeps every
// rule, so every policy runs to the end). Run with -benchtime 1000x for 1,000 updates each; it
// reports p50 and p99 in milliseconds.
func BenchmarkDeploymentUpdate(b *testing.B) {
	for _, bound := range []bool{false, true} {
		name := "unbound"
		if bound {
			name = "bound"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			ns, err := env.NewNamespace(ctx, "bench-"+name)
			if err != nil {
				b.Fatal(err)
			}
			d := compliantDeployment(ns)
			if _, err := env.Clientset.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
			if bound {
				m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
				if err != nil {
					b.Fatal(err)
				}
				engine, err := policy.NewEngine(nil)
				if err != nil {
					b.Fatal(err)
				}
				set, err := reconciler.RenderAdmission(engine, reconciler.AdmissionSpec{
					Source: sourceKey(ns), Repo: "platform/apps", Path: "overlays/prod", Actions: []admv1.ValidationAction{admv1.Deny},
					Objects: []*unstructured.Unstructured{{Object: m}}, NamespaceOf: oneNamespace(ns), Guard: true, Rules: true,
					Config: guardConfig(),
				})
				if err != nil {
					b.Fatal(err)
				}
				applySet(b, set)
				// In force once a person's edit is refused.
				alice := impersonating(b, "alice", "system:masters")
				deadline := time.Now().Add(30 * time.Second)
				for probe := 0; ; probe++ {
					_, err := alice.AppsV1().Deployments(ns).Patch(ctx, d.Name, types.MergePatchType,
						fmt.Appendf(nil, `{"metadata":{"annotations":{"probe":"%d"}}}`, probe), metav1.PatchOptions{})
					if err != nil {
						break
					}
					if time.Now().After(deadline) {
						b.Fatal("the policies never came in force")
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				patch := fmt.Appendf(nil, `{"metadata":{"annotations":{"n":"%d"}}}`, i)
				start := time.Now()
				if _, err := env.Clientset.AppsV1().Deployments(ns).Patch(ctx, d.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
			b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
		})
	}
}

func compliantDeployment(ns string) *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Labels: map[string]string{reconciler.LabelSource: ns + ".apps"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr(true)},
					Containers: []corev1.Container{{Name: "web", Image: "registry.example.com/web:1.0",
						SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true)},
						Resources:       corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": mustQuantity("128Mi"), "cpu": mustQuantity("1")}},
					}},
				},
			},
		},
	}
}
