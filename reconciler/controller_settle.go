package reconciler

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/report"
)

// settle turns one comparison into incidents, decides and acts, writes the status, and tells
// the notifier what changed: a staging notifier (Slack) saves it before the status is written
// and sends it after; any other hears of it after. It returns how soon the Source wants another pass (a revert
// waiting for its backoff), or 0.
func (c *Controller) settle(ctx context.Context, src *v1alpha1.Source, st *sourceState, rep *report.Report) (time.Duration, error) {
	key := types.NamespacedName{Namespace: src.Namespace, Name: src.Name}
	now := c.opts.Now()
	incidents, notes := trackIncidents(key.String(), st.incidents, rep, now)
	notes = append(notes, c.fights(key.String(), st, incidents, now)...)

	blocked := ""
	if st.pollErr != nil {
		blocked = "the Source's latest state could not be fetched, rendered or checked: " + st.pollErr.Error()
	}
	in := decideInput{
		Findings: rep.Findings, Modes: src.Spec.Mode,
		Prune: src.Spec.Prune, PruneMaxFraction: pruneFraction(src.Spec.PruneMaxFraction),
		Managed: len(st.desired), Rendered: len(st.desired), Blocked: blocked,
		Fighting: func(f report.Finding) bool {
			inc := incidents[report.Fingerprint(key.String(), f)]
			return inc != nil && inc.State == report.IncidentFight
		},
	}
	d := c.withRejected(decide(in), src, st, incidents, in)
	for _, h := range d.Held {
		c.opts.Log.Info("held back", "source", key.String(), "why", h)
	}
	wait, actNotes, applied := c.act(ctx, src, st, d, incidents, now)
	notes = append(notes, actNotes...)
	notes = append(notes, c.proposals(ctx, src, st, incidents, notes, now)...)
	notes = append(notes, c.respondToRuntime(ctx, src, incidents, now)...)
	st.incidents = incidents
	// A resolution is told last: what led to it in the same pass (a merged pull request) goes
	// first, into the thread the resolution closes.
	slices.SortStableFunc(notes, func(a, b Notification) int {
		return cmp.Compare(boolRank(a.Event == EventResolved), boolRank(b.Event == EventResolved))
	})
	notes = batch(notes)
	for i := range notes {
		notes[i].Source, notes[i].Revision, notes[i].Report = key.String(), st.revision, rep
	}
	// A staging notifier saves the notices before the status and sends them after it, so that
	// neither a crash nor a failed write between the two loses one; the others are told after.
	staging, _ := c.opts.Notifier.(StagingNotifier)
	if staging != nil {
		for _, n := range notes {
			if err := staging.Stage(ctx, n); err != nil {
				c.opts.Log.Error("notify", "source", n.Source, "event", string(n.Event), "err", err)
			}
		}
	}
	werr := c.writeStatus(ctx, src, st, rep, incidents, applied)
	for _, n := range notes {
		c.record(st, n)
		if staging == nil {
			c.tell(ctx, n)
		}
	}
	if staging != nil {
		staging.Release(ctx, key.String())
	}
	if werr != nil {
		return 0, werr
	}
	if st.pollErr == nil {
		st.announcedErr = ""
	} else if msg := st.pollErr.Error(); msg != st.announcedErr {
		st.announcedErr = msg
		c.notify(ctx, st, Notification{Event: EventSourceFailed, Source: key.String(), Revision: st.revision, Detail: msg})
		c.event(src, "Warning", "SourceFailed", msg)
	}
	return wait, nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// batch joins the notifications of one pass that share an event and carry no detail of their
// own into one, in the order of their first appearance.
func batch(notes []Notification) []Notification {
	var out []Notification
	at := map[Event]int{}
	for _, n := range notes {
		if i, ok := at[n.Event]; ok && n.Detail == "" && out[i].Detail == "" {
			out[i].Incidents = append(out[i].Incidents, n.Incidents...)
			continue
		}
		if n.Detail == "" {
			at[n.Event] = len(out)
		}
		out = append(out, n)
	}
	return out
}

// notify tells the notifier, records the Event that goes with it, and observes how long the
// drift took from its watch event to here.
func (c *Controller) notify(ctx context.Context, st *sourceState, n Notification) {
	c.record(st, n)
	c.tell(ctx, n)
}

// record records the Events that go with a notification, counts the proposals, and observes
// how long the drift took from its watch event to here.
func (c *Controller) record(st *sourceState, n Notification) {
	switch n.Event {
	case EventProposalOpened, EventProposalMerged, EventProposalClosed, EventProposalFailed:
		c.metrics.Proposals.WithLabelValues(strings.TrimPrefix(string(n.Event), "proposal-")).Add(float64(len(n.Incidents)))
	}
	type objectReason struct {
		obj    report.ObjectRef
		reason string
	}
	var objects []objectReason
	byObject := map[objectReason][]*report.Incident{}
	for _, inc := range n.Incidents {
		if n.Event == EventOpened {
			if at, ok := c.takeChangedAt(st, inc.Object); ok {
				c.metrics.DetectionLatency.Observe(c.opts.Now().Sub(at).Seconds())
			}
		}
		k := objectReason{inc.Object, eventReason(n.Event, inc.Type)}
		if _, ok := byObject[k]; !ok {
			objects = append(objects, k)
		}
		byObject[k] = append(byObject[k], inc)
	}
	for _, o := range objects { // one Event per object and reason: the events API folds same-reason Events
		c.objectEvent(n, o.obj, byObject[o])
	}
}

// tell tells the notifier of n.
func (c *Controller) tell(ctx context.Context, n Notification) {
	if err := c.opts.Notifier.Notify(ctx, n); err != nil {
		c.opts.Log.Error("notify", "source", n.Source, "event", string(n.Event), "err", err)
	}
}

// trackIncidents folds one report into the incidents of a source: findings with a known
// fingerprint update their incident, new ones open one, and incidents whose findings are gone
// resolve. An object the report could not decide keeps its incidents as they were.
func trackIncidents(source string, prev map[string]*report.Incident, rep *report.Report, now time.Time) (map[string]*report.Incident, []Notification) {
	undecided := map[report.ObjectRef]bool{}
	for _, e := range rep.Errors {
		if e.Object != nil {
			undecided[*e.Object] = true
		}
	}
	cur := map[string]*report.Incident{}
	var notes []Notification
	for _, f := range rep.Findings {
		fp := report.Fingerprint(source, f)
		if inc, ok := cur[fp]; ok {
			inc.Findings = append(inc.Findings, f)
			continue
		}
		inc, known := prev[fp]
		if !known {
			inc = &report.Incident{Fingerprint: fp, Source: source, Type: f.Type, Object: f.Object,
				Paths: report.FieldPaths(f), State: report.IncidentOpen, FirstSeen: now}
			notes = append(notes, Notification{Event: EventOpened, Incidents: []*report.Incident{inc}})
		}
		if inc.State == report.IncidentReverted {
			inc.State = report.IncidentOpen // the drift is back, or the revert has not shown yet
		}
		inc.LastSeen, inc.Findings = now, []report.Finding{f}
		cur[fp] = inc
	}
	for _, fp := range slices.Sorted(maps.Keys(prev)) {
		inc := prev[fp]
		if _, still := cur[fp]; still {
			continue
		}
		if undecided[inc.Object] {
			cur[fp] = inc
			continue
		}
		inc.State, inc.LastSeen = report.IncidentResolved, now
		notes = append(notes, Notification{Event: EventResolved, Incidents: []*report.Incident{inc}})
	}
	return cur, notes
}

// fights moves incidents whose drift came back after FightThreshold reverts within the window
// into the fight state, and back to open when the fight is over (Git changed).
func (c *Controller) fights(source string, st *sourceState, incidents map[string]*report.Incident, now time.Time) []Notification {
	var notes []Notification
	for _, fp := range slices.Sorted(maps.Keys(incidents)) {
		inc := incidents[fp]
		n := st.fights.count(fp, c.opts.FightWindow, now)
		switch {
		case inc.State != report.IncidentFight && inc.Type == report.Modified && n >= c.opts.FightThreshold:
			inc.State = report.IncidentFight
			c.metrics.Fights.Inc()
			notes = append(notes, Notification{Event: EventFight, Incidents: []*report.Incident{inc},
				Detail: fmt.Sprintf("%s wrote %s back %d times in %s: stopped reverting", managersOf(inc), strings.Join(inc.Paths, ", "), n, c.opts.FightWindow)})
		case inc.State == report.IncidentFight && n < c.opts.FightThreshold:
			inc.State = report.IncidentOpen
		}
	}
	return notes
}

// managersOf names the managers that last wrote an incident's fields.
func managersOf(inc *report.Incident) string {
	var names []string
	for _, f := range inc.Findings {
		for _, fl := range f.Fields {
			if fl.Manager != "" && !slices.Contains(names, fl.Manager) {
				names = append(names, fl.Manager)
			}
		}
	}
	if len(names) == 0 {
		return "another manager"
	}
	return "manager " + strings.Join(names, ", ")
}

// incidentsOf reads the open incidents kept in a Source's status.
func incidentsOf(source string, in []v1alpha1.Incident) map[string]*report.Incident {
	out := make(map[string]*report.Incident, len(in))
	for _, i := range in {
		out[i.Fingerprint] = &report.Incident{
			Fingerprint: i.Fingerprint, Source: source, Type: report.FindingType(i.Type),
			Object: report.ObjectRef{APIVersion: i.Object.APIVersion, Kind: i.Object.Kind, Namespace: i.Object.Namespace, Name: i.Object.Name},
			Paths:  i.Paths, State: report.IncidentState(i.State),
			FirstSeen: i.FirstSeen.Time, LastSeen: i.LastSeen.Time,
			Proposal: proposalFromStatus(i.Proposal),
		}
	}
	return out
}
