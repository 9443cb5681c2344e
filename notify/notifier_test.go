package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack"

	"github.com/plumbline/plumbline/report"
)

func TestMissionThread(t *testing.T) {
	s := newScene(t, nil)
	incs := missionIncidents()
	s.notify(Notification{Event: EventOpened, Revision: rev, Mode: "revert", Incidents: incs, At: at})
	s.notify(Notification{Event: EventOpened, Revision: rev, Mode: "revert", Incidents: incs, At: at}) // seen again: no second root
	s.notify(Notification{Event: EventReverted, Revision: rev, Incidents: incs[:1], At: at.Add(5 * time.Second)})
	for _, inc := range incs {
		inc.State = report.IncidentResolved
	}
	s.notify(Notification{Event: EventResolved, Revision: rev, Incidents: incs, At: at.Add(65 * time.Second)})
	msgs := s.srv.Wait(3, 10*time.Second)
	if got := methods(msgs); got != "chat.postMessage chat.postMessage chat.update" {
		t.Fatalf("requests = %s, want a root, one reply and an update", got)
	}
	rootMsg, reply, update := msgs[0], msgs[1], msgs[2]
	if rootMsg.Text != missionText {
		t.Errorf("root text (-want +got):\n%s", cmp.Diff(missionText, rootMsg.Text))
	}
	if rootMsg.ThreadTS != "" || rootMsg.Channel != "C0OPS" {
		t.Errorf("root went to channel %q thread %q", rootMsg.Channel, rootMsg.ThreadTS)
	}
	var blocks slack.Blocks
	if err := json.Unmarshal([]byte(rootMsg.Blocks), &blocks); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rootMsg.Blocks, `"Revert now"`) || !strings.Contains(rootMsg.Blocks, `"Silence 24h"`) {
		t.Errorf("root blocks lack the buttons: %s", rootMsg.Blocks)
	}
	if strings.Contains(rootMsg.Blocks, ActionKeep) || !strings.Contains(rootMsg.Blocks, "pull requests are not configured") {
		t.Errorf("without proposals Keep must be a notice, not a button: %s", rootMsg.Blocks)
	}
	wantReply := "Reverted to Git at 2026-11-28 10:30:05 UTC\nResolved: live state matches Git again"
	if reply.ThreadTS != rootMsg.TS || reply.Text != wantReply {
		t.Errorf("reply = %q in thread %q, want %q in %q", reply.Text, reply.ThreadTS, wantReply, rootMsg.TS)
	}
	if update.TS != rootMsg.TS || !strings.HasPrefix(update.Text, ":white_check_mark: Resolved after 1m5s: Drift detected: Deployment 'nginx-deployment'") {
		t.Errorf("update of %q = %q", update.TS, update.Text)
	}
	if !strings.Contains(update.Text, "Reason: Image changed from 'nginx:1.21.0' to 'nginx:latest'") || strings.Contains(update.Blocks, "Revert now") {
		t.Errorf("the resolved root keeps its story and drops its buttons: %s", update.Blocks)
	}
}

