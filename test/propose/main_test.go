// Package propose tests the approval path end to end: the controller in propose mode, against
// a real API server (with kube-controller-manager), a real Gitea as the remote of the
// desired-state repository, and real pull requests.
package propose

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "code.gitea.io/sdk/gitea"
	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/notify"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/test/cluster"
	"github.com/plumbline/plumbline/test/gitea"
	"github.com/plumbline/plumbline/test/gitserver"
	"github.com/plumbline/plumbline/test/slackserver"
)

var (
	env *cluster.Cluster
	srv *gitea.Server
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	srv, err = gitea.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	return cluster.RunTests(m, &env)
}

var setLogger sync.Once

var installCRD = sync.OnceValue(func() error {
	_, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{"../../deploy/crd"}, ErrorIfPathMissing: true})
	return err
})

// notes keeps every notification.
type notes struct {
	mu  sync.Mutex
	all []reconciler.Notification
}

func (r *notes) Notify(_ context.Context, n reconciler.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, n)
	return nil
}

func (r *notes) of(ev reconciler.Event) []reconciler.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []reconciler.Notification
	for _, n := range r.all {
		if n.Event == ev {
			out = append(out, n)
		}
	}
	return out
}

func (r *notes) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, n := range r.all {
		fmt.Fprintf(&b, "%s %q", n.Event, n.Detail)
		for _, inc := range n.Incidents {
			fmt.Fprintf(&b, " [%s %s %s]", inc.Type, inc.Object, inc.State)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// scene is one test's namespace, Gitea repository (the Source's remote), Source and controller.
type scene struct {
	t        testing.TB
	ns       string
	repoName string
	cloneURL string
	local    string
	key      client.ObjectKey
	client   client.Client
	notes    *notes
	ctl      *reconciler.Controller
	gitea    *sdk.Client
	// images resolves tags when set, before start.
	images *images.Resolver
	// slack, when set before start, is the Slack the controller's notifier posts to (the
	// notifications still reach notes).
	slack *slackserver.Server
	// hookRate is the forge webhook endpoint's rate limit; 0: the default.
	hookRate rate.Limit
	// proposeTimeout is the controller's budget of forge I/O per pass; 0: the default.
	proposeTimeout time.Duration
	// stop ends the running controller.
	stop func()
}

// newScene pushes tree to a new Gitea repository, applies what dir renders to as a CD tool
// would, and creates the forge token Secret. It starts nothing: start does.
func newScene(t testing.TB, tree map[string]string, dir string) *scene {
	t.Helper()
	ctx := t.Context()
	if err := installCRD(); err != nil {
		t.Fatal(err)
	}
	ns, err := env.NewNamespace(ctx, "propose")
	if err != nil {
		t.Fatal(err)
	}
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
	s := &scene{t: t, ns: ns, repoName: ns, key: client.ObjectKey{Namespace: ns, Name: "apps"}, client: c, notes: &notes{}}
	s.cloneURL, err = srv.CreateRepo(ctx, s.repoName)
	if err != nil {
		t.Fatal(err)
	}
	s.local = gitserver.NewRepo(t, tree)
	s.push()
	if s.gitea, err = srv.Client(context.Background()); err != nil {
		t.Fatal(err)
	}
	objs, err := manifests.Render(ctx, s.local, dir, manifests.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := reconciler.NewCluster(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	us := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		us[i] = o.Object
	}
	if err := cl.Apply(ctx, us, reconciler.ApplyOptions{SourceName: ns + ".apps", DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	s.secret("forge", map[string]string{"token": srv.Token, "username": gitea.AdminUser})
	return s
}

func (s *scene) secret(name string, data map[string]string) {
	s.t.Helper()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name}, StringData: data}
	if err := s.client.Create(s.t.Context(), sec); err != nil {
		s.t.Fatal(err)
	}
}

// push pushes the local repository's main to Gitea.
func (s *scene) push() {
	s.t.Helper()
	repo, err := git.PlainOpen(s.local)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := repo.Remote("gitea"); err != nil {
		if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "gitea", URLs: []string{s.cloneURL}}); err != nil {
			s.t.Fatal(err)
		}
	}
	err = repo.Push(&git.PushOptions{RemoteName: "gitea", Auth: &githttp.BasicAuth{Username: gitea.AdminUser, Password: srv.Token},
		RefSpecs: []gitconfig.RefSpec{"+refs/heads/main:refs/heads/main"}})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		s.t.Fatal(err)
	}
}

