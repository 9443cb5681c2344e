package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/test/cluster"
	"github.com/plumbline/plumbline/test/gitserver"
)

// requestCounter counts the controller's API requests by verb and resource path.
type requestCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen map[string]int
}

func (c *requestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	key := req.Method + " " + resourceOf(req.URL.Path)
	if req.URL.Query().Get("dryRun") != "" {
		key += " (dry run)"
	}
	if req.URL.Query().Get("watch") == "true" {
		key += " (watch)"
	}
	c.mu.Lock()
	c.seen[key]++
	if c.seen[key] <= 2 && os.Getenv("PLUMBLINE_BENCH_URLS") != "" {
		fmt.Fprintln(os.Stderr, "REQUEST", key, req.URL.String())
	}
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

// resourceOf cuts a request path to its resource: /api/v1/namespaces/x/configmaps/y → configmaps.
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i < len(parts); i++ {
		if parts[i] == "namespaces" && i+2 < len(parts) {
			return parts[i+2]
		}
	}
	if len(parts) >= 3 && parts[0] == "api" {
		return parts[2]
	}
	if len(parts) >= 4 && parts[0] == "apis" {
		return parts[3]
	}
	return path
}

func (c *requestCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.seen
	c.seen = map[string]int{}
	return out
}

// latencyNotifier records when each object's incident was told.
type latencyNotifier struct {
	mu     sync.Mutex
	opened map[string]time.Time
}

func (l *latencyNotifier) Notify(_ context.Context, n reconciler.Notification) error {
	if n.Event != reconciler.EventOpened {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, inc := range n.Incidents {
		if inc.Type != "Modified" {
			continue
		}
		if _, ok := l.opened[inc.Object.String()]; !ok {
			l.opened[inc.Object.String()] = time.Now()
		}
	}
	return nil
}

func (l *latencyNotifier) at(obj string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.opened[obj]
	return t, ok
}

var (
	benchSources    = envInt("PLUMBLINE_BENCH_SOURCES", 10)
	benchConfigMaps = 300
	benchServices   = 100
	benchWorkloads  = 100
)

func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err == nil && n > 0 {
		return n
	}
	return def
}

