package reconciler

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/plumbline/plumbline/report"
)

func TestClusterScopedOrphansOfDeclaredKinds(t *testing.T) {
	s := newScenario(t, "nginx-story")
	rules := []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}
	reader := &rbacv1.ClusterRole{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: s.namespace + "-reader"},
		Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}
	objs := append(s.objects, toObject(t, reader, "rbac.yaml"))
	s.apply(objs)
	// As `kubectl create clusterrole backdoor --verb='*' --resource='*'` makes it; a component's
	// own system: role and another chart's role, installed by Helm; one made by hand and labelled
	// as Helm's; and the role of another source, applied the Plumbline way.
	made := []struct {
		name, manager string
		labels        map[string]string
	}{
		{"backdoor-" + s.namespace, "kubectl-create", nil},
		{"system:component-" + s.namespace, "helm", nil},
		{"chart-" + s.namespace, "helm", map[string]string{LabelManagedBy: "Helm"}},
		{"disguised-" + s.namespace, "kubectl-create", map[string]string{LabelManagedBy: "Helm"}},
	}
	names := []string{reader.Name, "other-source-" + s.namespace}
	for _, m := range made {
		cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: m.name, Labels: m.labels}, Rules: rules}
		if _, err := env.Clientset.RbacV1().ClusterRoles().Create(s.ctx, cr, metav1.CreateOptions{FieldManager: m.manager}); err != nil {
			t.Fatal(err)
		}
		names = append(names, m.name)
	}
	t.Cleanup(func() {
		for _, name := range names {
			if err := env.Clientset.RbacV1().ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
				t.Error(err)
			}
		}
	})
	otherRole := reader.DeepCopy()
	otherRole.Name = "other-source-" + s.namespace
	if err := s.c.Apply(s.ctx, []*unstructured.Unstructured{toObject(t, otherRole, "other.yaml").Object}, ApplyOptions{SourceName: "other-" + s.source}); err != nil {
		t.Fatal(err)
	}

	r := s.diff(objs)
	want := []extra{
		{"ClusterRole", "", "backdoor-" + s.namespace, report.ReasonNotInGit},
		{"ClusterRole", "", "disguised-" + s.namespace, report.ReasonNotInGit},
	}
	if d := cmp.Diff(want, extrasOf(t, r)); d != "" {
		t.Fatalf("extra findings (-want +got):\n%s", d)
	}
	if msg := r.Findings[0].Message; !strings.HasPrefix(msg, "Not declared in Git: created in the cluster by kubectl-create at ") {
		t.Errorf("message = %q", msg)
	}
	// The control plane's roles were there to be found: bootstrap, aggregated and system: ones.
	roles, err := env.Clientset.RbacV1().ClusterRoles().List(s.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var admin, bootstrap bool
	for _, cr := range roles.Items {
		admin = admin || (cr.Name == "admin" && cr.AggregationRule != nil)
		bootstrap = bootstrap || cr.Labels["kubernetes.io/bootstrapping"] == "rbac-defaults"
	}
	if !admin || !bootstrap || len(roles.Items) < 50 {
		t.Errorf("the cluster lacks the control plane's ClusterRoles (%d roles, admin %v, bootstrap %v)", len(roles.Items), admin, bootstrap)
	}
}

func TestUnreadableInventoryFallsBackToTheLabel(t *testing.T) {
	s := newScenario(t, "nginx-story")
	s.createConfigMap(s.namespace, "left-behind", "kubectl-create", map[string]string{LabelSource: s.source})
	// A developer who may do anything in the namespace and list anything anywhere, but not read
	// ConfigMaps in plumbline-system.
	user := "dev-" + s.namespace
	rbac := env.Clientset.RbacV1()
	listAll := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user + "-list"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"list"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}}
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	if _, err := rbac.ClusterRoles().Create(s.ctx, listAll, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if err := errors.Join(rbac.ClusterRoles().Delete(ctx, listAll.Name, metav1.DeleteOptions{}),
			rbac.ClusterRoleBindings().Delete(ctx, listAll.Name, metav1.DeleteOptions{})); err != nil {
			t.Error(err)
		}
	})
	if _, err := rbac.ClusterRoleBindings().Create(s.ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: listAll.Name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: listAll.Name}, Subjects: subject}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.RoleBindings(s.namespace).Create(s.ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dev"},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"}, Subjects: subject}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	dev, err := NewCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.inventoryStore().Load(s.ctx, s.source); !apierrors.IsForbidden(err) {
		t.Fatalf("the developer reads the inventory: %v", err)
	}

	opts := DefaultDiffOptions()
	opts.SourceName = s.source
	var r *report.Report
	eventually(t, "the developer's RBAC in effect", func(ctx context.Context) (bool, error) {
		var err error
		r, err = dev.Diff(ctx, s.objects, opts)
		return err == nil && len(r.Errors) == 0, err
	})
	want := []extra{{"ConfigMap", s.namespace, "left-behind", report.ReasonPrunedFromGit}}
	if d := cmp.Diff(want, extrasOf(t, r)); d != "" {
		t.Errorf("extra findings (-want +got):\n%s", d)
	}
}

// labelListCounter counts the requests that list objects by the ownership label.
type labelListCounter struct {
	n  *atomic.Int64
	rt http.RoundTripper
}

func (c labelListCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Query().Get("labelSelector"), LabelSource) {
		c.n.Add(1)
	}
	return c.rt.RoundTrip(r)
}

func TestDiffWithAnInventoryListsNoResourceByLabel(t *testing.T) {
	s := newScenario(t, "nginx-story")
	var lists atomic.Int64
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return labelListCounter{&lists, rt} }
	c, err := NewCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultDiffOptions()
	opts.SourceName = s.source
	if _, err := c.Diff(s.ctx, s.objects, opts); err != nil {
		t.Fatal(err)
	}
	if n := lists.Load(); n != 0 {
		t.Errorf("with an inventory, diff listed %d resources by the label", n)
	}
	s.dropInventory()
	if _, err := c.Diff(s.ctx, s.objects, opts); err != nil {
		t.Fatal(err)
	}
	if n := lists.Load(); n < 20 {
		t.Errorf("without an inventory, diff listed only %d resources by the label, want every one", n)
	}
}

// crd returns a CustomResourceDefinition of a namespaced kind in group.
func crd(group, plural, kind string) *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group, Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: plural, Kind: kind},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: ptr.To(true)}}}},
		},
	}
}

func TestCRDsAreNotOrphans(t *testing.T) {
	s := newScenario(t, "nginx-story")
	group := s.namespace + ".example.com"
	declared, byHand := crd(group, "gadgets", "Gadget"), crd(group, "gizmos", "Gizmo")
	objs := append(s.objects, toObject(t, declared, "crds.yaml"))
	s.apply(objs)
	crds := dynamicCRDs(t)
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(byHand)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crds.Create(s.ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{FieldManager: "kubectl-create"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, name := range []string{declared.Name, byHand.Name} {
			if err := crds.Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
				t.Error(err)
			}
		}
	})
	// Only the Extra findings: comparing a CRD is the diff's business.
	for _, f := range s.diff(objs).Findings {
		if f.Type == report.Extra {
			t.Errorf("extra finding %+v: a CRD extends the API, it is no orphan", f)
		}
	}
}

func dynamicCRDs(t *testing.T) dynamic.ResourceInterface {
	t.Helper()
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return dyn.Resource(apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions"))
}
