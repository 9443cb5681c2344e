package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/notify"
)

// SlackOptions wire the Slack notifier.
type SlackOptions struct {
	// DefaultChannel and DefaultSecret serve Sources whose spec.notify.slack sets none; the
	// Secret holds key token or webhookURL. Neither set and none in the spec: no Slack.
	DefaultChannel string
	DefaultSecret  types.NamespacedName
	// Notify tunes delivery (API URL, rate, backoff); its Store, Target and OnResult are set
	// here.
	Notify notify.Options
	// Proposals is true when "Keep it" can open pull requests.
	Proposals bool
	// Log hears of permanent errors. Default slog.Default().
	Log *slog.Logger
	// Also hears every notification too. Default: LogNotifier on Log.
	Also Notifier
}

// SlackNotifier is the Controller's Notifier for Slack: it turns the controller's notifications
// into notify's, reads each Source's channel and Secret when it needs them (never caching the
// token), keeps the threads and outbox in the cluster through a SlackStore, and remembers the
// last permanent error of each Source for its Ready condition. It is a leader-elected Runnable:
// add it to the manager.
type SlackNotifier struct {
	n       *notify.Notifier
	sources client.Reader
	secrets client.Reader
	opts    SlackOptions

	mu sync.Mutex
	// staged are the notifications staged for each Source, for opts.Also at Release.
	staged   map[string][]Notification
	problems map[string]string
	onChange func(source string)
	counter  func(result string)
	onThread func(source string, fingerprints []string)
}

// NewSlackNotifier returns a Slack notifier that reads Sources through sources, Secrets through
// secrets (the API server, not a cache) and keeps its state in store.
func NewSlackNotifier(sources, secrets client.Reader, store notify.Store, opts SlackOptions) (*SlackNotifier, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Also == nil {
		opts.Also = LogNotifier{Log: opts.Log}
	}
	s := &SlackNotifier{sources: sources, secrets: secrets, opts: opts, problems: map[string]string{}, staged: map[string][]Notification{}}
	no := opts.Notify
	no.Store, no.Target, no.OnResult, no.OnThread = store, s.target, s.onResult, s.threadPosted
	n, err := notify.New(no)
	if err != nil {
		return nil, err
	}
	s.n = n
	return s, nil
}

// Notifier is the notify.Notifier behind s, for its interactivity endpoint.
func (s *SlackNotifier) Notifier() *notify.Notifier { return s.n }

// Start sends the outboxes until ctx ends.
func (s *SlackNotifier) Start(ctx context.Context) error { return s.n.Start(ctx) }

// NeedLeaderElection is true: only the leader talks to Slack.
func (s *SlackNotifier) NeedLeaderElection() bool { return true }

// Notify tells n to opts.Also (the log) and queues it for Slack. A Source without Slack costs
// nothing more.
func (s *SlackNotifier) Notify(ctx context.Context, n Notification) error {
	s.also(ctx, n)
	return s.n.Notify(ctx, s.convert(ctx, n))
}

// Stage saves n in the Source's Slack outbox and holds it until Release, which also tells it to
// opts.Also.
func (s *SlackNotifier) Stage(ctx context.Context, n Notification) error {
	s.mu.Lock()
	s.staged[n.Source] = append(s.staged[n.Source], n)
	s.mu.Unlock()
	return s.n.Stage(ctx, s.convert(ctx, n))
}

// Release tells opts.Also what was staged for source and sends it to Slack.
func (s *SlackNotifier) Release(ctx context.Context, source string) {
	s.mu.Lock()
	staged := s.staged[source]
	delete(s.staged, source)
	s.mu.Unlock()
	for _, n := range staged {
		s.also(ctx, n)
	}
	s.n.Release(source)
}

func (s *SlackNotifier) also(ctx context.Context, n Notification) {
	if err := s.opts.Also.Notify(ctx, n); err != nil {
		s.opts.Log.Error("notify", "source", n.Source, "event", string(n.Event), "err", err)
	}
}

