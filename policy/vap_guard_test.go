package policy

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	admv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/plumbline/plumbline/test/vapeval"
)

// TestGuardInProcess runs the guard through the API server's admission plugin: who passes,
// who is refused, and the message a person reads.
func TestGuardInProcess(t *testing.T) {
	g, err := Guard(GuardOptions{
		AdmissionOptions: AdmissionOptions{Name: "plumbline.shop.apps", Namespaces: []string{"shop"}},
		Source:           "apps", Repo: "platform/apps", Path: "overlays/prod",
		LabelKey: "plumbline.dev/source", LabelValue: "shop.apps",
		Users: []string{"system:serviceaccount:plumbline-system:plumbline"}, BreakGlassGroups: []string{"oncall"},
		ScaleUsers: []string{"system:serviceaccount:kube-system:horizontal-pod-autoscaler"},
		Scaled:     map[string][]string{"deployments": {"web"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := vapeval.New([]admv1.ValidatingAdmissionPolicy{g.Policy}, append([]admv1.ValidatingAdmissionPolicyBinding{g.Binding}, g.Bindings...), "shop", "kube-system")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ev.Close)
	managed := mustObject(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop, labels: {plumbline.dev/source: shop.apps}}\nspec: {replicas: 1}")
	unmanaged := mustObject(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: other, namespace: shop}\nspec: {replicas: 1}")
	scale := mustObject(t, "apiVersion: autoscaling/v1\nkind: Scale\nmetadata: {name: web, namespace: shop}\nspec: {replicas: 3}")
	elsewhere := mustObject(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: kube-system, labels: {plumbline.dev/source: shop.apps}}\nspec: {}")
	deployments := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	msg := "Deployment shop/web is managed by Plumbline (source apps, repo platform/apps, path overlays/prod). Change it in Git, or ask for break-glass."
	denied := "deployments.apps \"web\" is forbidden: ValidatingAdmissionPolicy 'plumbline.shop.apps.guard' with binding 'plumbline.shop.apps.guard' denied request: " + msg
	tests := []struct {
		name   string
		op     admission.Operation
		obj    *unstructured.Unstructured
		sub    string
		user   user.Info
		denied string
		dryRun bool
	}{
		{"a person's dry run (kubectl diff)", admission.Update, managed, "", &user.DefaultInfo{Name: "alice"}, "", true},
		{"a person edits", admission.Update, managed, "", &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated"}}, denied, false},
		{"a person deletes", admission.Delete, managed, "", &user.DefaultInfo{Name: "alice"}, denied, false},
		{"the controller reverts", admission.Update, managed, "", &user.DefaultInfo{Name: "system:serviceaccount:plumbline-system:plumbline"}, "", false},
		{"break-glass", admission.Update, managed, "", &user.DefaultInfo{Name: "bob", Groups: []string{"oncall"}}, "", false},
		{"an unmanaged object", admission.Update, unmanaged, "", &user.DefaultInfo{Name: "alice"}, "", false},
		{"another namespace", admission.Update, elsewhere, "", &user.DefaultInfo{Name: "alice"}, "", false},
		{"the HPA scales", admission.Update, scale, "scale", &user.DefaultInfo{Name: "system:serviceaccount:kube-system:horizontal-pod-autoscaler"}, "", false},
		{"a person scales", admission.Update, scale, "scale", &user.DefaultInfo{Name: "alice"}, "deployments.apps \"web\" is forbidden: ValidatingAdmissionPolicy 'plumbline.shop.apps.guard' with binding 'plumbline.shop.apps.guard-scale' denied request: " + msg, false},
		{"the HPA edits the spec", admission.Update, managed, "", &user.DefaultInfo{Name: "system:serviceaccount:kube-system:horizontal-pod-autoscaler"}, denied, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gvk := tc.obj.GroupVersionKind()
			req := vapeval.Request{Operation: tc.op, OldObject: tc.obj, Namespace: tc.obj.GetNamespace(), Name: tc.obj.GetName(),
				Kind: gvk, Resource: deployments, SubResource: tc.sub, User: tc.user, DryRun: tc.dryRun}
			if tc.op == admission.Update {
				req.Object = tc.obj
			}
			res := ev.Admit(context.Background(), req)
			got := ""
			if res.Err != nil {
				got = res.Err.Error()
			}
			if diff := cmp.Diff(tc.denied, got); diff != "" {
				t.Errorf("admission (-want +got):\n%s", diff)
			}
		})
	}
}
