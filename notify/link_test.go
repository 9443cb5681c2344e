package notify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/plumbline/plumbline/report"
	"github.com/plumbline/plumbline/test/slackserver"
)

// TestThreadLink: once Slack accepted a root, OnThread names its incidents and ThreadLink
// gives the thread's permalink, asked of Slack once and kept across a restart; before that,
// and for an incident Slack was never told of, there is no link.
func TestThreadLink(t *testing.T) {
	threads := make(chan []string, 4)
	s := newScene(t, func(o *Options) {
		o.Rate = 0.5 // the root waits for the limiter, so it is in the outbox at first
		o.OnThread = func(source string, fps []string) {
			if source == "platform/apps" {
				threads <- fps
			}
		}
	})
	ctx := context.Background()
	s.notify(Notification{Event: EventOpened, Revision: rev, Mode: "alert", Incidents: manyDrifts(1), At: at})
	first := manyDrifts(1)[0].Fingerprint
	s.srv.Wait(1, 10*time.Second)
	// The limiter lets the first message through at once; queue a second root that waits.
	second := manyDrifts(2)[1]
	s.notify(Notification{Event: EventOpened, Revision: rev, Mode: "alert", Incidents: []*report.Incident{second}, At: at})
	if link, err := s.n.ThreadLink(ctx, "platform/apps", second.Fingerprint); err != nil || link != "" {
		t.Errorf("link of a root still in the outbox = %q, %v; want none", link, err)
	}
	select {
	case fps := <-threads:
		if len(fps) != 1 || fps[0] != first {
			t.Errorf("OnThread = %q, want [%s]", fps, first)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnThread was not called for the posted root")
	}
	root := s.srv.Messages()[0]
	want := slackserver.Permalink("C0OPS", root.TS)
	for range 2 {
		link, err := s.n.ThreadLink(ctx, "platform/apps", first)
		if err != nil || link != want {
			t.Fatalf("ThreadLink = %q, %v; want %q", link, err, want)
		}
	}
	if asked := s.srv.Permalinks(); len(asked) != 1 || asked[0].Channel != "C0OPS" || asked[0].TS != root.TS {
		t.Errorf("chat.getPermalink requests %+v, want one for %s", asked, root.TS)
	}
	if link, err := s.n.ThreadLink(ctx, "platform/apps", "0000000000000000"); err != nil || link != "" {
		t.Errorf("link of an unknown incident = %q, %v", link, err)
	}

	// A restarted notifier finds the link in the stored state, without asking Slack again.
	s.stop()
	n2 := s.notifier(nil)
	if link, err := n2.ThreadLink(ctx, "platform/apps", first); err != nil || link != want {
		t.Errorf("after a restart ThreadLink = %q, %v; want %q", link, err, want)
	}
	if n := len(s.srv.Permalinks()); n != 1 {
		t.Errorf("%d chat.getPermalink requests after the restart, want still 1", n)
	}
}

// TestThreadLinkRefused: Slack refusing chat.getPermalink is an error naming the thread, and
// the next call asks again; a webhook thread has no link.
func TestThreadLinkRefused(t *testing.T) {
	s := newScene(t, nil)
	ctx := context.Background()
	inc := manyDrifts(1)[0]
	s.notify(Notification{Event: EventOpened, Revision: rev, Mode: "alert", Incidents: []*report.Incident{inc}, At: at})
	root := s.srv.Wait(1, 10*time.Second)[0]
	waitFor(t, func() bool {
		st, _ := s.store.Load(ctx, "platform/apps")
		return st.Roots[st.ByFingerprint[inc.Fingerprint]] != nil && st.Roots[st.ByFingerprint[inc.Fingerprint]].TS != ""
	})
	s.srv.FailNext("chat.getPermalink", "channel_not_found")
	_, err := s.n.ThreadLink(ctx, "platform/apps", inc.Fingerprint)
	if err == nil || !strings.Contains(err.Error(), "chat.getPermalink") || !strings.Contains(err.Error(), root.TS) || !strings.Contains(err.Error(), "channel_not_found") {
		t.Errorf("refused permalink: %v", err)
	}
	if link, err := s.n.ThreadLink(ctx, "platform/apps", inc.Fingerprint); err != nil || link != slackserver.Permalink("C0OPS", root.TS) {
		t.Errorf("second ask = %q, %v", link, err)
	}

	w := newScene(t, nil)
	w.target = Target{WebhookURL: w.srv.WebhookURL()}
	w.notify(Notification{Event: EventOpened, Revision: rev, Mode: "alert", Incidents: []*report.Incident{inc}, At: at})
	w.srv.Wait(1, 10*time.Second)
	if link, err := w.n.ThreadLink(ctx, "platform/apps", inc.Fingerprint); err != nil || link != "" {
		t.Errorf("webhook thread link = %q, %v; want none", link, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