// sourceTree is one Source's repository: ConfigMaps, headless Services and Deployments scaled
// to zero (no Pods), pinned by digest and hardened, so that no image or policy finding shows.
func sourceTree(version int) map[string]string {
	var cms, svcs, deps strings.Builder
	for i := range benchConfigMaps {
		fmt.Fprintf(&cms, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-%03d\ndata:\n  version: \"%d\"\n  key: value-%d\n", i, version, i)
	}
	for i := range benchServices {
		fmt.Fprintf(&svcs, "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-%03d\nspec:\n  clusterIP: None\n  selector: {app: app-%03d}\n  ports:\n  - port: 80\n", i, i)
	}
	for i := range benchWorkloads {
		fmt.Fprintf(&deps, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%03d
spec:
  replicas: 0
  selector: {matchLabels: {app: app-%03d}}
  template:
    metadata: {labels: {app: app-%03d}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 101}
      containers:
      - name: app
        image: registry.example.com/app@sha256:2f1cd90e00fe2c991e18272bb35d6a8258eeb27785d121aa4cc1ae4235167cfd
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
        resources:
          requests: {cpu: 10m, memory: 16Mi}
          limits: {memory: 32Mi}
`, i, i, i)
	}
	return map[string]string{"configmaps.yaml": cms.String(), "services.yaml": svcs.String(), "deployments.yaml": deps.String()}
}

func rss() (peak, now string) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?", "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "VmHWM:"):
			peak = strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		case strings.HasPrefix(l, "VmRSS:"):
			now = strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
		}
	}
	return peak, now
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkControllerSteadyState runs the controller in-process over 10 Sources of 500 objects
// each (5,000 managed objects) on the real API server with kube-controller-manager, and
// measures: the initial sync; API requests, CPU and memory over 2 minutes of steady state; the
// latency from 100 out-of-band edits to the notifier; and the requests of a commit that changes
// 10 of the 5,000 objects.
//
//	go test -run '^$' -bench ControllerSteadyState -benchtime 1x -timeout 30m ./test/bench/
func BenchmarkControllerSteadyState(b *testing.B) {
	observe := 2 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("PLUMBLINE_BENCH_OBSERVE")); err == nil {
		observe = d
	}
	env, err := cluster.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			b.Error(err)
		}
	}()
	ctx := context.Background()
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{"../../deploy/crd"}, ErrorIfPathMissing: true}); err != nil {
		b.Fatal(err)
	}
	counter := &requestCounter{seen: map[string]int{}}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter })
	scheme := kruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		b.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		b.Fatal(err)
	}
	system, err := env.NewNamespace(ctx, "plumbline-system")
	if err != nil {
		b.Fatal(err)
	}
	ctrl.SetLogger(logr.Discard())
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		LeaderElection: true, LeaderElectionID: "plumbline-bench", LeaderElectionNamespace: system,
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		Cache:  cache.Options{DefaultTransform: reconciler.StripForDiff},
	})
	if err != nil {
		b.Fatal(err)
	}
	notes := &latencyNotifier{opened: map[string]time.Time{}}
	ctl, err := reconciler.NewController(mgr.GetClient(), cfg, reconciler.ControllerOptions{
		GitCacheDir: b.TempDir(), Notifier: notes, APIReader: mgr.GetAPIReader(),
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := ctl.SetupWithManager(mgr, 4); err != nil {
		b.Fatal(err)
	}
	admin, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	repos := make([]string, benchSources)
	keys := make([]types.NamespacedName, benchSources)
	for i := range benchSources {
		ns, err := env.NewNamespace(ctx, fmt.Sprintf("bench-%02d", i))
		if err != nil {
			b.Fatal(err)
		}
		repos[i] = gitserver.NewRepo(b, sourceTree(1))
		keys[i] = types.NamespacedName{Namespace: ns, Name: "apps"}
		src := &v1alpha1.Source{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "apps"}, Spec: v1alpha1.SourceSpec{
			Repo: "file://" + repos[i], Ref: "main", Interval: &metav1.Duration{Duration: 30 * time.Second},
			Mode: v1alpha1.ModeSpec{Default: v1alpha1.ModeRevert},
		}}
		if err := admin.Create(ctx, src); err != nil {
			b.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(runCtx) }()
	defer func() {
		stop()
		<-done
	}()

	start := time.Now()
	waitSynced := func(timeout time.Duration) {
		deadline := time.Now().Add(timeout)
		for {
			ready := 0
			for _, k := range keys {
				var src v1alpha1.Source
				if err := admin.Get(ctx, k, &src); err != nil {
					b.Fatal(err)
				}
				for _, c := range src.Status.Conditions {
					if c.Type == v1alpha1.ConditionReady && c.Status == metav1.ConditionTrue && len(src.Status.Incidents) == 0 && src.Status.LastAppliedRevision != "" {
						ready++
					}
				}
			}
			if ready == len(keys) {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("after %s only %d of %d Sources are in sync", timeout, ready, len(keys))
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	waitSynced(10 * time.Minute)
	initial := counter.take()
	b.Logf("initial sync of %d objects in %d Sources: %s, %d requests", benchSources*(benchConfigMaps+benchServices+benchWorkloads), benchSources, time.Since(start).Round(time.Millisecond), total(initial, ""))
	// kube-controller-manager keeps writing the Deployments for a while after they are created
	// (the revision annotation): a change the controller must look at. Steady state begins when
	// no pass has run for 20 s.
	passes := func() uint64 {
		var m dto.Metric
		if err := ctl.Metrics().ReconcileSeconds.Write(&m); err != nil {
			b.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	settleStart, last, quietSince := time.Now(), passes(), time.Now()
	for time.Since(quietSince) < 20*time.Second {
		time.Sleep(time.Second)
		if n := passes(); n != last {
			last, quietSince = n, time.Now()
		}
		if time.Since(settleStart) > 10*time.Minute {
			b.Fatal("the controller never settled")
		}
	}
	b.Logf("settled %s after the initial sync (the controllers' writes on the new objects)", time.Since(settleStart).Round(time.Second))
	counter.take()
	runtime.GC()

	cpu0, t0 := cpuTime(), time.Now()
	if os.Getenv("PLUMBLINE_DEBUG_PASS") != "" {
		fmt.Fprintln(os.Stderr, "OBSERVE from", t0.Format("15:04:05.000"))
	}
	if f := os.Getenv("PLUMBLINE_BENCH_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			b.Fatal(err)
		}
		defer out.Close()
		time.Sleep(observe)
		pprof.StopCPUProfile()
	} else {
		time.Sleep(observe)
	}
	cpu, wall := cpuTime()-cpu0, time.Since(t0)
	steady := counter.take()
	peak, now := rss()
	b.Logf("steady state over %s: %d API requests besides the Lease (%d Lease requests): %s", wall.Round(time.Second), total(steady, "leases"), steady["PUT leases"]+steady["GET leases"], describe(steady))
	b.Logf("steady state CPU %.2f%% of one core (%s in %s); RSS %s now, %s peak", 100*cpu.Seconds()/wall.Seconds(), cpu.Round(time.Millisecond), wall.Round(time.Second), now, peak)
	b.ReportMetric(float64(total(steady, "leases")), "requests/steady")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu%")

	// 100 out-of-band edits, one at a time, each reverted before the next.
	var lat []time.Duration
	for i := range 100 {
		k := keys[i%benchSources]
		name := fmt.Sprintf("config-%03d", i)
		patch := client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"data":{"key":"edited-%d"}}`, i)))
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: name}}
		edited := time.Now()
		if err := admin.Patch(ctx, cm, patch, client.FieldOwner("kubectl-edit")); err != nil {
			b.Fatal(err)
		}
		obj := "ConfigMap/" + k.Namespace + "/" + name
		deadline := time.Now().Add(30 * time.Second)
		for {
			if at, ok := notes.at(obj); ok {
				lat = append(lat, at.Sub(edited))
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("edit %d of %s never told", i, obj)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	slices.Sort(lat)
	b.Logf("detection latency over %d edits: p50 %s, p90 %s, p99 %s, max %s", len(lat),
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*9/10].Round(time.Millisecond), lat[len(lat)*99/100].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
	waitSynced(2 * time.Minute)
	time.Sleep(5 * time.Second)
	counter.take()

	// A commit that changes 10 ConfigMaps of one Source.
	tree := sourceTree(1)
	lines := strings.Split(tree["configmaps.yaml"], "\n")
	changed := 0
	for j, l := range lines {
		if strings.HasPrefix(l, "  key: value-") && changed < 10 {
			lines[j] = l + "-v2"
			changed++
		}
	}
	sha := gitserver.Commit(b, repos[0], map[string]string{"configmaps.yaml": strings.Join(lines, "\n")}, "change 10")
	commitAt := time.Now()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var src v1alpha1.Source
		if err := admin.Get(ctx, keys[0], &src); err != nil {
			b.Fatal(err)
		}
		if src.Status.LastAppliedRevision == sha && len(src.Status.Incidents) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the commit was not applied")
		}
		time.Sleep(200 * time.Millisecond)
	}
	commit := counter.take()
	b.Logf("a commit changing 10 of %d objects: applied %s after it was made; requests: %s", benchSources*(benchConfigMaps+benchServices+benchWorkloads), time.Since(commitAt).Round(time.Millisecond), describe(commit))
	b.ReportMetric(float64(commit["PATCH configmaps"]), "applies/commit")
	b.ReportMetric(float64(commit["PATCH configmaps (dry run)"]), "dryruns/commit")
}

func total(m map[string]int, except string) int {
	n := 0
	for k, v := range m {
		if except == "" || !strings.Contains(k, except) {
			n += v
		}
	}
	return n
}

func describe(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
