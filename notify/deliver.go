package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"
)

// metadataEvent is the event type of the metadata each message carries: its item key.
const metadataEvent = "plumbline_message"

// Start sends every Source's outbox until ctx ends: the outboxes a previous process left in the
// Store, and every one Notify fills. Run it on the leader only (it is a leader-elected
// controller-runtime Runnable). It returns when ctx ends and every worker stopped.
func (n *Notifier) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.running {
		n.mu.Unlock()
		return errors.New("notify: already started")
	}
	n.running = true
	n.mu.Unlock()
	sources, err := n.opts.Store.List(ctx)
	if err != nil {
		return fmt.Errorf("notify: list stored outboxes: %w", err)
	}
	for _, s := range sources {
		q := n.queue(s)
		q.mu.Lock()
		if err := n.load(ctx, s, q); err == nil && len(q.st.Outbox) > 0 {
			n.kick(s, q)
		}
		q.mu.Unlock()
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case s := <-n.started:
			wg.Go(func() { n.run(ctx, s) })
		}
	}
}

// run is one Source's worker: it sends the head of the outbox until the outbox is empty, then
// waits to be woken.
func (n *Notifier) run(ctx context.Context, source string) {
	q := n.queue(source)
	attempt := 0
	for ctx.Err() == nil {
		q.mu.Lock()
		empty := q.st == nil || len(q.st.Outbox) == 0 || q.st.Outbox[0].Held
		q.mu.Unlock()
		if empty {
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
			}
			continue
		}
		wait, err := n.sendHead(ctx, source, q)
		switch {
		case err == nil:
			attempt = 0
		case wait > 0:
			attempt++
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

// backoff is the wait before retry attempt a (1-based) of a transient failure.
func (n *Notifier) backoff(a int) time.Duration {
	d := n.opts.MinBackoff
	for i := 1; i < a && d < n.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, n.opts.MaxBackoff)
	return d + time.Duration(rand.Float64()*0.1*float64(d))
}

func (n *Notifier) limiter(key string) *rate.Limiter {
	n.mu.Lock()
	defer n.mu.Unlock()
	l, ok := n.limiters[key]
	if !ok {
		l = rate.NewLimiter(n.opts.Rate, 1)
		n.limiters[key] = l
	}
	return l
}

// errKind is how a failed send is handled.
type errKind int

const (
	errPermanent errKind = iota
	errTransient
	errRateLimited
)

// permanentErrors are Slack's answers that no retry changes; they need a person.
var permanentErrors = map[string]bool{
	"channel_not_found": true, "invalid_auth": true, "not_in_channel": true, "not_authed": true,
	"account_inactive": true, "token_revoked": true, "token_expired": true, "missing_scope": true,
	"is_archived": true, "restricted_action": true, "no_permission": true, "invalid_blocks": true,
	"msg_too_long": true, "message_not_found": true, "cant_update_message": true, "team_access_not_granted": true,
}

// classify says whether an error is permanent, transient (and whether the message may have
// reached Slack all the same), or a 429 with its wait.
func classify(err error) (kind errKind, ambiguous bool, wait time.Duration) {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return errRateLimited, false, max(rl.RetryAfter, time.Second)
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		if se.Err == "ratelimited" {
			return errRateLimited, false, time.Second
		}
		if permanentErrors[se.Err] {
			return errPermanent, false, 0
		}
		switch se.Err {
		case "internal_error", "fatal_error", "service_unavailable", "request_timeout":
			return errTransient, true, 0
		}
		return errPermanent, false, 0
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		if sc.Code >= 500 {
			return errTransient, true, 0
		}
		return errPermanent, false, 0
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return errTransient, false, 0 // nothing reached Slack
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "EOF") {
		return errTransient, true, 0
	}
	return errTransient, true, 0
}

// Permanent wraps an error that no retry changes (a wrong channel, a revoked token).
type Permanent struct{ Err error }

// Error is the wrapped error's text.
func (p Permanent) Error() string { return p.Err.Error() }

// Unwrap returns the wrapped error.
func (p Permanent) Unwrap() error { return p.Err }

// batch is the head of the outbox as one send: a root, an update, a flat message, or a run of
// replies to one thread coalesced into one message.
type batch struct {
	items []Item
	th    *Thread
	text  string
}

