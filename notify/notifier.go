package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/plumbline/plumbline/report"
)

// Target is where and how one Source's messages go. Exactly one of Token and WebhookURL is set.
type Target struct {
	// Channel is the channel ID (or name) for a bot token. Use an ID: Slack answers with it, and
	// only an ID lets the notifier look for a message it may have sent already.
	Channel string
	// Token is a bot token; WebhookURL an incoming webhook, which cannot thread or edit.
	Token      string
	WebhookURL string
	// MinSeverity is the lowest policy severity posted (low, medium, high, critical); empty
	// posts all. Incidents of other types are always posted.
	MinSeverity string
	// QuietResolve posts no "Resolved" reply; the root is still edited.
	QuietResolve bool
	// Proposals is true when "Keep it" can open a pull request; else its button is a notice.
	Proposals bool
}

// TargetFunc returns the Target of a Source, reading its credentials; ErrNoSlack when the
// Source has no Slack. It is called for each notification and before each send.
type TargetFunc func(ctx context.Context, source string) (Target, error)

// Result names the outcome of one message or notification, for metrics.
type Result string

// Results.
const (
	ResultSent         Result = "sent"
	ResultDeduplicated Result = "deduplicated"
	ResultRateLimited  Result = "rate-limited"
	ResultRetried      Result = "retried"
	ResultFailed       Result = "failed"
	ResultDropped      Result = "dropped"
)

