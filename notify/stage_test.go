package notify

import (
	"context"
	"testing"
	"time"

	"github.com/plumbline/plumbline/report"
)

// TestStageHoldsUntilRelease: a staged notification is saved at once but sent only at Release;
// a process that stops between the two leaves it in the stored outbox, and the next process
// sends it, once, even when it is told of the incident again.
func TestStageHoldsUntilRelease(t *testing.T) {
	s := newScene(t, nil)
	ctx := context.Background()
	incs := manyDrifts(2)
	a, b := incs[0], incs[1]
	if err := s.n.Stage(ctx, Notification{Event: EventOpened, Source: "platform/apps", Revision: rev, Mode: "alert", Incidents: []*report.Incident{a}, At: at}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if msgs := s.srv.Messages(); len(msgs) != 0 {
		t.Fatalf("a staged notification was sent before Release: %s", methods(msgs))
	}
	if st, err := s.store.Load(ctx, "platform/apps"); err != nil || len(st.Outbox) != 1 || st.Outbox[0].Kind != KindRoot {
		t.Fatalf("stored outbox %+v, %v; want the staged root", st, err)
	}
	s.n.Release("platform/apps")
	if msgs := s.srv.Wait(1, 10*time.Second); len(msgs) != 1 || msgs[0].ThreadTS != "" {
		t.Fatalf("after Release: %s", methods(msgs))
	}

	// Staged, then the process stops before it releases.
	if err := s.n.Stage(ctx, Notification{Event: EventOpened, Source: "platform/apps", Revision: rev, Mode: "alert", Incidents: []*report.Incident{b}, At: at}); err != nil {
		t.Fatal(err)
	}
	s.stop()
	s.n = s.notifier(nil)
	s.start()
	msgs := s.srv.Wait(2, 10*time.Second)
	if len(msgs) != 2 || msgs[1].ThreadTS != "" {
		t.Fatalf("the next process sent %s, want the second root", methods(msgs))
	}
	// The controller, whose status never recorded b, tells of it as new: no second root.
	s.notify(Notification{Event: EventOpened, Revision: rev, Mode: "alert", Incidents: []*report.Incident{b}, At: at})
	time.Sleep(500 * time.Millisecond)
	if msgs := s.srv.Messages(); len(msgs) != 2 {
		t.Errorf("told again after the restart: %s", methods(msgs))
	}
}

// TestStageKeepsOrder: what is queued after a staged notification waits for it: a reply told
// with Notify does not overtake a staged one.
func TestStageKeepsOrder(t *testing.T) {
	s := newScene(t, nil)
	ctx := context.Background()
	inc := manyDrifts(1)[0]
	s.notify(Notification{Event: EventOpened, Revision: rev, Mode: "alert", Incidents: []*report.Incident{inc}, At: at})
	s.srv.Wait(1, 10*time.Second)
	if err := s.n.Stage(ctx, Notification{Event: EventReverted, Source: "platform/apps", Revision: rev, Incidents: []*report.Incident{inc}, At: at.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	inc.State = report.IncidentResolved
	s.notify(Notification{Event: EventResolved, Revision: rev, Incidents: []*report.Incident{inc}, At: at.Add(2 * time.Second)})
	time.Sleep(500 * time.Millisecond)
	if msgs := s.srv.Messages(); len(msgs) != 1 {
		t.Fatalf("sent past a staged reply: %s", methods(msgs))
	}
	s.n.Release("platform/apps")
	msgs := s.srv.Wait(3, 10*time.Second)
	if got := methods(msgs); got != "chat.postMessage chat.postMessage chat.update" {
		t.Fatalf("requests %s", got)
	}
	if want := "Reverted to Git at 2026-11-28 10:30:01 UTC\nResolved: live state matches Git again"; msgs[1].Text != want {
		t.Errorf("reply %q, want %q", msgs[1].Text, want)
	}
}
