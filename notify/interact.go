package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// Actions carries out what the root's buttons ask, for one incident; by names the Slack user.
// The reconciler's Controller implements it.
type Actions interface {
	RevertNow(ctx context.Context, source, fingerprint, by string) error
	Keep(ctx context.Context, source, fingerprint, by string) error
	Silence(ctx context.Context, source, fingerprint string, d time.Duration, by string) error
}

// SilenceFor is how long "Silence 24h" silences an incident.
const SilenceFor = 24 * time.Hour

// InteractionOptions configure the interactivity endpoint.
type InteractionOptions struct {
	// SigningSecret is the Slack app's signing secret. Required.
	SigningSecret string
	// Allowed are the Slack user IDs (U…, W…) and user group IDs (S…) whose presses count.
	// Empty allows nobody.
	Allowed []string
	// Actions acts on presses. Required.
	Actions Actions
	// Timeout bounds one press's acts. Default 2 minutes.
	Timeout time.Duration
	// Done, when set, hears of each press once it was carried out (for tests and the demo).
	Done func(action, source, user string, err error)
}

// Interactions returns the handler of Slack's interactivity requests: it answers 401 to a
// request whose signature is wrong or whose timestamp is more than 5 minutes off, 403 to a user
// not allowed, and 200 at once to a press it accepts, which it then carries out in the
// background. A press on a resolved incident does nothing and says so in the thread.
func (n *Notifier) Interactions(opts InteractionOptions) (http.Handler, error) {
	if opts.SigningSecret == "" || opts.Actions == nil {
		return nil, errors.New("notify: interactions need a signing secret and actions")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	return &interactions{n: n, opts: opts}, nil
}

type interactions struct {
	n    *Notifier
	opts InteractionOptions
}

// press is one button press.
type press struct {
	action, source, root, user, userName string
}

func (h *interactions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	sv, err := slack.NewSecretsVerifier(r.Header, h.opts.SigningSecret)
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		http.Error(w, "request not signed by Slack, or too old", http.StatusUnauthorized)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	var presses []press
	for _, a := range cb.ActionCallback.BlockActions {
		switch a.ActionID {
		case ActionRevert, ActionKeep, ActionSilence:
		default:
			continue
		}
		source, root, ok := strings.Cut(a.Value, "|")
		if !ok {
			continue
		}
		presses = append(presses, press{action: a.ActionID, source: source, root: root, user: cb.User.ID, userName: cb.User.Name})
	}
	if len(presses) == 0 {
		w.WriteHeader(http.StatusOK)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	allowed := h.allowed(ctx, presses[0].source, cb.User.ID)
	cancel()
	if !allowed {
		http.Error(w, "this Slack user may not act on Plumbline's incidents", http.StatusForbidden)
		return
	}
	w.WriteHeader(http.StatusOK) // Slack wants an answer within 3 s: act after it
	bg := context.WithoutCancel(r.Context())
	go func() {
		for _, p := range presses {
			ctx, cancel := context.WithTimeout(bg, h.opts.Timeout)
			err := h.act(ctx, p)
			cancel()
			if h.opts.Done != nil {
				h.opts.Done(p.action, p.source, p.user, err)
			}
		}
	}()
}

// allowed reports whether a user is on the list, directly or through a user group.
func (h *interactions) allowed(ctx context.Context, source, user string) bool {
	if user == "" {
		return false
	}
	if slices.Contains(h.opts.Allowed, user) {
		return true
	}
	t, err := h.n.opts.Target(ctx, source)
	if err != nil || t.Token == "" {
		return false
	}
	api := h.n.client(t)
	for _, g := range h.opts.Allowed {
		if !strings.HasPrefix(g, "S") {
			continue
		}
		members, err := api.GetUserGroupMembersContext(ctx, g)
		if err == nil && slices.Contains(members, user) {
			return true
		}
	}
	return false
}

var actionNames = map[string]string{ActionRevert: "Revert now", ActionKeep: "Keep it", ActionSilence: "Silence 24h"}

// act carries out one press on every open incident of its root.
func (h *interactions) act(ctx context.Context, p press) error {
	by := p.user
	if p.userName != "" {
		by = p.userName + " (" + p.user + ")"
	}
	fps, resolved := h.n.openOf(ctx, p.source, p.root)
	if resolved || len(fps) == 0 {
		return h.n.Say(ctx, p.source, p.root, fmt.Sprintf("%s pressed by %s: nothing done, the incident is resolved", actionNames[p.action], by))
	}
	var errs []error
	for _, fp := range fps {
		var err error
		switch p.action {
		case ActionRevert:
			err = h.opts.Actions.RevertNow(ctx, p.source, fp, by)
		case ActionKeep:
			err = h.opts.Actions.Keep(ctx, p.source, fp, by)
		case ActionSilence:
			err = h.opts.Actions.Silence(ctx, p.source, fp, SilenceFor, by)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return errors.Join(err, h.n.Say(ctx, p.source, p.root, fmt.Sprintf("%s pressed by %s failed: %v", actionNames[p.action], by, err)))
	}
	return nil
}

// openOf returns the open incidents of a root, and whether the root is resolved.
func (n *Notifier) openOf(ctx context.Context, source, rootKey string) ([]string, bool) {
	q := n.queue(source)
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := n.load(ctx, source, q); err != nil {
		return nil, false
	}
	th := q.st.Roots[rootKey]
	if th == nil {
		return nil, true // forgotten: resolved long ago
	}
	return slices.Clone(th.Open), !th.Resolved.IsZero()
}

// Say queues a reply of plain text into a root's thread.
func (n *Notifier) Say(ctx context.Context, source, rootKey, text string) error {
	q := n.queue(source)
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := n.load(ctx, source, q); err != nil {
		return err
	}
	if q.st.Roots[rootKey] == nil {
		return nil
	}
	q.st.Outbox = append(q.st.Outbox, n.item(q.st, source, KindReply, rootKey, escape(text)))
	if err := n.opts.Store.Save(ctx, source, q.st); err != nil {
		return fmt.Errorf("%s: save Slack outbox: %w", source, err)
	}
	n.kick(source, q)
	return nil
}

// Silence keeps an incident's messages out of Slack until until (its resolution ends it).
func (n *Notifier) Silence(ctx context.Context, source, fingerprint string, until time.Time) error {
	q := n.queue(source)
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := n.load(ctx, source, q); err != nil {
		return err
	}
	q.st.Silenced[fingerprint] = until
	if err := n.opts.Store.Save(ctx, source, q.st); err != nil {
		return fmt.Errorf("%s: save Slack silence: %w", source, err)
	}
	return nil
}