// Options configure a Notifier.
type Options struct {
	// Store keeps the threads and the outbox in the cluster. Required.
	Store Store
	// Target finds each Source's channel and credentials. Required.
	Target TargetFunc
	// APIURL is Slack's Web API base URL, ending in "/". Default https://slack.com/api/.
	APIURL string
	// HTTPClient sends every request. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Rate is the most messages per second per channel; default 1 (Slack's limit).
	Rate rate.Limit
	// MinBackoff and MaxBackoff bound the wait before a retry after a 5xx or connection error;
	// default 1 s and 1 minute, doubling.
	MinBackoff, MaxBackoff time.Duration
	// MaxOutbox is the most messages one Source's outbox holds; past it a notification is
	// dropped and counted. Default 2000.
	MaxOutbox int
	// OnResult hears of each outcome; err is set for ResultFailed and ResultDropped. Nil: none.
	OnResult func(source string, r Result, err error)
	// OnThread hears that Slack accepted the root of the incidents with these fingerprints,
	// so that their thread has a link now (ThreadLink). It must not block. Nil: none.
	OnThread func(source string, fingerprints []string)
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Notifier posts notifications to Slack through a durable outbox per Source. Notify queues
// and returns; Start sends.
type Notifier struct {
	opts Options

	mu       sync.Mutex
	queues   map[string]*queue
	limiters map[string]*rate.Limiter
	// started receives each Source whose queue needs a worker.
	started chan string
	running bool
}

// queue is one Source's state and the signal that wakes its worker.
type queue struct {
	mu     sync.Mutex
	st     *State
	wake   chan struct{}
	worker bool
}

// New returns a Notifier; it sends nothing until Start runs.
func New(opts Options) (*Notifier, error) {
	if opts.Store == nil || opts.Target == nil {
		return nil, errors.New("notify: a Store and a TargetFunc are required")
	}
	if opts.APIURL == "" {
		opts.APIURL = "https://slack.com/api/"
	}
	if !strings.HasSuffix(opts.APIURL, "/") {
		opts.APIURL += "/"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Rate <= 0 {
		opts.Rate = 1
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(time.Minute, opts.MinBackoff)
	}
	if opts.MaxOutbox <= 0 {
		opts.MaxOutbox = 2000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Notifier{opts: opts, queues: map[string]*queue{}, limiters: map[string]*rate.Limiter{}, started: make(chan string, 64)}, nil
}

// ErrOutboxFull is returned by Notify when a Source's outbox holds MaxOutbox messages.
var ErrOutboxFull = errors.New("the Slack outbox is full")

func (n *Notifier) result(source string, r Result, err error) {
	if n.opts.OnResult != nil {
		n.opts.OnResult(source, r, err)
	}
}

func (n *Notifier) queue(source string) *queue {
	n.mu.Lock()
	defer n.mu.Unlock()
	q, ok := n.queues[source]
	if !ok {
		q = &queue{wake: make(chan struct{}, 1)}
		n.queues[source] = q
	}
	return q
}

// load reads a Source's State once; q.mu is held.
func (n *Notifier) load(ctx context.Context, source string, q *queue) error {
	if q.st != nil {
		return nil
	}
	st, err := n.opts.Store.Load(ctx, source)
	if err != nil {
		return fmt.Errorf("%s: load Slack state: %w", source, err)
	}
	q.st = st.fill()
	if len(q.st.Outbox) > 0 && q.st.Outbox[0].Kind != KindUpdate {
		// A previous process may have sent the head and stopped before it recorded that: look
		// for it in Slack before sending it again.
		q.st.Outbox[0].Ambiguous = true
	}
	return nil
}

// Notify queues what a notification says and saves the outbox before it returns. An incident
// that already has a root is not posted again (across restarts too); a silenced one is not
// posted. It does not wait for Slack.
func (n *Notifier) Notify(ctx context.Context, note Notification) error {
	return n.enqueue(ctx, note, false)
}

// Stage queues and saves a notification as Notify does, but holds it, and whatever is staged
// after it, until Release. A caller that records what it tells elsewhere (the controller, the
// Source's status) stages first and releases after it recorded: a crash between the two loses
// nothing, since the outbox is saved, and repeats no root, since a root is deduplicated by
// incident. The hold lives in memory only: a restarted notifier sends what it finds.
func (n *Notifier) Stage(ctx context.Context, note Notification) error {
	return n.enqueue(ctx, note, true)
}

// Release sends what was staged for a Source.
func (n *Notifier) Release(source string) {
	q := n.queue(source)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.st == nil {
		return
	}
	held := false
	for i := range q.st.Outbox {
		held = held || q.st.Outbox[i].Held
		q.st.Outbox[i].Held = false
	}
	if held {
		n.kick(source, q)
	}
}

func (n *Notifier) enqueue(ctx context.Context, note Notification, hold bool) error {
	t, err := n.opts.Target(ctx, note.Source)
	if errors.Is(err, ErrNoSlack) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: Slack: %w", note.Source, err)
	}
	if note.At.IsZero() {
		note.At = n.opts.Now()
	}
	q := n.queue(note.Source)
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := n.load(ctx, note.Source, q); err != nil {
		return err
	}
	st := q.st
	if len(st.Outbox) >= n.opts.MaxOutbox {
		n.result(note.Source, ResultDropped, ErrOutboxFull)
		return fmt.Errorf("%s: %w (%d messages wait)", note.Source, ErrOutboxFull, len(st.Outbox))
	}
	before := len(st.Outbox)
	switch note.Event {
	case EventOpened:
		n.open(st, note, t)
	case EventSourceFailed:
		st.Outbox = append(st.Outbox, n.item(st, note.Source, KindFlat, "", sourceFailedText(note)))
	case EventResolved:
		n.resolve(st, note, t)
	default:
		n.reply(st, note)
	}
	if len(st.Outbox) == before {
		return nil
	}
	for i := before; i < len(st.Outbox); i++ {
		st.Outbox[i].Held = hold
	}
	if err := n.opts.Store.Save(ctx, note.Source, st); err != nil {
		return fmt.Errorf("%s: save Slack outbox: %w", note.Source, err)
	}
	if !hold {
		n.kick(note.Source, q)
	}
	return nil
}

// item numbers a new outbox item.
func (n *Notifier) item(st *State, source string, kind ItemKind, rootKey, text string) Item {
	st.Seq++
	return Item{Key: fmt.Sprintf("%s#%d", source, st.Seq), Kind: kind, Root: rootKey, Text: text, Queued: n.opts.Now()}
}

var severityRank = map[string]int{"low": 1, "medium": 2, "high": 3, "critical": 4}

// posted reports whether an opened incident is for Slack: not known already, not silenced,
// not a policy violation below the minimum severity.
func (n *Notifier) posted(st *State, note Notification, inc *report.Incident, t Target) (bool, Result) {
	if key, ok := st.ByFingerprint[inc.Fingerprint]; ok && st.Roots[key] != nil {
		return false, ResultDeduplicated
	}
	if until, ok := st.Silenced[inc.Fingerprint]; ok && note.At.Before(until) {
		return false, ""
	}
	if inc.Type == report.PolicyViolation && t.MinSeverity != "" {
		for _, f := range inc.Findings {
			if severityRank[f.Severity] >= severityRank[t.MinSeverity] {
				return true, ""
			}
		}
		return len(inc.Findings) == 0, ""
	}
	return true, ""
}

func (n *Notifier) open(st *State, note Notification, t Target) {
	var incs []*report.Incident
	for _, inc := range note.Incidents {
		ok, r := n.posted(st, note, inc, t)
		if r != "" {
			n.result(note.Source, r, nil)
		}
		if ok {
			incs = append(incs, inc)
		}
	}
	if len(incs) == 0 {
		return
	}
	note.Incidents = incs
	it := n.item(st, note.Source, KindRoot, "", "")
	it.Root = it.Key
	th := &Thread{Channel: t.Channel, Opened: note.At, Root: newRoot(note), Webhook: t.WebhookURL != ""}
	for _, inc := range incs {
		th.Open = append(th.Open, inc.Fingerprint)
		st.ByFingerprint[inc.Fingerprint] = it.Key
	}
	st.Roots[it.Key] = th
	st.Outbox = append(st.Outbox, it)
}

// byRoot groups a notification's incidents by the root that tells of them, in order.
func byRoot(st *State, incs []*report.Incident) ([]string, map[string][]*report.Incident) {
	var keys []string
	out := map[string][]*report.Incident{}
	for _, inc := range incs {
		key, ok := st.ByFingerprint[inc.Fingerprint]
		if !ok || st.Roots[key] == nil {
			continue
		}
		if _, seen := out[key]; !seen {
			keys = append(keys, key)
		}
		out[key] = append(out[key], inc)
	}
	return keys, out
}

func (n *Notifier) silenced(st *State, fp string, at time.Time) bool {
	until, ok := st.Silenced[fp]
	return ok && at.Before(until)
}

func (n *Notifier) reply(st *State, note Notification) {
	keys, groups := byRoot(st, note.Incidents)
	for _, key := range keys {
		th := st.Roots[key]
		var incs []*report.Incident
		for _, inc := range groups[key] {
			if note.Event == EventAction || !n.silenced(st, inc.Fingerprint, note.At) {
				incs = append(incs, inc)
			}
		}
		if len(incs) == 0 {
			continue
		}
		sub := note
		sub.Incidents = incs
		st.Outbox = append(st.Outbox, n.item(st, note.Source, KindReply, key, replyText(sub, th.Webhook || len(th.Root.Sections) > 1, note.At)))
	}
}

func (n *Notifier) resolve(st *State, note Notification, t Target) {
	keys, groups := byRoot(st, note.Incidents)
	for _, key := range keys {
		th := st.Roots[key]
		var told []*report.Incident
		for _, inc := range groups[key] {
			th.Open = slices.DeleteFunc(th.Open, func(fp string) bool { return fp == inc.Fingerprint })
			delete(st.ByFingerprint, inc.Fingerprint)
			if !n.silenced(st, inc.Fingerprint, note.At) {
				told = append(told, inc)
			}
			delete(st.Silenced, inc.Fingerprint)
		}
		if len(told) > 0 && !t.QuietResolve {
			sub := note
			sub.Incidents = told
			st.Outbox = append(st.Outbox, n.item(st, note.Source, KindReply, key, replyText(sub, th.Webhook || len(th.Root.Sections) > 1, note.At)))
		}
		if len(th.Open) == 0 {
			th.Resolved = note.At
			if !th.Webhook {
				st.Outbox = append(st.Outbox, n.item(st, note.Source, KindUpdate, key, ""))
			}
		}
	}
	n.forgetOld(st, note.At)
}

// forgetOld drops threads resolved more than a week ago whose messages were all sent.
func (n *Notifier) forgetOld(st *State, now time.Time) {
	pending := map[string]bool{}
	for _, it := range st.Outbox {
		pending[it.Root] = true
	}
	for key, th := range st.Roots {
		if !th.Resolved.IsZero() && now.Sub(th.Resolved) > 7*24*time.Hour && !pending[key] {
			delete(st.Roots, key)
		}
	}
}

// kick wakes a Source's worker, asking Start for one if it has none.
func (n *Notifier) kick(source string, q *queue) {
	select {
	case q.wake <- struct{}{}:
	default:
	}
	if !q.worker {
		q.worker = true
		select {
		case n.started <- source:
		default:
			go func() { n.started <- source }()
		}
	}
}

// Forget drops a deleted Source's threads and outbox, in memory and in the Store.
func (n *Notifier) Forget(ctx context.Context, source string) error {
	q := n.queue(source)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.st = newState()
	if err := n.opts.Store.Delete(ctx, source); err != nil {
		return fmt.Errorf("%s: delete Slack state: %w", source, err)
	}
	return nil
}
