package notify

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"
)

// State is what the notifier keeps of one Source in the cluster: its threads and its outbox.
// It holds no credentials.
type State struct {
	// Roots are the root messages, by their key (see Item.Key).
	Roots map[string]*Thread `json:"roots,omitempty"`
	// ByFingerprint maps an incident's fingerprint to the key of its root.
	ByFingerprint map[string]string `json:"byFingerprint,omitempty"`
	// Silenced maps an incident's fingerprint to when its silence ends.
	Silenced map[string]time.Time `json:"silenced,omitempty"`
	// Outbox is what is still to be sent, in order.
	Outbox []Item `json:"outbox,omitempty"`
	// Seq numbers the items: an item's key is the Source and its number.
	Seq int64 `json:"seq"`
}

// Thread is one root message and the incidents it tells of.
type Thread struct {
	Channel string `json:"channel,omitempty"`
	// TS is the root's timestamp once Slack accepted it; empty while it waits in the outbox.
	TS string `json:"ts,omitempty"`
	// Open are the fingerprints of its incidents that are not resolved yet.
	Open     []string  `json:"open,omitempty"`
	Opened   time.Time `json:"opened"`
	Resolved time.Time `json:"resolved,omitzero"`
	Root     root      `json:"root"`
	// Webhook is true when the root went through an incoming webhook: no thread, no edit.
	Webhook bool `json:"webhook,omitempty"`
	// Link is the root's permalink, once asked of Slack (see Notifier.ThreadLink).
	Link string `json:"link,omitempty"`
}

// ItemKind is what an outbox item asks of Slack.
type ItemKind string

// Item kinds.
const (
	// KindRoot posts a root message; KindReply posts into a root's thread; KindUpdate edits a
	// root; KindFlat posts a message outside any thread.
	KindRoot   ItemKind = "root"
	KindReply  ItemKind = "reply"
	KindUpdate ItemKind = "update"
	KindFlat   ItemKind = "flat"
)

// Item is one message waiting in the outbox.
type Item struct {
	// Key identifies the item across retries and restarts: Slack's message metadata carries it,
	// so an ambiguous failure is settled by looking for it before sending again.
	Key  string   `json:"key"`
	Kind ItemKind `json:"kind"`
	// Root is the key of the thread a reply or an update is about.
	Root string `json:"root,omitempty"`
	// Text is the message (for a root and an update, rendered from the thread's Root).
	Text   string    `json:"text,omitempty"`
	Queued time.Time `json:"queued"`
	// Attempts counts the sends that failed; Sent is when the first attempt started.
	Attempts int       `json:"attempts,omitempty"`
	Sent     time.Time `json:"sent,omitzero"`
	// Ambiguous is true when an attempt may have reached Slack (a timeout, a 5xx).
	Ambiguous bool `json:"ambiguous,omitempty"`
	// Batch is how many items (this one and the replies after it) the failed attempt joined
	// into one message, so that the next attempt sends the same message and no more.
	Batch int `json:"batch,omitempty"`
	// Held is true from Stage to Release: the item, and every one after it, waits. It is not
	// saved, so a restarted notifier sends it.
	Held bool `json:"-"`
}

// Store keeps each Source's State in the cluster. Load returns an empty State when there is
// none; Save writes it whole; List names every Source with a stored State; Delete removes one
// (none is no error).
type Store interface {
	Load(ctx context.Context, source string) (*State, error)
	Save(ctx context.Context, source string, st *State) error
	List(ctx context.Context) ([]string, error)
	Delete(ctx context.Context, source string) error
}

// ErrNoSlack is what a TargetFunc returns for a Source that has no Slack configured.
var ErrNoSlack = errors.New("no Slack configured")

// newState returns an empty State.
func newState() *State {
	return &State{Roots: map[string]*Thread{}, ByFingerprint: map[string]string{}, Silenced: map[string]time.Time{}}
}

// fill makes the maps of a loaded State.
func (s *State) fill() *State {
	if s.Roots == nil {
		s.Roots = map[string]*Thread{}
	}
	if s.ByFingerprint == nil {
		s.ByFingerprint = map[string]string{}
	}
	if s.Silenced == nil {
		s.Silenced = map[string]time.Time{}
	}
	return s
}

// MemoryStore keeps States in memory, as JSON, for tests and the demo; it does not survive a
// restart of the process. The zero value is ready.
type MemoryStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Load returns a copy of the State last saved for source, or an empty one.
func (m *MemoryStore) Load(_ context.Context, source string) (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := newState()
	if b, ok := m.m[source]; ok {
		if err := json.Unmarshal(b, st); err != nil {
			return nil, err
		}
	}
	return st.fill(), nil
}

// Save keeps a copy of st.
func (m *MemoryStore) Save(_ context.Context, source string, st *State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string][]byte{}
	}
	m.m[source] = b
	return nil
}

// List names the Sources with a saved State.
func (m *MemoryStore) List(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.m)), nil
}

// Delete forgets a Source's State.
func (m *MemoryStore) Delete(_ context.Context, source string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, source)
	return nil
}
