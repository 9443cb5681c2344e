package activity

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/go-logr/logr"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/report"
	"github.com/plumbline/plumbline/test/gitserver"
)

var installCRD = sync.OnceValue(func() error {
	_, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{"../../deploy/crd"}, ErrorIfPathMissing: true})
	return err
})

// notes records every notification.
type notes struct {
	mu  sync.Mutex
	all []reconciler.Notification
	at  []time.Time
}

func (n *notes) Notify(_ context.Context, x reconciler.Notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	// What the notifier was told then: later passes update the incidents it points at.
	incs := make([]*report.Incident, len(x.Incidents))
	for i, inc := range x.Incidents {
		c := *inc
		c.Findings = slices.Clone(inc.Findings)
		incs[i] = &c
	}
	x.Incidents = incs
	n.all = append(n.all, x)
	n.at = append(n.at, time.Now())
	return nil
}

// opened returns the incidents opened so far of a finding type.
func (n *notes) opened(t string) []reconcilerIncident {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []reconcilerIncident
	for _, x := range n.all {
		if x.Event != reconciler.EventOpened {
			continue
		}
		for _, inc := range x.Incidents {
			if string(inc.Type) == t {
				out = append(out, reconcilerIncident{inc.Findings[0].Message, inc.Findings[0], inc.Object.Name})
			}
		}
	}
	return out
}

func (n *notes) of(ev reconciler.Event) []reconciler.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []reconciler.Notification
	for _, x := range n.all {
		if x.Event == ev {
			out = append(out, x)
		}
	}
	return out
}

func (n *notes) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var b strings.Builder
	for _, x := range n.all {
		fmt.Fprintf(&b, "%s %s", x.Event, x.Detail)
		for _, inc := range x.Incidents {
			fmt.Fprintf(&b, " [%s %s", inc.Type, inc.Object.Name)
			if len(inc.Findings) > 0 {
				fmt.Fprintf(&b, ": %s", inc.Findings[0].Message)
			}
			b.WriteString("]")
		}
		b.WriteString("\n")
	}
	return b.String()
}

type reconcilerIncident struct {
	message string
	finding any
	object  string
}

// breakGlass is the group the guard lets through.
const breakGlass = "platform:break-glass"

// scene is one test's namespace, Git repository of testdata/web.yaml, Source and controller.
type scene struct {
	t      testing.TB
	ns     string
	client client.Client
	notes  *notes
	ctl    *reconciler.Controller
}