func TestChangedByActor(t *testing.T) {
	f := missionIncidents()[0].Findings[0]
	f.Actor = &report.Actor{User: "alice@example.com", UserAgent: "kubectl/v1.32.0", Time: &at}
	got := findingLines(f)
	want := []string{"Reason: Image changed from 'nginx:1.21.0' to 'nginx:latest'", "Changed by: alice@example.com (kubectl-set, kubectl/v1.32.0) at 2026-11-28 10:30:00 UTC"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func manyDrifts(n int) []*report.Incident {
	var incs []*report.Incident
	for i := range n {
		o := nginx
		o.Name = fmt.Sprintf("web-%02d", i)
		incs = append(incs, incidentOf(report.Finding{Type: report.Modified, Object: o, Fields: []report.Field{{Path: ".spec.replicas", Desired: 3, Live: 5, Manager: "kubectl-scale"}}}))
	}
	return incs
}

func TestManyObjectsOneMessage(t *testing.T) {
	for _, tc := range []struct {
		objects, sections, omitted int
	}{{20, 20, 0}, {60, 46, 14}} {
		t.Run(fmt.Sprint(tc.objects), func(t *testing.T) {
			s := newScene(t, nil)
			s.notify(Notification{Event: EventOpened, Revision: rev, Incidents: manyDrifts(tc.objects)})
			msgs := s.srv.Wait(1, 10*time.Second)
			if len(msgs) != 1 {
				t.Fatalf("%d messages, want 1", len(msgs))
			}
			var blocks slack.Blocks
			if err := json.Unmarshal([]byte(msgs[0].Blocks), &blocks); err != nil {
				t.Fatal(err)
			}
			sections := 0
			for _, b := range blocks.BlockSet[1:] {
				if sec, ok := b.(*slack.SectionBlock); ok {
					sections++
					if len(sec.Text.Text) > maxSectionText {
						t.Errorf("section of %d characters", len(sec.Text.Text))
					}
				}
			}
			if sections != tc.sections || len(blocks.BlockSet) > maxBlocks {
				t.Errorf("%d object sections in %d blocks, want %d in at most %d", sections, len(blocks.BlockSet), tc.sections, maxBlocks)
			}
			notice := fmt.Sprintf("%d more findings not shown", tc.omitted)
			if got := strings.Contains(msgs[0].Blocks, notice); got != (tc.omitted > 0) {
				t.Errorf("cut notice %q shown = %v: %s", notice, got, msgs[0].Text)
			}
			if !strings.HasPrefix(msgs[0].Text, fmt.Sprintf(":warning: Drift detected: %d objects of platform/apps", tc.objects)) {
				t.Errorf("text = %q", msgs[0].Text)
			}
		})
	}
}

func TestRateLimitedOnce(t *testing.T) {
	s := newScene(t, nil)
	s.srv.RateLimitNext("chat.postMessage", 2*time.Second)
	start := time.Now()
	s.notify(Notification{Event: EventOpened, Revision: rev, Incidents: missionIncidents()})
	msgs := s.srv.Wait(1, 10*time.Second)
	time.Sleep(500 * time.Millisecond) // a duplicate would come now
	all := s.srv.All()
	if len(s.srv.Messages()) != 1 || len(all) != 2 || !all[0].Refused {
		t.Fatalf("requests = %+v, want one refused with 429 and one accepted", all)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("the retry came %s after the 429, before its Retry-After of 2s", took)
	}
	if msgs[0].Text != all[0].Text {
		t.Errorf("the retry posted %q, not the refused %q", msgs[0].Text, all[0].Text)
	}
}

func TestSlackDownThenUp(t *testing.T) {
	s := newScene(t, func(o *Options) { o.MaxBackoff = 4 * time.Second })
	s.srv.SetDown(true)
	a, b := manyDrifts(2)[0], manyDrifts(2)[1]
	s.notify(Notification{Event: EventOpened, Revision: rev, Incidents: []*report.Incident{a}})
	s.notify(Notification{Event: EventOpened, Revision: rev, Incidents: []*report.Incident{b}})
	s.notify(Notification{Event: EventReverted, Revision: rev, Incidents: []*report.Incident{a}})
	s.notify(Notification{Event: EventSourceFailed, Detail: "fetch https://git.example.com/platform/apps.git: connection refused"})
	s.notify(Notification{Event: EventResolved, Revision: rev, Incidents: []*report.Incident{b}})
	time.Sleep(30 * time.Second)
	if n := len(s.srv.Messages()); n != 0 {
		t.Fatalf("%d messages accepted while Slack was down", n)
	}
	s.srv.SetDown(false)
	msgs := s.srv.Wait(5, 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	msgs = s.srv.Messages()
	var got []string
	for _, m := range msgs {
		got = append(got, m.Method+" "+strings.SplitN(m.Text, "\n", 2)[0])
	}
	want := []string{
		"chat.postMessage :warning: Drift detected: Deployment 'web-00' in namespace 'default'",
		"chat.postMessage :warning: Drift detected: Deployment 'web-01' in namespace 'default'",
		"chat.postMessage Reverted to Git at " + "",
		"chat.postMessage :x: Source platform/apps failed: fetch https://git.example.com/platform/apps.git: connection refused",
		"chat.postMessage Resolved: live state matches Git again",
		"chat.update :white_check_mark: Resolved after 0s: Drift detected: Deployment 'web-01' in namespace 'default'",
	}
	if len(got) == len(want) {
		want[2] = got[2] // the revert's time is the notifier's clock
		if !strings.HasPrefix(got[2], "chat.postMessage Reverted to Git at ") {
			t.Errorf("third message = %q", got[2])
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages after Slack came back (-want +got):\n%s", diff)
	}
	if msgs[2].ThreadTS != msgs[0].TS || msgs[4].ThreadTS != msgs[1].TS || msgs[5].TS != msgs[1].TS {
		t.Errorf("replies and edit went to the wrong threads: %+v", msgs)
	}
}

func TestAmbiguousFailureNoDuplicate(t *testing.T) {
	s := newScene(t, nil)
	s.srv.LoseNextAnswer("chat.postMessage")
	incs := missionIncidents()
	s.notify(Notification{Event: EventOpened, Revision: rev, Incidents: incs})
	s.notify(Notification{Event: EventReverted, Revision: rev, Incidents: incs[:1]})
	msgs := s.srv.Wait(2, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	msgs = s.srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("messages = %s, want the root once and its reply", methods(msgs))
	}
	if msgs[1].ThreadTS != msgs[0].TS {
		t.Errorf("reply in thread %q, root is %q", msgs[1].ThreadTS, msgs[0].TS)
	}
}

func TestRestartKeepsThread(t *testing.T) {
	s := newScene(t, nil)
	incs := missionIncidents()
	s.notify(Notification{Event: EventOpened, Revision: rev, Incidents: incs})
	root := s.srv.Wait(1, 10*time.Second)[0]
	s.stop()
	// Slack is down when the next process starts: what it queues survives it too.
	s.srv.SetDown(true)
	s.n = s.notifier(nil)
	s.start()
	s.notify(Notification{Event: EventOpened, Revision: rev, Incidents: incs})
	s.notify(Notification{Event: EventFight, Revision: rev, Incidents: incs[:1]})
	s.stop()
	s.srv.SetDown(false)
	s.n = s.notifier(nil) // a leader change: a third notifier drains what the second queued
	s.start()
	msgs := s.srv.Wait(2, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	msgs = s.srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("messages = %s, want the first root and one reply", methods(msgs))
	}
	want := "Fight with manager kubectl-set on " + imgPath + ": stopped reverting"
	if msgs[1].ThreadTS != root.TS || msgs[1].Text != want {
		t.Errorf("reply %q in thread %q, want %q in %q", msgs[1].Text, msgs[1].ThreadTS, want, root.TS)
	}
}

func TestSecretNeverShown(t *testing.T) {
	s := newScene(t, nil)
	secret := report.ObjectRef{APIVersion: "v1", Kind: "Secret", Namespace: "default", Name: "db"}
	raw, b64 := "hunter2-s3cret", "aHVudGVyMi1zM2NyZXQ="
	f := report.Finding{Type: report.Modified, Object: secret, Message: "data differs", Fields: []report.Field{
		{Path: ".data.password", Desired: "(masked)", Live: "(masked)", Masked: true, Manager: "kubectl-edit"},
		{Path: ".stringData.token", Desired: raw, Live: b64, Manager: "kubectl-edit"}, // never trusted to be masked upstream
	}}
	s.notify(Notification{Event: EventOpened, Revision: rev, Incidents: []*report.Incident{incidentOf(f)}})
	msgs := s.srv.Wait(1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	for _, m := range s.srv.All() {
		for _, v := range []string{raw, b64} {
			if strings.Contains(m.Body, v) {
				t.Errorf("request body holds a Secret value %q: %s", v, m.Body)
			}
		}
	}
	if !strings.Contains(msgs[0].Text, "Reason: .data.password: data changed (masked)") || !strings.Contains(msgs[0].Text, ".stringData.token: data changed (masked)") {
		t.Errorf("text = %q", msgs[0].Text)
	}
}

func TestWebhookFlat(t *testing.T) {
	s := newScene(t, nil)
	s.target = Target{WebhookURL: s.srv.WebhookURL()}
	incs := missionIncidents()
	s.notify(Notification{Event: EventOpened, Revision: rev, Mode: "revert", Incidents: incs})
	s.notify(Notification{Event: EventReverted, Revision: rev, Incidents: incs[:1]})
	s.notify(Notification{Event: EventResolved, Revision: rev, Incidents: incs})
	s.srv.Wait(2, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	msgs := s.srv.Messages()
	if got := methods(msgs); got != "webhook webhook" {
		t.Fatalf("requests = %s, want two webhook messages and no Web API calls", got)
	}
	if msgs[0].Text != missionText {
		t.Errorf("first message (-want +got):\n%s", cmp.Diff(missionText, msgs[0].Text))
	}
	if want := "Deployment/default/nginx-deployment"; !strings.Contains(msgs[1].Text, want) || !strings.Contains(msgs[1].Text, "Resolved: live state matches Git again") {
		t.Errorf("flat reply %q must name the object and say what happened", msgs[1].Text)
	}
}

func TestPermanentErrorNotRetried(t *testing.T) {
	s := newScene(t, nil)
	s.srv.FailNext("chat.postMessage", "channel_not_found")
	incs := missionIncidents()
	s.notify(Notification{Event: EventOpened, Revision: rev, Incidents: incs})
	s.notify(Notification{Event: EventReverted, Revision: rev, Incidents: incs[:1]})
	select {
	case err := <-s.errs:
		if !strings.Contains(err.Error(), "channel_not_found") || !strings.Contains(err.Error(), "platform/apps") {
			t.Errorf("error = %v, want one naming the Source and channel_not_found", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no permanent error reported")
	}
	time.Sleep(500 * time.Millisecond)
	if all := s.srv.All(); len(all) != 1 {
		t.Errorf("requests = %d (%s), want the one refused post and no retry, no orphan reply", len(all), methods(all))
	}
}

func TestEscaping(t *testing.T) {
	o := nginx
	o.Name = "<!channel> & <http://evil|click>"
	got := newRoot(Notification{Source: "platform/apps", Incidents: []*report.Incident{incidentOf(report.Finding{Type: report.Missing, Object: o, Message: "not in the cluster <@U1>"})}})
	all := got.text(got.Title)
	if strings.ContainsAny(strings.ReplaceAll(all, "&amp;", ""), "<>") || strings.Contains(all, " & ") {
		t.Errorf("unescaped text: %q", all)
	}
	if !strings.Contains(all, "&lt;!channel&gt; &amp; &lt;http://evil|click&gt;") {
		t.Errorf("text = %q", all)
	}
}

func TestImageStory(t *testing.T) {
	layers := 2
	f := report.Finding{Type: report.ImageTagMutated, Object: nginx, Image: &report.Image{
		Ref: "nginx:1.21.0", Approved: "sha256:aaa", Resolved: "sha256:bbb", LayersChanged: &layers,
		Running: []report.RunningDigest{{Digest: "sha256:bbb", Pods: []string{"nginx-2", "nginx-1"}}},
		Changes: &report.ImageChanges{PackagesChanged: []report.PackageChange{{Name: "openssl", From: "3.0.1", To: "3.0.2"}},
			NewVulnerabilities: []report.Vulnerability{{ID: "CVE-2026-0001", Package: "openssl", Version: "3.0.2", Severity: "high"}}},
	}}
	want := []string{
		"Reason: Tag 'nginx:1.21.0' now serves another image than the one approved in Git",
		"Approved: sha256:aaa", "Served: sha256:bbb",
		"What changed: 2 layers, openssl 3.0.1 → 3.0.2",
		"New vulnerabilities: CVE-2026-0001 in openssl 3.0.2 (high)",
		"Pods affected: nginx-1, nginx-2",
	}
	if diff := cmp.Diff(want, findingLines(f)); diff != "" {
		t.Errorf("image story (-want +got):\n%s", diff)
	}
}

// TestAmbiguousCoalescedReplies: replies joined into one message whose answer was lost are not
// lost themselves when more replies queue up before the retry.
func TestAmbiguousCoalescedReplies(t *testing.T) {
	s := newScene(t, nil)
	incs := missionIncidents()
	s.notify(Notification{Event: EventOpened, Revision: rev, Incidents: incs})
	s.srv.Wait(1, 10*time.Second)
	s.srv.LoseNextAnswer("chat.postMessage")
	s.notify(Notification{Event: EventReverted, Revision: rev, Incidents: incs[:1], At: at})
	time.Sleep(20 * time.Millisecond) // the first attempt is on its way, or its answer lost
	s.notify(Notification{Event: EventRevertFailed, Revision: rev, Incidents: incs[:1], Detail: "forbidden"})
	s.srv.Wait(3, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	var got []string
	for _, m := range s.srv.Messages()[1:] {
		got = append(got, m.Text)
	}
	joined := strings.Join(got, "\n")
	if strings.Count(joined, "Reverted to Git at") != 1 || strings.Count(joined, "Revert failed: forbidden") != 1 {
		t.Errorf("replies = %q, want each reply exactly once", got)
	}
}

// frozenStore keeps saves from reaching its MemoryStore once frozen, as a process that stops
// between Slack's answer and its own record does.
type frozenStore struct {
	*MemoryStore
	frozen atomic.Bool
}

func (f *frozenStore) Save(ctx context.Context, source string, st *State) error {
	if f.frozen.Load() {
		return errors.New("the process stopped")
	}
	return f.MemoryStore.Save(ctx, source, st)
}

// TestStopAfterSendNoDuplicate: a process posts a root and stops before it records that; the
// next one finds the root in Slack by its metadata and posts it no second time.
func TestStopAfterSendNoDuplicate(t *testing.T) {
	store := &frozenStore{MemoryStore: &MemoryStore{}}
	s := newScene(t, func(o *Options) { o.Store = store })
	s.stop()
	incs := missionIncidents()
	s.notify(Notification{Event: EventOpened, Revision: rev, Incidents: incs}) // saved, not sent
	store.frozen.Store(true)
	s.n = s.notifier(func(o *Options) { o.Store = store })
	s.start()
	s.srv.Wait(1, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	s.stop()
	store.frozen.Store(false)
	s.n = s.notifier(func(o *Options) { o.Store = store })
	s.start()
	s.notify(Notification{Event: EventReverted, Revision: rev, Incidents: incs[:1]})
	s.srv.Wait(2, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	msgs := s.srv.Messages()
	if len(msgs) != 2 || msgs[1].ThreadTS != msgs[0].TS {
		t.Fatalf("messages:\n%+v\nwant the root once and the reply in its thread", msgs)
	}
}

func TestKeepButtonWithProposals(t *testing.T) {
	r := newRoot(Notification{Source: "platform/apps", Incidents: missionIncidents()})
	for _, tc := range []struct {
		proposals bool
		button    bool
	}{{false, false}, {true, true}} {
		b, err := json.Marshal(slack.Blocks{BlockSet: r.blocks(r.Title, "v", true, tc.proposals)})
		if err != nil {
			t.Fatal(err)
		}
		got := string(b)
		if strings.Contains(got, `"action_id":"`+ActionKeep+`"`) != tc.button || strings.Contains(got, "pull requests are not configured") == tc.button {
			t.Errorf("proposals %v: blocks %s", tc.proposals, got)
		}
		if tc.button && !strings.Contains(got, "Keep it (open a pull request)") {
			t.Errorf("no Keep button: %s", got)
		}
	}
}
