package reconciler

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/test/gitserver"
)

var installCRD = sync.OnceValue(func() error {
	_, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{"../deploy/crd"}, ErrorIfPathMissing: true})
	return err
})

// recordingNotifier keeps every notification, for assertions.
type recordingNotifier struct {
	mu    sync.Mutex
	notes []Notification
}

func (r *recordingNotifier) Notify(_ context.Context, n Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, n)
	return nil
}

// of returns the notifications of one event.
func (r *recordingNotifier) of(ev Event) []Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Notification
	for _, n := range r.notes {
		if n.Event == ev {
			out = append(out, n)
		}
	}
	return out
}

func (r *recordingNotifier) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, n := range r.notes {
		fmt.Fprintf(&b, "%s %s", n.Event, n.Detail)
		for _, inc := range n.Incidents {
			fmt.Fprintf(&b, " [%s %s %s", inc.Type, inc.Object, inc.State)
			if len(inc.Findings) > 0 {
				fmt.Fprintf(&b, ": %s", inc.Findings[0].Message)
			}
			b.WriteString("]")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// controllerScene is one test's namespace, Git repository, Source and running controller.
type controllerScene struct {
	t      *testing.T
	ns     string
	repo   string
	key    client.ObjectKey
	client client.Client
	notes  *recordingNotifier
	stop   func()
}

// newControllerScene creates a namespace and a Git repository of testdata/<fixture>. It starts
// no controller: start does.
func newControllerScene(t *testing.T, fixture string) *controllerScene {
	t.Helper()
	if err := installCRD(); err != nil {
		t.Fatal(err)
	}
	ns, err := env.NewNamespace(t.Context(), fixture)
	if err != nil {
		t.Fatal(err)
	}
	tree := map[string]string{}
	root := filepath.Join("testdata", fixture)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(root, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		tree[e.Name()] = string(b)
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return &controllerScene{t: t, ns: ns, repo: gitserver.NewRepo(t, tree), key: client.ObjectKey{Namespace: ns, Name: "apps"},
		client: c, notes: &recordingNotifier{}}
}

// applyAsCD puts the fixture's objects in place as a CD tool would (Plumbline's own apply, with
// its ownership labels), before the controller watches them.
func (s *controllerScene) applyAsCD(fixture string) {
	s.t.Helper()
	objs, err := manifests.Render(s.t.Context(), "testdata", fixture, manifests.DefaultOptions())
	if err != nil {
		s.t.Fatal(err)
	}
	c, err := NewCluster(env.Config)
	if err != nil {
		s.t.Fatal(err)
	}
	us := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		us[i] = o.Object
	}
	if err := c.Apply(s.t.Context(), us, ApplyOptions{SourceName: sourceLabel(s.key), DefaultNamespace: s.ns}); err != nil {
		s.t.Fatal(err)
	}
}

// createSource creates the Source for the scene's repository.
func (s *controllerScene) createSource(spec v1alpha1.SourceSpec) {
	s.t.Helper()
	spec.Repo = "file://" + s.repo
	spec.Ref = "main"
	if spec.Interval == nil {
		spec.Interval = &metav1.Duration{Duration: time.Minute}
	}
	src := &v1alpha1.Source{ObjectMeta: metav1.ObjectMeta{Namespace: s.key.Namespace, Name: s.key.Name}, Spec: spec}
	if err := s.client.Create(s.t.Context(), src); err != nil {
		s.t.Fatal(err)
	}
}

// start runs a manager with the controller, its cache bounded to the scene's namespace so
// that tests do not see each other's Sources. It returns once the manager runs; stop ends it.
func (s *controllerScene) start() { s.startAs(env.Config) }

// startAs runs the controller with cfg's identity.
func (s *controllerScene) startAs(cfg *rest.Config) {
	s.t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			s.t.Fatal(err)
		}
	}
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{s.ns: {}}, DefaultTransform: StripForDiff},
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	ctl, err := NewController(mgr.GetClient(), cfg, ControllerOptions{
		GitCacheDir: s.t.TempDir(), Notifier: s.notes, APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("plumbline"),
		RevertBackoff: Backoff{Initial: 200 * time.Millisecond, Factor: 1.5, Cap: 2 * time.Second, Quiet: 10 * time.Second},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	if err := ctl.SetupWithManager(mgr, 2); err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	s.stop = func() {
		cancel()
		if err := <-done; err != nil {
			s.t.Errorf("manager: %v", err)
		}
		s.stop = nil
	}
	s.t.Cleanup(func() {
		if s.stop != nil {
			s.stop()
		}
	})
}

// source reads the Source.
func (s *controllerScene) source() *v1alpha1.Source {
	s.t.Helper()
	var src v1alpha1.Source
	if err := s.client.Get(s.t.Context(), s.key, &src); err != nil {
		s.t.Fatal(err)
	}
	return &src
}

// eventually waits up to d for cond, and fails with what the notifier heard.
func (s *controllerScene) eventually(d time.Duration, what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("after %s: %s\nnotifications:\n%s", d, what, s.notes)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ready waits for the Source to be Ready=True with the given count of open incidents.
func (s *controllerScene) ready(incidents int) *v1alpha1.Source {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		src := s.source()
		c := findCondition(src, v1alpha1.ConditionReady)
		if c != nil && c.Status == metav1.ConditionTrue && len(src.Status.Incidents) == incidents {
			return src
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("after 30s: no Source Ready with %d incidents; status %+v\nnotifications:\n%s", incidents, src.Status, s.notes)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func findCondition(src *v1alpha1.Source, t string) *metav1.Condition {
	for i := range src.Status.Conditions {
		if src.Status.Conditions[i].Type == t {
			return &src.Status.Conditions[i]
		}
	}
	return nil
}

// kubectl runs the real kubectl against the test API server.
func (s *controllerScene) kubectl(args ...string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"-n", s.ns}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// openedMessages returns the finding messages of every opened incident.
func openedMessages(n []Notification) []string {
	var out []string
	for _, x := range n {
		for _, inc := range x.Incidents {
			for _, f := range inc.Findings {
				out = append(out, string(f.Type)+": "+f.Message)
			}
		}
	}
	return out
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}

// readFixtureText returns one file of testdata/<fixture>.
func readFixtureText(t *testing.T, fixture, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", fixture, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