func newScene(t testing.TB, spec v1alpha1.SourceSpec) *scene {
	t.Helper()
	if err := installCRD(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ns, err := env.NewNamespace(ctx, "activity")
	if err != nil {
		t.Fatal(err)
	}
	tree := map[string]string{}
	for _, name := range []string{"kustomization.yaml", "web.yaml", "plumbline.lock.yaml"} {
		b, err := os.ReadFile("testdata/web/" + name)
		if err != nil {
			t.Fatal(err)
		}
		tree[name] = string(b)
	}
	repo := gitserver.NewRepo(t, tree)
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	s := &scene{t: t, ns: ns, client: c, notes: &notes{}}
	// The Deployment is in place, applied as a CD tool would.
	objs, err := manifests.Render(ctx, "testdata", "web", manifests.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := reconciler.NewCluster(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	var us []*unstructured.Unstructured
	for _, o := range objs {
		if o.Object.GetKind() == "Deployment" {
			us = append(us, o.Object)
		}
	}
	if err := cl.Apply(ctx, us, reconciler.ApplyOptions{SourceName: ns + ".apps", DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	spec.Repo, spec.Ref = "file://"+repo, "main"
	spec.Path = "."
	spec.Interval = &metav1.Duration{Duration: time.Minute}
	src := &v1alpha1.Source{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "apps"}, Spec: spec}
	if err := c.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	s.start(scheme)
	return s
}

func (s *scene) start(scheme *runtime.Scheme) {
	s.t.Helper()
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{s.ns: {}}, DefaultTransform: reconciler.StripForDiff},
		Client:     client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	id, err := reconciler.WhoAmI(s.t.Context(), env.Config)
	if err != nil {
		s.t.Fatal(err)
	}
	// A Source with spec.prevent gets the guard: the controller, the test control plane's
	// kube-controller-manager (it runs as admin) and the break-glass group pass it.
	guard := reconciler.AdmissionConfig{Identity: id, Users: []string{"admin"}, BreakGlassGroups: []string{breakGlass}, ScaleUsers: reconciler.DefaultScaleUsers()}
	s.ctl, err = reconciler.NewController(mgr.GetClient(), env.Config, reconciler.ControllerOptions{
		GitCacheDir: s.t.TempDir(), Notifier: s.notes, APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("plumbline"),
		Log:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Activity: &reconciler.ActivityOptions{Stream: receiver}, Admission: guard,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.ctl.SetupWithManager(mgr, 2); err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	s.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			s.t.Errorf("manager: %v", err)
		}
	})
	s.eventually(60*time.Second, "the Source is ready", func() bool {
		var src v1alpha1.Source
		if err := s.client.Get(s.t.Context(), client.ObjectKey{Namespace: s.ns, Name: "apps"}, &src); err != nil {
			return false
		}
		for _, c := range src.Status.Conditions {
			if c.Type == v1alpha1.ConditionReady && c.Status == metav1.ConditionTrue && src.Status.ObservedGeneration == src.Generation {
				return true
			}
		}
		return false
	})
}

func (s *scene) eventually(d time.Duration, what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: not within %s; notifications:\n%s", what, d, s.notes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// user adds a user with a client certificate, bound in the scene's namespace to the ClusterRole
// edit and to a Role that may add debug containers, and returns its kubeconfig.
func (s *scene) user(name string, groups ...string) string {
	s.t.Helper()
	kubeconfig, _, err := env.AddUser(name, groups)
	if err != nil {
		s.t.Fatal(err)
	}
	s.bind(name)
	return kubeconfig
}

// bind gives a user edit, and debug containers, in the scene's namespace.
func (s *scene) bind(name string) {
	s.t.Helper()
	ctx := s.t.Context()
	cs := env.Clientset
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "debug-" + name, Namespace: s.ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods/ephemeralcontainers"}, Verbs: []string{"get", "patch", "update"}}}}
	if _, err := cs.RbacV1().Roles(s.ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		s.t.Fatal(err)
	}
	for _, rb := range []*rbacv1.RoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "edit-" + name, Namespace: s.ns}, RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "edit"},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: name}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "debug-" + name, Namespace: s.ns}, RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "debug-" + name},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: name}}},
	} {
		if _, err := cs.RbacV1().RoleBindings(s.ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			s.t.Fatal(err)
		}
	}
}

// kubectl runs kubectl with a kubeconfig in the scene's namespace and returns its output and
// exit error.
func (s *scene) kubectl(kubeconfig string, args ...string) (string, error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig, "-n", s.ns}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// pod waits for the Deployment's pod (kube-controller-manager makes it; nothing schedules it).
func (s *scene) pod() *corev1.Pod {
	s.t.Helper()
	var pod *corev1.Pod
	s.eventually(60*time.Second, "the Deployment's pod exists", func() bool {
		list, err := env.Clientset.CoreV1().Pods(s.ns).List(s.t.Context(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil || len(list.Items) == 0 {
			return false
		}
		pod = &list.Items[0]
		return true
	})
	return pod
}

// postFalco posts a Falco sample with the namespace and pod filled in, with the token.
func postFalco(t testing.TB, sample, namespace, pod string) {
	t.Helper()
	b, err := os.ReadFile("testdata/falco/" + sample)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("NAMESPACE"), []byte(namespace)), []byte(`"POD"`), []byte(`"`+pod+`"`))
	b = bytes.ReplaceAll(b, []byte("k8s_pod_name=POD"), []byte("k8s_pod_name="+pod))
	code, body := postEvents(t, "/falco", eventsToken, b)
	if code != http.StatusOK {
		t.Fatalf("POST /falco %s: %d %s", sample, code, body)
	}
}

func postEvents(t testing.TB, path, token string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, eventsURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := eventsClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String()
}

var eventsClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: nil}}}

func init() {
	eventsClient.Transport = &lazyTransport{}
}

// lazyTransport trusts the events CA, made in TestMain.
type lazyTransport struct {
	once sync.Once
	t    http.RoundTripper
}

func (l *lazyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	l.once.Do(func() {
		l.t = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: eventsCA}, MaxIdleConnsPerHost: 16}
	})
	return l.t.RoundTrip(r)
}

func readSample(name string) ([]byte, error) { return os.ReadFile("testdata/falco/" + name) }