// head takes the next send from the outbox; q.mu is held.
func head(st *State) batch {
	first := st.Outbox[0]
	b := batch{items: []Item{first}, th: st.Roots[first.Root], text: first.Text}
	if first.Kind != KindReply {
		return b
	}
	for _, it := range st.Outbox[1:] {
		if first.Batch > 0 && len(b.items) == first.Batch {
			break // the same message as the attempt that may have reached Slack
		}
		if it.Held || it.Kind != KindReply || it.Root != first.Root || len(b.text)+1+len(it.Text) > maxSectionText {
			break
		}
		b.items = append(b.items, it)
		b.text += "\n" + it.Text
	}
	return b
}

// sendHead sends the head of a Source's outbox and settles the outbox by the outcome. It
// returns how long to wait before the next attempt after a failure.
func (n *Notifier) sendHead(ctx context.Context, source string, q *queue) (time.Duration, error) {
	q.mu.Lock()
	b := head(q.st)
	var th Thread
	if b.th != nil {
		th = *b.th
	}
	first := b.items[0]
	q.mu.Unlock()
	var posted []string // the incidents of a root Slack accepted, told after q.mu is let go
	defer func() {
		if len(posted) > 0 && n.opts.OnThread != nil {
			n.opts.OnThread(source, posted)
		}
	}()

	t, err := n.opts.Target(ctx, source)
	if errors.Is(err, ErrNoSlack) {
		err = Permanent{fmt.Errorf("%s: Slack is no longer configured", source)}
	}
	var ts, channel string
	sent := len(b.items)
	if err == nil {
		if b.th == nil && first.Kind != KindFlat {
			err = Permanent{fmt.Errorf("%s: message %s has no thread", source, first.Key)}
		} else {
			ts, channel, sent, err = n.send(ctx, source, t, first, b, th)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err == nil {
		q.st.Outbox = q.st.Outbox[min(max(sent, 1), len(q.st.Outbox)):]
		if first.Kind == KindRoot && b.th != nil {
			b.th.TS, b.th.Channel = ts, channel
			if ts != "" {
				posted = slices.Clone(b.th.Open)
			}
		}
		// What Slack accepted is recorded even when the worker is stopping.
		saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		n.save(saveCtx, source, q)
		cancel()
		n.result(source, ResultSent, nil)
		return 0, nil
	}
	var perm Permanent
	kind, ambiguous, wait := classify(err)
	if errors.As(err, &perm) {
		kind = errPermanent
	}
	switch kind {
	case errRateLimited:
		n.result(source, ResultRateLimited, nil)
		return wait, err
	case errTransient:
		head := &q.st.Outbox[0]
		head.Attempts++
		head.Ambiguous = head.Ambiguous || ambiguous
		head.Batch = len(b.items)
		if head.Sent.IsZero() {
			head.Sent = n.opts.Now()
		}
		n.save(ctx, source, q)
		n.result(source, ResultRetried, nil)
		return n.backoff(head.Attempts), err
	}
	// Permanent: the messages are dropped, and so are later replies to a root that never posted.
	q.st.Outbox = q.st.Outbox[len(b.items):]
	if first.Kind == KindRoot {
		rootKey := first.Key
		kept := q.st.Outbox[:0]
		for _, it := range q.st.Outbox {
			if it.Root != rootKey {
				kept = append(kept, it)
			}
		}
		q.st.Outbox = kept
	}
	n.save(ctx, source, q)
	n.result(source, ResultFailed, fmt.Errorf("%s: Slack refused message %s: %w", source, first.Key, err))
	return 0, err
}

// save writes a Source's State; a failure leaves it in memory for the next save. q.mu is held.
func (n *Notifier) save(ctx context.Context, source string, q *queue) {
	if err := n.opts.Store.Save(ctx, source, q.st); err != nil {
		n.result(source, ResultRetried, fmt.Errorf("%s: save Slack outbox: %w", source, err))
	}
}

func (n *Notifier) client(t Target) *slack.Client {
	return slack.New(t.Token, slack.OptionAPIURL(n.opts.APIURL), slack.OptionHTTPClient(n.opts.HTTPClient))
}

// send makes one attempt at one batch; it returns the ts and channel of a posted root and how
// many items the message holds. After an ambiguous failure it first looks for the message in
// Slack by its key.
func (n *Notifier) send(ctx context.Context, source string, t Target, first Item, b batch, th Thread) (string, string, int, error) {
	limitKey := t.Channel
	if t.WebhookURL != "" || th.Webhook {
		h := sha256.Sum256([]byte(t.WebhookURL))
		limitKey = "webhook:" + hex.EncodeToString(h[:8])
	}
	if err := n.limiter(limitKey).Wait(ctx); err != nil {
		return "", "", 0, err
	}
	value := source + "|" + first.Root
	text, blocks := b.text, replyBlocks(b.text)
	switch first.Kind {
	case KindRoot:
		text = th.Root.text(th.Root.Title)
		blocks = th.Root.blocks(th.Root.Title, value, true, t.Proposals) // as it opened; the update edits it
	case KindUpdate:
		h := resolvedHeader(th.Root, th.Resolved.Sub(th.Opened))
		text, blocks = th.Root.text(h), th.Root.blocks(h, value, false, t.Proposals)
	}
	if t.WebhookURL != "" || th.Webhook {
		if first.Kind == KindUpdate {
			return "", "", len(b.items), nil // a webhook cannot edit
		}
		if t.WebhookURL == "" {
			return "", "", 0, Permanent{fmt.Errorf("%s: the Secret has no webhookURL any more", source)}
		}
		msg := &slack.WebhookMessage{Text: text, Blocks: &slack.Blocks{BlockSet: blocks}}
		return "", "", len(b.items), slack.PostWebhookCustomHTTPContext(ctx, t.WebhookURL, n.opts.HTTPClient, msg)
	}
	api := n.client(t)
	channel := t.Channel
	if th.Channel != "" {
		channel = th.Channel
	}
	if first.Ambiguous && first.Kind != KindUpdate {
		ts, items, err := n.lookup(ctx, api, channel, first, th)
		if err != nil {
			if kind, _, _ := classify(err); kind != errPermanent {
				return "", "", 0, err
			}
		} // a lookup Slack refuses (no channels:history scope, a channel name) does not hold the message back
		if ts != "" {
			return ts, channel, items, nil
		}
	}
	opts := []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...)}
	meta := slack.MsgOptionMetadata(slack.SlackMetadata{EventType: metadataEvent, EventPayload: map[string]any{"key": first.Key, "items": len(b.items)}})
	switch first.Kind {
	case KindUpdate:
		_, _, _, err := api.UpdateMessageContext(ctx, channel, th.TS, opts...)
		return "", "", 1, err
	case KindReply:
		if th.TS == "" {
			return "", "", 0, Permanent{fmt.Errorf("%s: the root of message %s was never posted", source, first.Key)}
		}
		opts = append(opts, slack.MsgOptionTS(th.TS), meta)
	default:
		opts = append(opts, meta)
	}
	ch, ts, err := api.PostMessageContext(ctx, channel, opts...)
	return ts, ch, len(b.items), err
}