// convert turns a controller notification into notify's, with the Source's mode.
func (s *SlackNotifier) convert(ctx context.Context, n Notification) notify.Notification {
	mode := ""
	var src v1alpha1.Source
	if ns, name, ok := cutSource(n.Source); ok && s.sources.Get(ctx, keyOfName(ns, name), &src) == nil && len(n.Incidents) > 0 {
		mode = string(src.Spec.Mode.For(string(n.Incidents[0].Type)))
	}
	return notify.Notification{Event: notify.Event(n.Event), Source: n.Source, Revision: n.Revision,
		Mode: mode, Incidents: n.Incidents, Detail: n.Detail}
}

// ThreadLink is the permalink of the Slack thread of an incident, or "" while it has none.
func (s *SlackNotifier) ThreadLink(ctx context.Context, source, fingerprint string) (string, error) {
	return s.n.ThreadLink(ctx, source, fingerprint)
}

// threadPosted hears that Slack accepted the root of these incidents.
func (s *SlackNotifier) threadPosted(source string, fingerprints []string) {
	s.mu.Lock()
	f := s.onThread
	s.mu.Unlock()
	if f != nil {
		f(source, fingerprints)
	}
}

// Problem is the last permanent Slack error of a Source, or "".
func (s *SlackNotifier) Problem(source string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.problems[source]
}

func (s *SlackNotifier) onResult(source string, r notify.Result, err error) {
	s.mu.Lock()
	counter, onChange := s.counter, s.onChange
	changed := false
	switch r {
	case notify.ResultFailed:
		msg := truncate(err.Error(), 512)
		changed = s.problems[source] != msg
		s.problems[source] = msg
	case notify.ResultSent:
		_, changed = s.problems[source]
		delete(s.problems, source)
	}
	s.mu.Unlock()
	if counter != nil {
		counter(string(r))
	}
	if r == notify.ResultFailed {
		s.opts.Log.Error("Slack refused a message", "source", source, "err", err)
	}
	if changed && onChange != nil {
		onChange(source)
	}
}

// target reads a Source's Slack settings and credentials.
func (s *SlackNotifier) target(ctx context.Context, source string) (notify.Target, error) {
	ns, name, ok := cutSource(source)
	if !ok {
		return notify.Target{}, fmt.Errorf("source %q: want namespace/name", source)
	}
	var src v1alpha1.Source
	if err := s.sources.Get(ctx, keyOfName(ns, name), &src); err != nil {
		if apierrors.IsNotFound(err) {
			return notify.Target{}, notify.ErrNoSlack
		}
		return notify.Target{}, fmt.Errorf("Source %s: %w", source, err)
	}
	// "Keep it" can open a pull request when the Source names a forge (spec.propose).
	t := notify.Target{Channel: s.opts.DefaultChannel, Proposals: s.opts.Proposals || src.Spec.Propose != nil}
	secret := s.opts.DefaultSecret
	if src.Spec.Notify != nil && src.Spec.Notify.Slack != nil {
		sl := src.Spec.Notify.Slack
		if sl.Channel != "" {
			t.Channel = sl.Channel
		}
		if sl.SecretRef != nil {
			secret = types.NamespacedName{Namespace: ns, Name: sl.SecretRef.Name}
		}
		t.MinSeverity, t.QuietResolve = sl.MinSeverity, sl.QuietResolve
	}
	if secret.Name == "" {
		return notify.Target{}, notify.ErrNoSlack
	}
	var sec corev1.Secret
	if err := s.secrets.Get(ctx, secret, &sec); err != nil {
		return notify.Target{}, fmt.Errorf("Slack Secret %s: %w", secret, err)
	}
	t.Token = strings.TrimSpace(string(sec.Data["token"]))
	t.WebhookURL = strings.TrimSpace(string(sec.Data["webhookURL"]))
	switch {
	case t.Token == "" && t.WebhookURL == "":
		return notify.Target{}, notify.Permanent{Err: fmt.Errorf("Slack Secret %s has neither key token nor key webhookURL", secret)}
	case t.Token != "" && t.Channel == "":
		return notify.Target{}, notify.Permanent{Err: fmt.Errorf("Source %s: a Slack bot token needs a channel (spec.notify.slack.channel or --slack-channel)", source)}
	case t.Token != "":
		t.WebhookURL = ""
	}
	return t, nil
}

