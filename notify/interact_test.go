package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plumbline/plumbline/report"
)

const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// recordingActions records what the buttons asked.
type recordingActions struct {
	mu    sync.Mutex
	calls []string
}

func (r *recordingActions) add(s string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
	return nil
}

func (r *recordingActions) RevertNow(_ context.Context, source, fp, by string) error {
	return r.add("revert " + source + " " + fp + " " + by)
}

func (r *recordingActions) Keep(_ context.Context, source, fp, by string) error {
	return r.add("keep " + source + " " + fp + " " + by)
}

func (r *recordingActions) Silence(_ context.Context, source, fp string, d time.Duration, by string) error {
	return r.add(fmt.Sprintf("silence %s %s %s %s", source, fp, d, by))
}

func (r *recordingActions) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// pressBody is Slack's block_actions payload for one press of a root's button.
func pressBody(t *testing.T, action, value, user string) string {
	payload := map[string]any{"type": "block_actions", "user": map[string]any{"id": user, "name": "alice"},
		"actions": []map[string]any{{"type": "button", "action_id": action, "value": value, "block_id": "plumbline_actions"}}}
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return url.Values{"payload": {string(b)}}.Encode()
}

// signed is a request as Slack signs it: v0=HMAC-SHA256(secret, "v0:" + timestamp + ":" + body).
func signed(body, secret string, ts time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(body))
	stamp := fmt.Sprint(ts.Unix())
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	r.Header.Set("X-Slack-Request-Timestamp", stamp)
	r.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestButtons(t *testing.T) {
	s := newScene(t, nil)
	incs := missionIncidents()
	s.notify(Notification{Event: EventOpened, Revision: rev, Incidents: incs})
	rootMsg := s.srv.Wait(1, 10*time.Second)[0]
	value := "platform/apps|platform/apps#1"
	if !strings.Contains(rootMsg.Blocks, `"value":"`+value+`"`) {
		t.Fatalf("the buttons do not carry %q: %s", value, rootMsg.Blocks)
	}
	acts := &recordingActions{}
	done := make(chan error, 10)
	s.srv.SetGroup("S0ONCALL", "U0BOB")
	h, err := s.n.Interactions(InteractionOptions{SigningSecret: signingSecret, Allowed: []string{"U0ALICE", "S0ONCALL"}, Actions: acts,
		Done: func(_, _, _ string, err error) { done <- err }})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, tc := range []struct {
		name string
		req  *http.Request
		code int
	}{
		{"bad signature", signed(pressBody(t, ActionRevert, value, "U0ALICE"), "another secret", now), http.StatusUnauthorized},
		{"old timestamp", signed(pressBody(t, ActionRevert, value, "U0ALICE"), signingSecret, now.Add(-6*time.Minute)), http.StatusUnauthorized},
		{"user not on the list", signed(pressBody(t, ActionRevert, value, "U0MALLORY"), signingSecret, now), http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tc.req)
			if w.Code != tc.code {
				t.Errorf("status %d, want %d", w.Code, tc.code)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	if calls := acts.all(); len(calls) != 0 {
		t.Fatalf("refused requests acted: %v", calls)
	}

	for _, p := range []struct{ action, user, want string }{
		{ActionRevert, "U0ALICE", "revert platform/apps " + incs[0].Fingerprint + " alice (U0ALICE)"},
		{ActionSilence, "U0BOB", "silence platform/apps " + incs[0].Fingerprint + " 24h0m0s alice (U0BOB)"}, // through the group
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signed(pressBody(t, p.action, value, p.user), signingSecret, time.Now()))
		if w.Code != http.StatusOK {
			t.Fatalf("%s by %s: status %d", p.action, p.user, w.Code)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if calls := acts.all(); !strings.Contains(strings.Join(calls, "\n"), p.want) {
			t.Errorf("calls = %v, want %q", calls, p.want)
		}
	}

	for _, inc := range incs {
		inc.State = report.IncidentResolved
	}
	s.notify(Notification{Event: EventResolved, Revision: rev, Incidents: incs})
	before := len(acts.all())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signed(pressBody(t, ActionRevert, value, "U0ALICE"), signingSecret, time.Now()))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(acts.all()) != before {
		t.Errorf("a press on a resolved incident acted: %v", acts.all())
	}
	msgs := s.srv.Wait(4, 10*time.Second)
	last := msgs[len(msgs)-1]
	if last.ThreadTS != rootMsg.TS || last.Text != "Revert now pressed by alice (U0ALICE): nothing done, the incident is resolved" {
		t.Errorf("last message %q in thread %q", last.Text, last.ThreadTS)
	}
}
