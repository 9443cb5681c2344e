package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/report"
)

// EventRecorder records Kubernetes Events; controller-runtime's recorder (events.k8s.io/v1)
// implements it.
type EventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// ControllerOptions tune a Controller.
type ControllerOptions struct {
	// GitCacheDir keeps fetched trees, so that a Source whose tip has not moved costs one
	// ls-remote and no clone. Required.
	GitCacheDir string
	// Notifier hears of every incident and Source error. Default: LogNotifier on Log.
	Notifier Notifier
	// Recorder records Events on Sources and drifted objects. Nil records none.
	Recorder EventRecorder
	// Log is the controller's logger. Default: slog.Default().
	Log *slog.Logger
	// FightThreshold is how many times another manager may write a reverted field back within
	// FightWindow before Plumbline stops reverting it. Default 3 and 10 minutes.
	FightThreshold int
	FightWindow    time.Duration
	// RevertBackoff is the wait before each further revert of the same object: 2 s, times 3,
	// at most 5 minutes, reset after 5 quiet minutes.
	RevertBackoff Backoff
	// Images resolves the tags of desired workloads; nil checks approvals only.
	Images *images.Resolver
	// Inspector looks inside images (with Images); nil does not. Give it a short wait so
	// that a scan never holds up a reconcile: a scan that takes longer finishes in the
	// background and the next pass reports it.
	Inspector *images.Inspector
	// APIReader reads Sources from the API server itself, past the cache, when a status write
	// conflicts. Default: the controller's client.
	APIReader client.Reader
	// Metrics are the collectors the controller counts in. Default: new ones (see Metrics()).
	Metrics *Metrics
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Activity wires audit and Falco events in (actors, RuntimeAccess, RuntimeDrift); nil: none.
	Activity *ActivityOptions
	// Admission is who the managed-object guard of a Source with spec.prevent lets through.
	Admission AdmissionConfig
	// ProposeTimeout bounds the Git and forge I/O of all the proposals of one pass: a forge that
	// hangs delays a Source's pass by at most this much, and what is left waits for the next.
	// Default 45 s.
	ProposeTimeout time.Duration
}

// Controller keeps every Source plumb: it polls Git at each Source's interval, re-compares on
// every watch event of a managed object, and alerts, reverts or prunes by the Source's modes. Its
// only state that matters across restarts (open incidents) lives in each Source's status.
type Controller struct {
	client  client.Client
	reader  client.Reader
	cluster *Cluster
	config  *rest.Config
	opts    ControllerOptions
	metrics *Metrics
	watches *watchSet
	// live reads live objects: the manager's cache once SetupWithManager ran, else the API.
	live LiveObjects

	// activity is what audit and Falco events said, bounded; nil without ControllerOptions.Activity.
	activity *activityState

	mu      sync.Mutex
	sources map[types.NamespacedName]*sourceState
	// forgesDown are the forges (by API host) that took a whole pass's budget without
	// answering, and until when no pass asks them again. Guarded by mu.
	forgesDown map[string]time.Time
	writers    map[string]*Cluster // impersonated clusters, by service account

	// slack is the Slack notifier (UseSlack), for Ready messages and buttons; keep opens a pull
	// request for the "Keep it" button. Nil: none.
	slack *SlackNotifier
	keep  func(ctx context.Context, src types.NamespacedName, fingerprint, by string) error
}

// sourceState is what the controller keeps in memory of one Source: the last good desired
// state, and what it needs to pace its acts. Losing it costs one fetch and render.
type sourceState struct {
	generation int64
	polledAt   time.Time
	// good is true once one fetch, render and check succeeded; desired is the last good desired
	// state (it may be empty: a commit can declare nothing).
	good     bool
	desired  []manifests.Object
	revision report.Source
	engine   *policy.Engine
	lock     images.Lock
	// pollErr is the last fetch, render or check error, kept until a poll succeeds.
	pollErr error
	// announcedErr is the Source error last told to the notifier, so it is told once.
	announcedErr string
	reverts      map[report.ObjectRef]*revertPace
	fights       *fightTracker
	// pollNow is set, under c.mu, by a forge webhook of a push: fetch Git at the next reconcile.
	pollNow bool
	// incidents are the Source's open incidents. They are read from its status once, when the
	// state is made (a start, a leader change), and kept here after: the cached Source that a
	// reconcile reads may not show the status the previous one wrote yet.
	incidents map[string]*report.Incident
	// dirty says a watch event came since the last pass; passedFor and passedAt are the scope
	// (revision, generation) and time of the last pass; hasTags says the desired state runs
	// images by tag, which the registry may rebuild.
	dirty     bool
	passedFor string
	passedAt  time.Time
	hasTags   bool
	// memo holds the comparisons of unchanged objects, for memoFor (revision and generation).
	memo    *CompareMemo
	memoFor string
	// actErr is the last revert or prune of this pass that failed, for the Drifted condition.
	actErr string
	// appliedRevision is the commit last applied, read from the status once.
	appliedRevision string
	// written is the status last written, so an unchanged one is not written again.
	written *v1alpha1.SourceStatus
	// changedAt is when a watch event last came for one of the Source's objects, for the
	// detection-latency metric.
	changedAt map[report.ObjectRef]time.Time
	// pass is held by a pass and by an action from Slack, so that they do not interleave.
	pass sync.Mutex
	// proposals is what propose mode keeps in memory (see proposalMemo).
	proposals *proposalMemo
	// admission is what is in force of the Source's admission policies.
	admission admissionState
}