// UseSlack makes s the controller's notifier: Slack's permanent errors show on each Source's
// Ready condition, counted in plumbline_notifications_total, and its buttons act through c.
func (c *Controller) UseSlack(s *SlackNotifier) {
	c.opts.Notifier = s
	c.slack = s
	s.mu.Lock()
	s.counter = func(r string) { c.metrics.Notifications.WithLabelValues(r).Inc() }
	s.onChange = c.poke
	s.onThread = c.threadPosted
	s.mu.Unlock()
}

// forgetSlack drops the Slack threads and outbox of a deleted Source.
func (c *Controller) forgetSlack(ctx context.Context, key types.NamespacedName) error {
	if c.slack == nil {
		return nil
	}
	c.slack.mu.Lock()
	delete(c.slack.problems, key.String())
	c.slack.mu.Unlock()
	return c.slack.n.Forget(ctx, key.String())
}

// slackProblem is the Slack error to show on a Source's Ready condition, or "".
func (c *Controller) slackProblem(key types.NamespacedName) string {
	if c.slack == nil {
		return ""
	}
	return c.slack.Problem(key.String())
}

// poke asks for a pass over a Source (a Slack error to show, or to clear).
func (c *Controller) poke(source string) {
	ns, name, ok := cutSource(source)
	if !ok {
		return
	}
	key := keyOfName(ns, name)
	c.mu.Lock()
	if st := c.sources[key]; st != nil {
		st.dirty = true
	}
	c.mu.Unlock()
	c.reconcileSoon(key)
}

// reconcileSoon asks for a reconcile of a Source without waiting; passDue decides whether it
// makes a pass.
func (c *Controller) reconcileSoon(key types.NamespacedName) {
	c.watches.mu.Lock()
	events := c.watches.events
	c.watches.mu.Unlock()
	if events != nil {
		select {
		case events <- event.GenericEvent{Object: &v1alpha1.Source{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}:
		default:
		}
	}
}

// SlackInteractions returns the handler of Slack's button presses, acting through c.
func (c *Controller) SlackInteractions(signingSecret string, allowed []string) (http.Handler, error) {
	if c.slack == nil {
		return nil, errors.New("interactions need the Slack notifier (UseSlack)")
	}
	return c.slack.n.Interactions(notify.InteractionOptions{SigningSecret: signingSecret, Allowed: allowed, Actions: slackActions{c}})
}

// slackActions adapts the Controller's actions to notify's Source names.
type slackActions struct{ c *Controller }

func (a slackActions) RevertNow(ctx context.Context, source, fp, by string) error {
	key, err := keyOfSourceName(source)
	if err != nil {
		return err
	}
	return a.c.RevertNow(ctx, key, fp, by)
}

func (a slackActions) Keep(ctx context.Context, source, fp, by string) error {
	key, err := keyOfSourceName(source)
	if err != nil {
		return err
	}
	return a.c.Keep(ctx, key, fp, by)
}

func (a slackActions) Silence(ctx context.Context, source, fp string, d time.Duration, by string) error {
	key, err := keyOfSourceName(source)
	if err != nil {
		return err
	}
	return a.c.Silence(ctx, key, fp, d, by)
}

func cutSource(source string) (string, string, bool) {
	ns, name, ok := strings.Cut(source, "/")
	return ns, name, ok && ns != "" && name != ""
}

func keyOfName(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

func keyOfSourceName(source string) (types.NamespacedName, error) {
	ns, name, ok := cutSource(source)
	if !ok {
		return types.NamespacedName{}, fmt.Errorf("source %q: want namespace/name", source)
	}
	return keyOfName(ns, name), nil
}
