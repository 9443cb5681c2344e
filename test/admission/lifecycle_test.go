package admission

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	utilptr "k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/test/gitserver"
)

var installCRD = sync.OnceValue(func() error {
	_, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{"../../deploy/crd"}, ErrorIfPathMissing: true})
	return err
})

const lifecycleDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.example.com/web:1.0
        securityContext: {allowPrivilegeEscalation: false}
`

const teamPolicy = `apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
metadata: {name: apps}
spec:
  policies:
  - name: team-label
    match: {kinds: [Deployment]}
    validations:
    - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
      message: "Every Deployment names its team."
`

// startController runs Plumbline's controller for the Sources of ns, as the test's admin.
func startController(t *testing.T, ns string) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: utilptr.To(true)},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}, DefaultTransform: reconciler.StripForDiff},
		Client:     client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := reconciler.WhoAmI(t.Context(), env.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := guardConfig()
	cfg.Identity = id
	ctl, err := reconciler.NewController(mgr.GetClient(), env.Config, reconciler.ControllerOptions{
		GitCacheDir: t.TempDir(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("plumbline"),
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), Admission: cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.SetupWithManager(mgr, 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// inForce lists the policies (by rule) and the bindings' actions of the Source of ns.
func inForce(t *testing.T, ns string) (rules []string, actions []string) {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: reconciler.LabelAdmissionFor + "=" + ns + ".apps"}
	api := env.Clientset.AdmissionregistrationV1()
	ps, err := api.ValidatingAdmissionPolicies().List(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps.Items {
		rules = append(rules, p.Annotations["plumbline.dev/rule"])
	}
	bs, err := api.ValidatingAdmissionPolicyBindings().List(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs.Items {
		for _, a := range b.Spec.ValidationActions {
			actions = append(actions, string(a))
		}
	}
	slices.Sort(rules)
	slices.Sort(actions)
	return slices.Compact(rules), slices.Compact(actions)
}

// TestLifecycle: the controller keeps a Source's policies in sync with spec.prevent and the
// policy file, keeps the last good ones through a render error and through a rule the API
// server refuses (naming the rule and the server's message), and removes them with the Source.
func TestLifecycle(t *testing.T) {
	if err := installCRD(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns, err := env.NewNamespace(ctx, "lifecycle")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // in case the test fails before the Source is deleted
		sel := metav1.ListOptions{LabelSelector: reconciler.LabelAdmissionFor + "=" + ns + ".apps"}
		_ = env.Clientset.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().DeleteCollection(context.Background(), metav1.DeleteOptions{}, sel)
		_ = env.Clientset.AdmissionregistrationV1().ValidatingAdmissionPolicies().DeleteCollection(context.Background(), metav1.DeleteOptions{}, sel)
	})
	repo := gitserver.NewRepo(t, map[string]string{"deploy/web.yaml": lifecycleDeployment, "policy.yaml": teamPolicy})
	c := startController(t, ns)
	src := &v1alpha1.Source{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "apps"}, Spec: v1alpha1.SourceSpec{
		Repo: "file://" + repo, Ref: "main", Path: "deploy", Policy: "policy.yaml", BlockSeverity: "critical",
		Interval: &metav1.Duration{Duration: time.Second}, Prevent: v1alpha1.PreventDeny,
	}}
	if err := c.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(src)
	wait := func(what string, cond func(rules, actions []string, src *v1alpha1.Source) bool) {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for {
			var s v1alpha1.Source
			if err := c.Get(ctx, key, &s); err != nil {
				t.Fatal(err)
			}
			rules, actions := inForce(t, ns)
			if cond(rules, actions, &s) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s; rules %v actions %v conditions %+v", what, rules, actions, s.Status.Conditions)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	prevented := func(s *v1alpha1.Source) *metav1.Condition {
		return apimeta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionPrevented)
	}
	baseline := []string{"disallow-host-namespaces-and-paths", "disallow-latest-tag", "disallow-privileged", "guard",
		"require-read-only-root-fs", "require-resource-limits", "run-as-non-root", "team-label"}
	wait("deny policies in force", func(rules, actions []string, s *v1alpha1.Source) bool {
		return slices.Equal(rules, baseline) && slices.Equal(actions, []string{"Deny"}) &&
			prevented(s) != nil && prevented(s).Status == metav1.ConditionTrue
	})

	// spec.prevent: deny → warn updates the bindings.
	var s v1alpha1.Source
	if err := c.Get(ctx, key, &s); err != nil {
		t.Fatal(err)
	}
	s.Spec.Prevent = v1alpha1.PreventWarn
	if err := c.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
	wait("bindings in warn", func(rules, actions []string, _ *v1alpha1.Source) bool {
		return slices.Equal(rules, baseline) && slices.Equal(actions, []string{"Warn"})
	})

	// The policy file gains a rule: a policy appears.
	gitserver.Commit(t, repo, map[string]string{"policy.yaml": teamPolicy + `  - name: owner-label
    validations:
    - expression: "has(object.metadata.labels) && 'owner' in object.metadata.labels"
`}, "owner label")
	withOwner := slices.Sorted(slices.Values(append(slices.Clone(baseline), "owner-label")))
	wait("the new rule in force", func(rules, _ []string, _ *v1alpha1.Source) bool { return slices.Equal(rules, withOwner) })

	// A render error keeps the last good policies.
	gitserver.Commit(t, repo, map[string]string{"policy.yaml": "apiVersion: plumbline.dev/v1alpha1\nkind: PolicySet\nspec: {policies: [{name: x}]\n"}, "broken")
	wait("the Source reports the broken policy file", func(_ []string, _ []string, s *v1alpha1.Source) bool {
		r := apimeta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady)
		return r != nil && r.Status == metav1.ConditionFalse
	})
	if rules, _ := inForce(t, ns); !slices.Equal(rules, withOwner) {
		t.Fatalf("after a render error the policies are %v, want the last good %v", rules, withOwner)
	}

	// A rule that compiles in Plumbline but that the API server refuses: reported with its
	// name and the server's message; nothing changes.
	gitserver.Commit(t, repo, map[string]string{"policy.yaml": teamPolicy + `  - name: newer-cel
    validations:
    - expression: "[1, 2].includes(1)"
`}, "a 1.37 list function")
	wait("the refused rule is reported", func(_ []string, _ []string, s *v1alpha1.Source) bool {
		p := prevented(s)
		return p != nil && p.Status == metav1.ConditionFalse && p.Reason == "PolicyRefused"
	})
	if err := c.Get(ctx, key, &s); err != nil {
		t.Fatal(err)
	}
	msg := prevented(&s).Message
	if !strings.Contains(msg, "rule newer-cel") || !strings.Contains(msg, "includes") {
		t.Errorf("Prevented message %q does not name the rule and the server's complaint", msg)
	}
	if rules, _ := inForce(t, ns); !slices.Equal(rules, withOwner) {
		t.Fatalf("after a refused rule the policies are %v, want the last good %v", rules, withOwner)
	}

	// Deleting the Source removes its policies, then the Source.
	if err := c.Delete(ctx, &s); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(45 * time.Second)
	for {
		rules, actions := inForce(t, ns)
		err := c.Get(ctx, key, &v1alpha1.Source{})
		if len(rules) == 0 && len(actions) == 0 && apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after deleting the Source: policies %v bindings %v, Source get: %v", rules, actions, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
