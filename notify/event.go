package notify

import (
	"time"

	"github.com/plumbline/plumbline/report"
)

// Event says what happened to an incident or a Source; the values are the reconciler's.
type Event string

// Events the notifier renders.
const (
	EventOpened         Event = "opened"
	EventReverted       Event = "reverted"
	EventRevertFailed   Event = "revert-failed"
	EventFight          Event = "fight"
	EventResolved       Event = "resolved"
	EventSourceFailed   Event = "source-failed"
	EventAction         Event = "action"
	EventProposalOpened Event = "proposal-opened"
	EventProposalMerged Event = "proposal-merged"
	EventProposalClosed Event = "proposal-closed"
	EventProposalFailed Event = "proposal-failed"
	EventEvicted        Event = "evicted"
)

// Notification is one thing to tell Slack about one Source.
type Notification struct {
	Event Event
	// Source is the Source as namespace/name.
	Source string
	// Revision is what the Source points at.
	Revision report.Source
	// Mode is the Source's mode for the incidents' finding types (alert, revert, propose), for
	// the root's last line. Empty omits it.
	Mode string
	// Incidents are the incidents the event is about; empty for EventSourceFailed.
	Incidents []*report.Incident
	// Detail says more (the error, who pressed what, a pull request's URL). Never Secret data.
	Detail string
	// At is when it happened. Zero: the notifier's clock.
	At time.Time
}