// lookup looks for a message that an ambiguous attempt may have posted, by the key in its
// metadata: in the channel's history for a root or a flat message, in the thread for a reply.
// It returns its ts and how many items it holds, or "" when Slack has no such message.
func (n *Notifier) lookup(ctx context.Context, api *slack.Client, channel string, it Item, th Thread) (string, int, error) {
	since := it.Sent
	if since.IsZero() {
		since = it.Queued
	}
	oldest := fmt.Sprintf("%d.000000", since.Add(-time.Minute).Unix())
	var msgs []slack.Message
	var err error
	if it.Kind == KindReply {
		msgs, _, _, err = api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: th.TS, Oldest: oldest, Limit: 200, IncludeAllMetadata: true})
	} else {
		var resp *slack.GetConversationHistoryResponse
		resp, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
			ChannelID: channel, Oldest: oldest, Limit: 200, IncludeAllMetadata: true})
		if resp != nil {
			msgs = resp.Messages
		}
	}
	if err != nil {
		return "", 0, fmt.Errorf("look for message %s: %w", it.Key, err)
	}
	for _, m := range msgs {
		if m.Metadata.EventType == metadataEvent && m.Metadata.EventPayload["key"] == it.Key {
			items, _ := m.Metadata.EventPayload["items"].(float64)
			return m.Timestamp, int(items), nil
		}
	}
	return "", 0, nil
}
