package report

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// IncidentState is where an incident is in its life.
type IncidentState string

// Incident states.
const (
	// IncidentOpen: the problem is there and nothing has put it right yet.
	IncidentOpen IncidentState = "open"
	// IncidentReverted: Plumbline applied Git's state; the incident resolves when the next
	// comparison finds no drift.
	IncidentReverted IncidentState = "reverted"
	// IncidentFight: another manager keeps writing the field back; Plumbline stopped reverting.
	IncidentFight IncidentState = "fight"
	// IncidentResolved: the live state matches Git again.
	IncidentResolved IncidentState = "resolved"
)

// Incident is one open problem of one source: the findings that share a fingerprint, and their
// life. Notifications, Slack threads and pull requests hang off incidents, not findings, so the
// same drift seen on every reconcile is one incident.
type Incident struct {
	// Fingerprint identifies the incident: see Fingerprint.
	Fingerprint string `json:"fingerprint"`
	// Source is the name of the source the incident belongs to.
	Source string `json:"source"`
	// Type is the finding type; Object the object it is about.
	Type   FindingType `json:"type"`
	Object ObjectRef   `json:"object"`
	// Paths are the field paths of a Modified finding, sorted.
	Paths []string `json:"paths,omitempty"`
	// State is the incident's state.
	State IncidentState `json:"state"`
	// FirstSeen and LastSeen bound the incident's life so far.
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	// Findings are the latest findings with this fingerprint.
	Findings []Finding `json:"findings"`
	// Proposal is the pull request that proposes the incident's state to Git; nil when there
	// is none.
	Proposal *Proposal `json:"proposal,omitempty"`
}

// Proposal is an incident's pull request.
type Proposal struct {
	// State is open, merged, closed or failed (none could be opened; Message says why).
	State  string `json:"state"`
	URL    string `json:"url,omitempty"`
	Number int64  `json:"number,omitempty"`
	Branch string `json:"branch,omitempty"`
	// BaseCommit is the base tip the branch was built on; Change identifies what it proposes.
	BaseCommit string `json:"baseCommit,omitempty"`
	Change     string `json:"change,omitempty"`
	// By is who merged or closed it.
	By string `json:"by,omitempty"`
	// MergedRevision is the Source's revision when the merge was seen.
	MergedRevision string `json:"mergedRevision,omitempty"`
	// Thread links to the incident's Slack thread once the body carries the link.
	Thread  string `json:"thread,omitempty"`
	Message string `json:"message,omitempty"`
}

// Fingerprint returns the identity of the problem a finding describes: the source, the object,
// the finding type and what it is about (field paths, rule, image, container, reason), never
// times, values or revisions. The same drift seen again has the same fingerprint; the same field
// drifting to another value is the same incident. It is 16 hex digits.
func Fingerprint(source string, f Finding) string {
	parts := []string{
		source, string(f.Type), f.Reason,
		f.Object.APIVersion, f.Object.Kind, f.Object.Namespace, f.Object.Name,
		f.Rule, f.Container, f.Where,
	}
	if f.Image != nil {
		parts = append(parts, f.Image.Ref)
	}
	parts = append(parts, FieldPaths(f)...)
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:8])
}

// FieldPaths returns the sorted field paths of a finding.
func FieldPaths(f Finding) []string {
	paths := make([]string, len(f.Fields))
	for i, fl := range f.Fields {
		paths[i] = fl.Path
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}