// NewController returns a Controller that reads Sources through c (a cached client), compares
// and writes through the API server of cfg, and reports to opts.Notifier.
func NewController(c client.Client, cfg *rest.Config, opts ControllerOptions) (*Controller, error) {
	if opts.GitCacheDir == "" {
		return nil, fmt.Errorf("controller: a Git cache folder is required")
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Notifier == nil {
		opts.Notifier = LogNotifier{Log: opts.Log}
	}
	if opts.FightThreshold <= 0 {
		opts.FightThreshold = 3
	}
	if opts.ProposeTimeout <= 0 {
		opts.ProposeTimeout = proposeTimeout
	}
	if opts.FightWindow <= 0 {
		opts.FightWindow = 10 * time.Minute
	}
	if opts.RevertBackoff == (Backoff{}) {
		opts.RevertBackoff = DefaultRevertBackoff()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	if opts.APIReader == nil {
		opts.APIReader = c
	}
	cluster, err := NewCluster(cfg)
	if err != nil {
		return nil, err
	}
	cluster.inventory = newMemoInventory(cluster.inventoryStore())
	ctl := &Controller{
		client: c, reader: opts.APIReader, cluster: cluster, config: rest.CopyConfig(cfg), opts: opts,
		metrics: opts.Metrics, watches: newWatchSet(),
		sources: map[types.NamespacedName]*sourceState{}, writers: map[string]*Cluster{},
		activity: newActivityState(opts.Activity),
	}
	ctl.keep = ctl.ProposeIncident // Slack's "Keep it" opens the incident's pull request
	return ctl, nil
}

// Metrics returns the controller's Prometheus collectors, for the caller to register.
func (c *Controller) Metrics() *Metrics { return c.metrics }

func (c *Controller) state(key types.NamespacedName) *sourceState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.sources[key]
	if !ok {
		st = &sourceState{reverts: map[report.ObjectRef]*revertPace{}, fights: newFightTracker(), changedAt: map[report.ObjectRef]time.Time{}}
		c.sources[key] = st
	}
	return st
}

func (c *Controller) forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sources, key)
	c.watches.forget(key)
	c.activity.forget(key)
}

// Reconcile is one pass over one Source: poll Git when its interval is due (or its spec
// changed), compare the last good desired state with the cluster, track incidents, decide,
// act, and write the status. controller-runtime calls it for one Source at a time.
func (c *Controller) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	start := c.opts.Now()
	var src v1alpha1.Source
	if err := c.client.Get(ctx, req.NamespacedName, &src); err != nil {
		if apierrors.IsNotFound(err) { // the Source is gone: its objects stay, its inventory goes
			c.forget(req.NamespacedName)
			c.metrics.forget(req.String())
			if err := c.forgetSlack(ctx, req.NamespacedName); err != nil {
				return reconcile.Result{}, err
			}
			return reconcile.Result{}, errors.Join(c.cluster.DeleteInventory(ctx, sourceLabel(req.NamespacedName)),
				c.deleteAdmission(ctx, sourceLabel(req.NamespacedName), nil))
		}
		return reconcile.Result{}, err
	}
	if done, err := c.finalizeAdmission(ctx, &src); done {
		return reconcile.Result{}, err
	}
	if src.Spec.Suspend {
		return reconcile.Result{}, nil
	}
	st := c.state(req.NamespacedName)
	st.pass.Lock()
	defer st.pass.Unlock()
	if st.incidents == nil {
		st.incidents = incidentsOf(req.String(), src.Status.Incidents)
		st.appliedRevision = src.Status.LastAppliedRevision
	}
	interval := src.Spec.PollInterval()
	if c.takePollNow(st) || !st.good || st.generation != src.Generation || start.Sub(st.polledAt) >= interval {
		c.poll(ctx, &src, st)
	}
	next := jitter(interval - c.opts.Now().Sub(st.polledAt))
	if !st.good {
		return reconcile.Result{RequeueAfter: next}, c.writeFailedStatus(ctx, &src, st)
	}
	c.syncAdmission(ctx, &src, st)
	c.watches.ensure(ctx, req.NamespacedName, st.desired, c.namespaceOf(src.Namespace))
	if !c.passDue(st, &src) {
		return reconcile.Result{RequeueAfter: next}, nil // nothing changed: steady state costs nothing
	}
	rep, err := c.compare(ctx, &src, st)
	if err != nil && ctx.Err() != nil {
		return reconcile.Result{}, nil // stopping
	}
	if err != nil {
		c.opts.Log.Error("compare", "source", req.String(), "err", err)
		st.pollErr = err
		return reconcile.Result{RequeueAfter: next}, c.writeFailedStatus(ctx, &src, st)
	}
	wait, err := c.settle(ctx, &src, st, rep)
	if wait > 0 {
		c.markDirty(st) // a revert waits for its backoff: pass again then
	}
	c.metrics.reconciled(req.String(), c.opts.Now().Sub(start), err == nil && st.pollErr == nil, c.opts.Now())
	if err != nil {
		c.markDirty(st) // the status was not written: the retry makes a pass, which writes it
		return reconcile.Result{}, err
	}
	if wait > 0 && wait < next {
		next = wait
	}
	return reconcile.Result{RequeueAfter: next}, nil
}

