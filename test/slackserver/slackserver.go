// Package slackserver is slack-go's slacktest server with recording handlers for the Web API
// methods Plumbline calls (chat.postMessage, chat.update, conversations.history,
// conversations.replies, usergroups.users.list, chat.getPermalink) and an incoming webhook. Every handler records
// the request body and answers with a unique ts; a test can make the server answer 429, 5xx or
// a Slack error, and look at what it received.
package slackserver

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// Message is one request the server accepted or refused.
type Message struct {
	// Method is the Web API method (chat.postMessage, chat.update) or "webhook".
	Method   string
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	Blocks   string
	Metadata string
	// Body is the request body as received.
	Body string
	// Refused is true when the server answered with an error.
	Refused bool
}

// Server is a recording Slack Web API.
type Server struct {
	*slacktest.Server

	mu       sync.Mutex
	all      []Message
	seq      int
	down     bool
	fail     []failure
	groups   map[string][]string
	onRecord func(Message)
	// links are the chat.getPermalink requests, kept apart from the messages.
	links []Message
}

// failure is one prepared error answer for a method.
type failure struct {
	method     string
	status     int
	retryAfter string
	slackErr   string
	// after: answer the error after recording the message as posted (an ambiguous failure).
	after bool
}

// New starts a recording server; Stop it when done.
func New() *Server {
	s := &Server{groups: map[string][]string{}}
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", s.post)
		c.Handle("/chat.update", s.post)
		c.Handle("/conversations.history", s.history)
		c.Handle("/conversations.replies", s.history)
		c.Handle("/usergroups.users.list", s.groupMembers)
		c.Handle("/chat.getPermalink", s.permalink)
		c.Handle("/webhook", s.webhook)
	})
	s.Server.Start()
	return s
}

// APIURL is the base URL to give the notifier.
func (s *Server) APIURL() string { return s.GetAPIURL() }

// WebhookURL is the URL of the server's incoming webhook.
func (s *Server) WebhookURL() string { return s.GetAPIURL() + "webhook" }

// SetDown makes every request answer 503 (true) or be served again (false).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// RateLimitNext makes the next request of method answer 429 with Retry-After.
func (s *Server) RateLimitNext(method string, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, failure{method: method, status: http.StatusTooManyRequests, retryAfter: fmt.Sprint(int(retryAfter.Seconds()))})
}

// FailNext makes the next request of method answer ok:false with a Slack error code.
func (s *Server) FailNext(method, slackErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, failure{method: method, status: http.StatusOK, slackErr: slackErr})
}

// LoseNextAnswer makes the next request of method post the message and then answer 500, as
// a Slack that timed out after posting does.
func (s *Server) LoseNextAnswer(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, failure{method: method, status: http.StatusInternalServerError, after: true})
}

// SetGroup sets the members of a user group.
func (s *Server) SetGroup(id string, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = users
}

// OnRecord calls f for each message recorded, for a demo that prints them.
func (s *Server) OnRecord(f func(Message)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRecord = f
}

// All returns every request recorded, refused ones included, in order.
func (s *Server) All() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.all...)
}

// Messages returns the accepted posts, updates and webhook messages, in order.
func (s *Server) Messages() []Message {
	var out []Message
	for _, m := range s.All() {
		if !m.Refused {
			out = append(out, m)
		}
	}
	return out
}

