package reconciler

import (
	"context"
	"log/slog"

	"github.com/plumbline/plumbline/report"
)

// Event says what happened to an incident or a Source.
type Event string

// Events a Notifier hears of. Each new incident, each change of an incident's state and each
// new Source error reaches the Notifier once.
const (
	// EventOpened: a new incident.
	EventOpened Event = "opened"
	// EventReverted: Plumbline applied Git's state over the drift.
	EventReverted Event = "reverted"
	// EventRevertFailed: the revert was refused (forbidden, invalid, conflict).
	EventRevertFailed Event = "revert-failed"
	// EventFight: another manager keeps writing the field back; Plumbline stopped reverting it.
	EventFight Event = "fight"
	// EventResolved: the live state matches Git again.
	EventResolved Event = "resolved"
	// EventSourceFailed: the Source could not be fetched, rendered or checked; the last good
	// state stays in force and nothing is reverted or pruned from the broken one.
	EventSourceFailed Event = "source-failed"
	// EventAction: a person asked for something from Slack (revert now, keep it, silence);
	// Detail says who and what, for the thread.
	EventAction Event = "action"
	// EventProposalOpened: a pull request proposes the live state, or the served digest, to Git;
	// Detail holds its URL.
	EventProposalOpened Event = "proposal-opened"
	// EventProposalMerged and EventProposalClosed: the pull request was merged or closed; Detail
	// says by whom.
	EventProposalMerged Event = "proposal-merged"
	EventProposalClosed Event = "proposal-closed"
	// EventProposalFailed: no pull request was opened (its state breaks a blocking policy, or the
	// forge refused); Detail says why.
	EventProposalFailed Event = "proposal-failed"
	// EventEvicted: a pod of the workload was evicted in response to runtime drift; Detail names it.
	EventEvicted Event = "evicted"
)

// Notification is one thing a Notifier is told.
type Notification struct {
	Event Event
	// Source is the Source, as namespace/name, and what it points at.
	Source   string
	Revision report.Source
	// Incidents are the incidents the event is about, one per object and problem, from one pass
	// over the Source: a reconcile that finds several drifts tells of them in one notification.
	// Empty for EventSourceFailed.
	Incidents []*report.Incident
	// Report is the report the incident came from; nil for EventSourceFailed.
	Report *report.Report
	// Detail says more: the other manager of a fight, the error of a failed revert or Source.
	// It never holds Secret data.
	Detail string
}

// Notifier hears of incidents and Source errors. Notify must not block for long: a slow
// notifier queues. The Slack notifier implements it; the default writes log lines.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// StagingNotifier is a Notifier that can make a notification durable before it sends it. The
// controller stages a pass's notifications before it writes the Source's status and releases
// them after, so that a crash, or a failed status write, between the two loses no notice (the
// incident is in the status, or in the outbox, or both); a repeat after a restart is
// deduplicated by incident. Other notifiers are told after the status is written.
type StagingNotifier interface {
	Notifier
	// Stage saves n and holds it; Release sends what was staged for a Source.
	Stage(ctx context.Context, n Notification) error
	Release(ctx context.Context, source string)
}

// ThreadLinker is a Notifier that can link to where it told of an incident: the Slack
// notifier gives the permalink of the incident's thread, for its pull request's body.
type ThreadLinker interface {
	// ThreadLink returns the link of the incident's thread, or "" while it has none yet.
	ThreadLink(ctx context.Context, source, fingerprint string) (string, error)
}

// LogNotifier writes each notification as a structured log line.
type LogNotifier struct{ Log *slog.Logger }

// Notify logs n. It never fails.
func (l LogNotifier) Notify(_ context.Context, n Notification) error {
	attrs := []any{"event", string(n.Event), "source", n.Source}
	if n.Revision.Revision != "" {
		attrs = append(attrs, "revision", shortRevision(n.Revision.Revision))
	}
	if n.Detail != "" {
		attrs = append(attrs, "detail", n.Detail)
	}
	if len(n.Incidents) == 0 {
		l.Log.Info("notification", attrs...)
	}
	for _, inc := range n.Incidents {
		a := append(attrs[:len(attrs):len(attrs)], "incident", inc.Fingerprint, "type", string(inc.Type),
			"object", inc.Object.String(), "state", string(inc.State))
		if len(inc.Findings) > 0 {
			a = append(a, "message", inc.Findings[0].Message)
		}
		l.Log.Info("notification", a...)
	}
	return nil
}

// shortRevision is the first 7 characters of a commit SHA.
func shortRevision(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