// proposeSpec is a Source spec in propose mode for dir, polling every 2 s.
func (s *scene) proposeSpec(dir string) v1alpha1.SourceSpec {
	return v1alpha1.SourceSpec{
		Repo: s.cloneURL, Ref: "main", Path: dir, Interval: &metav1.Duration{Duration: 2 * time.Second},
		Mode:    v1alpha1.ModeSpec{Default: v1alpha1.ModePropose},
		Propose: &v1alpha1.ProposeSpec{Forge: "gitea", SecretRef: v1alpha1.LocalObjectReference{Name: "forge"}, InsecureHTTP: true, AuthorName: "Plumbline Bot", AuthorEmail: "bot@plumbline.test"},
	}
}

// start creates the Source and runs the controller until the test ends.
func (s *scene) start(spec v1alpha1.SourceSpec) {
	s.t.Helper()
	src := &v1alpha1.Source{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: s.key.Name}, Spec: spec}
	if err := s.client.Create(s.t.Context(), src); err != nil {
		s.t.Fatal(err)
	}
	s.stop = s.run()
	s.t.Cleanup(func() {
		if s.stop != nil {
			s.stop()
		}
	})
}

// run starts a manager with a new controller (as a restart does) and returns its stop.
func (s *scene) run() func() {
	s.t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			s.t.Fatal(err)
		}
	}
	setLogger.Do(func() {
		ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	})
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{s.ns: {}}, DefaultTransform: reconciler.StripForDiff},
		Client:     client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	s.ctl, err = reconciler.NewController(mgr.GetClient(), env.Config, reconciler.ControllerOptions{
		GitCacheDir: s.t.TempDir(), Notifier: s.notes, APIReader: mgr.GetAPIReader(), Images: s.images, ProposeTimeout: s.proposeTimeout,
		Log:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		RevertBackoff: reconciler.Backoff{Initial: 200 * time.Millisecond, Factor: 1.5, Cap: 2 * time.Second, Quiet: 10 * time.Second},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	if s.slack != nil {
		dyn, err := dynamic.NewForConfig(env.Config)
		if err != nil {
			s.t.Fatal(err)
		}
		sn, err := reconciler.NewSlackNotifier(mgr.GetClient(), mgr.GetAPIReader(), reconciler.NewSlackStore(dyn, s.ns), reconciler.SlackOptions{
			Notify: notify.Options{APIURL: s.slack.APIURL(), Rate: 50, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second},
			Also:   s.notes, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			s.t.Fatal(err)
		}
		s.ctl.UseSlack(sn)
		if err := mgr.Add(sn); err != nil {
			s.t.Fatal(err)
		}
	}
	if err := s.ctl.SetupWithManager(mgr, 2); err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			s.t.Errorf("manager: %v", err)
		}
	}
}

// eventually waits up to d for cond, and fails with what the notifier heard.
func (s *scene) eventually(d time.Duration, what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("after %s: %s\nnotifications:\n%s", d, what, s.notes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *scene) source() *v1alpha1.Source {
	s.t.Helper()
	var src v1alpha1.Source
	if err := s.client.Get(s.t.Context(), s.key, &src); err != nil {
		s.t.Fatal(err)
	}
	return &src
}

// pulls lists every pull request of the scene's repository, open or not.
func (s *scene) pulls() []*sdk.PullRequest {
	s.t.Helper()
	prs, _, err := s.gitea.ListRepoPullRequests(gitea.AdminUser, s.repoName, sdk.ListPullRequestsOptions{State: sdk.StateAll})
	if err != nil {
		s.t.Fatal(err)
	}
	return prs
}

// onePull waits for the first pull request to open and returns it.
func (s *scene) onePull() *sdk.PullRequest {
	s.t.Helper()
	s.eventually(60*time.Second, "a pull request opens", func() bool { return len(s.notes.of(reconciler.EventProposalOpened)) > 0 })
	prs := s.pulls()
	if len(prs) != 1 {
		s.t.Fatalf("%d pull requests, want 1", len(prs))
	}
	return prs[0]
}

// diffOf returns the unified diff of a pull request.
func (s *scene) diffOf(pr *sdk.PullRequest) string {
	s.t.Helper()
	b, _, err := s.gitea.GetPullRequestDiff(gitea.AdminUser, s.repoName, pr.Index, sdk.PullRequestDiffOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// changedLines returns the + and - lines of a unified diff, without the file headers.
func changedLines(diff string) []string {
	var out []string
	for _, l := range strings.Split(diff, "\n") {
		if strings.HasPrefix(l, "+++") || strings.HasPrefix(l, "---") {
			continue
		}
		if strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-") {
			out = append(out, l)
		}
	}
	return out
}

// changedFiles returns the b/ paths of a unified diff.
func changedFiles(diff string) []string {
	var out []string
	for _, l := range strings.Split(diff, "\n") {
		if rest, ok := strings.CutPrefix(l, "+++ b/"); ok {
			out = append(out, rest)
		}
	}
	return out
}

// kubectl runs the real kubectl in the scene's namespace.
func (s *scene) kubectl(args ...string) string {
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

// counterValue reads a counter.
func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