// Wait waits until at least n messages were accepted, or d passed; it returns them.
func (s *Server) Wait(n int, d time.Duration) []Message {
	deadline := time.Now().Add(d)
	for {
		msgs := s.Messages()
		if len(msgs) >= n || time.Now().After(deadline) {
			return msgs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// prepared returns the failure to answer for method, if any; s.mu is held.
func (s *Server) prepared(method string) (failure, bool) {
	if s.down {
		return failure{status: http.StatusServiceUnavailable}, true
	}
	for i, f := range s.fail {
		if f.method == method {
			s.fail = append(s.fail[:i], s.fail[i+1:]...)
			return f, true
		}
	}
	return failure{}, false
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) post(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/")
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	m := Message{Method: method, Channel: form.Get("channel"), ThreadTS: form.Get("thread_ts"), Text: form.Get("text"),
		Blocks: form.Get("blocks"), Metadata: form.Get("metadata"), Body: string(body), TS: form.Get("ts")}
	s.mu.Lock()
	f, failing := s.prepared(method)
	if failing && !f.after {
		m.Refused = true
		s.all = append(s.all, m)
		s.mu.Unlock()
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		if f.slackErr != "" {
			writeJSON(w, map[string]any{"ok": false, "error": f.slackErr})
			return
		}
		w.WriteHeader(f.status)
		return
	}
	if m.Channel == "" {
		s.mu.Unlock()
		writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	if method == "chat.postMessage" {
		s.seq++
		m.TS = fmt.Sprintf("%d.%06d", 1700000000+s.seq, s.seq)
	}
	s.all = append(s.all, m)
	on := s.onRecord
	s.mu.Unlock()
	if on != nil {
		on(m)
	}
	if failing {
		w.WriteHeader(f.status)
		return
	}
	writeJSON(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS})
}

// history answers conversations.history and conversations.replies with the accepted messages
// of the channel (and thread), newest first, with their metadata.
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	method := strings.TrimPrefix(r.URL.Path, "/")
	channel, thread := r.FormValue("channel"), r.FormValue("ts")
	s.mu.Lock()
	f, failing := s.prepared(method)
	var msgs []slack.Message
	for i := len(s.all) - 1; i >= 0; i-- {
		m := s.all[i]
		if m.Refused || m.Method != "chat.postMessage" || m.Channel != channel {
			continue
		}
		if method == "conversations.replies" && m.ThreadTS != thread && m.TS != thread {
			continue
		}
		var meta slack.SlackMetadata
		_ = json.Unmarshal([]byte(m.Metadata), &meta)
		msg := slack.Message{}
		msg.Timestamp, msg.Text, msg.ThreadTimestamp, msg.Metadata = m.TS, m.Text, m.ThreadTS, meta
		msgs = append(msgs, msg)
	}
	s.mu.Unlock()
	if failing {
		w.WriteHeader(f.status)
		return
	}
	writeJSON(w, map[string]any{"ok": true, "messages": msgs, "has_more": false})
}

// Permalink is the link the server gives for the message ts of channel, as Slack's
// chat.getPermalink does: https://<workspace>.slack.com/archives/<channel>/p<ts without the dot>.
func Permalink(channel, ts string) string {
	return "https://plumbline-test.slack.com/archives/" + channel + "/p" + strings.ReplaceAll(ts, ".", "")
}

// Permalinks returns the chat.getPermalink requests, refused ones included, in order: their
// Channel and TS (message_ts).
func (s *Server) Permalinks() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.links...)
}

// permalink answers chat.getPermalink for a message the server accepted, and message_not_found
// for any other.
func (s *Server) permalink(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	m := Message{Method: "chat.getPermalink", Channel: r.FormValue("channel"), TS: r.FormValue("message_ts")}
	s.mu.Lock()
	f, failing := s.prepared(m.Method)
	found := false
	for _, p := range s.all {
		found = found || (!p.Refused && p.Method == "chat.postMessage" && p.Channel == m.Channel && p.TS == m.TS)
	}
	m.Refused = failing || !found
	s.links = append(s.links, m)
	s.mu.Unlock()
	switch {
	case failing && f.slackErr != "":
		writeJSON(w, map[string]any{"ok": false, "error": f.slackErr})
	case failing:
		w.WriteHeader(f.status)
	case !found:
		writeJSON(w, map[string]any{"ok": false, "error": "message_not_found"})
	default:
		writeJSON(w, map[string]any{"ok": true, "channel": m.Channel, "permalink": Permalink(m.Channel, m.TS)})
	}
}

func (s *Server) groupMembers(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	users := s.groups[r.FormValue("usergroup")]
	s.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "users": users})
}

func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var wm struct {
		Text   string          `json:"text"`
		Blocks json.RawMessage `json:"blocks"`
	}
	_ = json.Unmarshal(body, &wm)
	m := Message{Method: "webhook", Text: wm.Text, Blocks: string(wm.Blocks), Body: string(body)}
	s.mu.Lock()
	f, failing := s.prepared("webhook")
	m.Refused = failing
	s.all = append(s.all, m)
	on := s.onRecord
	s.mu.Unlock()
	if failing {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		w.WriteHeader(f.status)
		return
	}
	if on != nil {
		on(m)
	}
	_, _ = io.WriteString(w, "ok")
}
