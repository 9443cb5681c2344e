package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/reconciler"
)

type runFlags struct {
	kube            kubeFlags
	metricsAddr     string
	probeAddr       string
	leaderElect     bool
	leaseDuration   time.Duration
	renewDeadline   time.Duration
	retryPeriod     time.Duration
	gitCacheDir     string
	workers         int
	offline         bool
	fightThreshold  int
	fightWindow     time.Duration
	proposeTimeout  time.Duration
	leaderElectName string
	slack           slackFlags
	forgeHookAddr   string
	events          eventsFlags
	inside          runInsideFlags
	guard           guardFlags
}

func newRunCommand(g *globalFlags) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run --namespace NS",
		Short: "Run the controller: keep every Source plumb with Git",
		Long: `run is Plumbline's controller. It watches Source objects (plumbline.dev/v1alpha1) in every
namespace, polls each Source's Git repository at its interval, watches the objects it declares,
and on drift alerts, reverts or prunes as the Source's modes say. One replica leads (a Lease in
--namespace); the others wait.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd, g) },
	}
	fs := cmd.Flags()
	fs.StringVar(&f.kube.kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster)")
	fs.StringVar(&f.kube.context, "context", "", "kubeconfig context to use")
	fs.StringVarP(&f.kube.namespace, "namespace", "n", "", "the controller's own namespace: its Lease and its Events (default: the context's namespace)")
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus /metrics endpoint; 0 turns it off")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz; 0 turns them off")
	fs.BoolVar(&f.leaderElect, "leader-elect", true, "elect one leader among the replicas with a Lease; only the leader acts")
	fs.StringVar(&f.leaderElectName, "leader-election-id", "plumbline-controller", "name of the Lease")
	fs.DurationVar(&f.leaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a leader's Lease lasts without renewal")
	fs.DurationVar(&f.renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader tries to renew before it gives up leading")
	fs.DurationVar(&f.retryPeriod, "leader-elect-retry-period", 2*time.Second, "how often candidates try to take the Lease")
	fs.StringVar(&f.gitCacheDir, "git-cache-dir", filepath.Join(os.TempDir(), "plumbline-git"), "where fetched trees are kept, one per repository and commit")
	fs.IntVar(&f.workers, "workers", 4, "Sources reconciled at once")
	fs.BoolVar(&f.offline, "offline", false, "image approvals only, no registry request (a rebuilt tag goes unseen)")
	fs.IntVar(&f.fightThreshold, "fight-threshold", 3, "reverts of one field within --fight-window before Plumbline stops and reports a fight")
	fs.DurationVar(&f.fightWindow, "fight-window", 10*time.Minute, "the window of --fight-threshold")
	fs.DurationVar(&f.proposeTimeout, "propose-timeout", 45*time.Second, "the most Git and forge I/O the pull requests of one Source's pass may take; what is left waits for a later pass")
	f.slack.register(fs)
	fs.StringVar(&f.forgeHookAddr, "forge-webhook-addr", "", "address to serve the forges' webhooks on (POST /hooks/<namespace>/<source>, signed with the key webhookSecret of spec.propose.secretRef), e.g. :9292; empty: pull requests and Git are polled at each Source's interval only")
	addEventsFlags(fs, &f.events)
	addLeaderLabelFlags(fs)
	f.inside.register(fs)
	addAdmissionFlags(cmd, &f.guard)
	return cmd
}

func (f *runFlags) run(cmd *cobra.Command, g *globalFlags) error {
	if f.workers < 1 {
		return fmt.Errorf("--workers %d: want at least 1", f.workers)
	}
	cfg, ns, err := f.kube.config()
	if err != nil {
		return err
	}
	// A controller logs JSON lines at info (debug with -v), for the cluster's log pipeline.
	level := slog.LevelInfo
	if g.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: f.metricsAddr},
		HealthProbeBindAddress:        f.probeAddr,
		LeaderElection:                f.leaderElect,
		LeaderElectionID:              f.leaderElectName,
		LeaderElectionNamespace:       ns,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &f.leaseDuration,
		RenewDeadline:                 &f.renewDeadline,
		RetryPeriod:                   &f.retryPeriod,
		Cache:                         cache.Options{DefaultTransform: reconciler.StripForDiff},
		// Secrets are read when needed, never cached: the controller holds no copy of them.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		return fmt.Errorf("controller manager: %w", err)
	}
	metricSet := reconciler.NewMetrics()
	var resolver *images.Resolver
	if !f.offline {
		// Digests are asked again at each Source's interval at the latest (the default 1m).
		resolver, err = images.NewResolver(images.WithUserAgent("plumbline/"+version), images.WithCacheTTL(time.Minute),
			images.WithTransport(metricSet.CountingTransport(remote.DefaultTransport)))
		if err != nil {
			return err
		}
	}
	activityOpts, err := f.events.wire(mgr, log)
	if err != nil {
		return err
	}
	inspector, err := f.inside.wire(resolver)
	if err != nil {
		return err
	}
	ctl, err := reconciler.NewController(mgr.GetClient(), cfg, reconciler.ControllerOptions{
		Inspector:      inspector,
		GitCacheDir:    f.gitCacheDir,
		Recorder:       mgr.GetEventRecorder("plumbline"),
		Log:            log,
		APIReader:      mgr.GetAPIReader(),
		Images:         resolver,
		FightThreshold: f.fightThreshold,
		FightWindow:    f.fightWindow,
		ProposeTimeout: f.proposeTimeout,
		Metrics:        metricSet,
		Activity:       activityOpts,
		Admission:      admissionConfig(cmd.Context(), cfg, &f.guard, log),
	})
	if err != nil {
		return err
	}
	if err := f.slack.wire(mgr, ctl, cfg, ns, log); err != nil {
		return err
	}
	if f.forgeHookAddr != "" {
		if err := mgr.Add(leaderServer{flag: "forge-webhook-addr", addr: f.forgeHookAddr, handler: ctl.ForgeWebhook(0)}); err != nil {
			return err
		}
	}
	metrics.Registry.MustRegister(ctl.Metrics().Collectors()...)
	if err := ctl.SetupWithManager(mgr, f.workers); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return fmt.Errorf("caches not synced")
		}
		return nil
	}); err != nil {
		return err
	}
	if err := wireLeaderLabel(cmd, mgr, ns, log); err != nil {
		return err
	}
	log.Info("starting", "namespace", ns, "leaderElection", f.leaderElect, "version", version)
	return mgr.Start(cmd.Context())
}
