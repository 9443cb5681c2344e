package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/slack-go/slack"
)

// ThreadLink returns the permalink of the Slack thread that tells of an incident, for a pull
// request to link back to. It is "" while the root waits in the outbox, when it went through an
// incoming webhook (there is no thread), and when Slack was never told of the incident. The
// link is asked of Slack once (chat.getPermalink) and kept with the thread.
func (n *Notifier) ThreadLink(ctx context.Context, source, fingerprint string) (string, error) {
	q := n.queue(source)
	q.mu.Lock()
	if err := n.load(ctx, source, q); err != nil {
		q.mu.Unlock()
		return "", err
	}
	key := q.st.ByFingerprint[fingerprint]
	th := q.st.Roots[key]
	if th == nil || th.TS == "" || th.Webhook {
		q.mu.Unlock()
		return "", nil
	}
	if th.Link != "" {
		link := th.Link
		q.mu.Unlock()
		return link, nil
	}
	channel, ts := th.Channel, th.TS
	q.mu.Unlock()

	t, err := n.opts.Target(ctx, source)
	if errors.Is(err, ErrNoSlack) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: Slack: %w", source, err)
	}
	if t.Token == "" {
		return "", nil // a webhook now: the thread's link cannot be asked for
	}
	raw, err := n.client(t).GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: channel, Ts: ts})
	if err != nil {
		return "", fmt.Errorf("%s: Slack chat.getPermalink of thread %s in %s: %w", source, ts, channel, err)
	}
	link, err := checkLink(raw)
	if err != nil {
		return "", fmt.Errorf("%s: Slack chat.getPermalink of thread %s in %s: %w", source, ts, channel, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if th := q.st.Roots[key]; th != nil && th.TS == ts {
		th.Link = link
		n.save(ctx, source, q)
	}
	return link, nil
}

// checkLink accepts an absolute http(s) URL with nothing in it that could leave a Markdown
// link, and returns it in its canonical form.
func checkLink(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(raw) > 1024 {
		return "", fmt.Errorf("not a permalink: %q", cut(raw, 200))
	}
	link := u.String()
	if strings.ContainsAny(link, " ()<>[]`\"'\n\r\t") {
		return "", fmt.Errorf("not a permalink: %q", cut(raw, 200))
	}
	return link, nil
}