// namespaceOf returns the namespace an object of the Source lives in: its own, the Source's
// namespace when it declares none, nothing for cluster-scoped kinds.
func (c *Controller) namespaceOf(defaultNamespace string) func(*unstructured.Unstructured) string {
	return func(u *unstructured.Unstructured) string {
		m, err := c.cluster.mappingFor(u.GroupVersionKind())
		switch {
		case err != nil:
			return u.GetNamespace()
		case !m.namespaced:
			return ""
		case u.GetNamespace() == "":
			return defaultNamespace
		}
		return u.GetNamespace()
	}
}

// passDue reports whether the Source needs a comparison: after a new commit or spec, a new
// Source error to tell, a watch event of one of its objects, a revert waiting for its backoff,
// and at every poll of a Source whose images are tags (the registry may serve another digest
// now). A Source whose images are all pinned, with nothing changed, costs no pass at all. It
// clears the dirty mark.
func (c *Controller) passDue(st *sourceState, src *v1alpha1.Source) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	scope := memoScope(st, src)
	errMsg := ""
	if st.pollErr != nil {
		errMsg = st.pollErr.Error()
	}
	due := st.dirty || st.passedFor != scope || (st.hasTags && st.passedAt.Before(st.polledAt)) || errMsg != st.announcedErr ||
		proposalsDue(st, src, c.opts.Now())
	st.dirty, st.passedFor, st.passedAt = false, scope, c.opts.Now()
	return due
}

// markDirty asks for another pass of the Source.
func (c *Controller) markDirty(st *sourceState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st.dirty = true
}

// hasTagImages reports whether a workload among objs runs an image by tag, not by digest.
func hasTagImages(objs []manifests.Object) bool {
	for _, o := range objs {
		w, ok, err := workloadOf(o.Object)
		if err != nil {
			return true // an error is the checks' to report, at every pass
		}
		if !ok {
			continue
		}
		for _, ct := range containers(w.spec) {
			if !strings.Contains(ct.image, "@sha256:") {
				return true
			}
		}
	}
	return false
}

// onEvent remembers when a watch event first came for an object since its Source last
// announced it, for the detection-latency metric.
func (c *Controller) onEvent(src types.NamespacedName, ref report.ObjectRef, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.sources[src]; st != nil {
		st.dirty = true
		if _, ok := st.changedAt[ref]; !ok {
			st.changedAt[ref] = at
		}
	}
}

// takeChangedAt returns and forgets when the first unannounced watch event of an object came.
func (c *Controller) takeChangedAt(st *sourceState, ref report.ObjectRef) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := st.changedAt[ref]
	delete(st.changedAt, ref)
	return at, ok
}

// SetupWithManager registers the controller with a manager: it reconciles Sources (on spec
// changes, not on its own status writes), and every watch event of a managed object.
func (c *Controller) SetupWithManager(mgr ctrl.Manager, workers int) error {
	c.watches.mu.Lock()
	c.watches.cache = mgr.GetCache()
	c.watches.events = make(chan event.GenericEvent, 1024)
	c.watches.onEvent = c.onEvent
	events := c.watches.events
	c.live = CacheLive{Reader: mgr.GetCache()}
	c.watches.mu.Unlock()
	if err := mgr.Add(manager.RunnableFunc(c.RunActivity)); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Source{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Channel(events, &handler.EnqueueRequestForObject{})).
		Named("source").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(c)
}

// jitter spreads polls of many Sources: ±10% of d, never less than a second.
func jitter(d time.Duration) time.Duration {
	if d < time.Second {
		d = time.Second
	}
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

// sourceLabel is the value of LabelSource on the objects of a Source: namespace.name, cut to
// the 63 characters a label value may have.
func sourceLabel(key types.NamespacedName) string {
	v := key.Namespace + "." + key.Name
	if len(v) > 63 {
		v = strings.TrimRight(v[:63], ".-_")
	}
	return v
}
