package reconciler

import (
	"fmt"
	"math"
	"slices"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/report"
)

// ActionKind is what the controller does to one object.
type ActionKind string

// Action kinds. Alerting is not an action: every incident reaches the Notifier whatever the mode.
const (
	// ActRevert server-side applies the object's desired state.
	ActRevert ActionKind = "revert"
	// ActPrune deletes an object this Source applied and Git no longer declares.
	ActPrune ActionKind = "prune"
)

// Action is one act on one object, with the findings that call for it.
type Action struct {
	Kind     ActionKind
	Object   report.ObjectRef
	Findings []report.Finding
}

// decideInput is everything decide looks at.
type decideInput struct {
	Findings []report.Finding
	Modes    v1alpha1.ModeSpec
	// Prune and PruneMaxFraction are the Source's prune settings.
	Prune            bool
	PruneMaxFraction float64
	// Managed is how many objects the Source manages (its desired objects); Rendered how many the
	// current render has. A render of nothing never prunes.
	Managed, Rendered int
	// Blocked, when not empty, says why nothing may be reverted or pruned: the desired state
	// failed to fetch, render or validate, or breaks a blocking policy.
	Blocked string
	// Fighting reports whether a finding's fields are in a fight: they are left alone.
	Fighting func(report.Finding) bool
}

// decision is what decide chose: the actions, and why it held back from others.
type decision struct {
	Actions []Action
	// Held says, per refusal, why an act the modes asked for was not taken.
	Held []string
}

// decide turns findings and the Source's modes into actions. It is pure: no I/O, no clock.
// Modified and Missing in revert mode revert the object (one apply per object); Extra
// (pruned-from-git) in revert mode is pruned when the Source prunes; everything else, and every
// propose, is alerted only, until pull requests exist. Namespaces and CRDs come first.
func decide(in decideInput) decision {
	var d decision
	byObject := map[report.ObjectRef]int{}
	var prunes []Action
	for _, f := range in.Findings {
		if in.Modes.For(string(f.Type)) != v1alpha1.ModeRevert {
			continue
		}
		switch f.Type {
		case report.Modified, report.Missing:
			if in.Fighting != nil && in.Fighting(f) {
				d.Held = append(d.Held, fmt.Sprintf("%s: not reverted, another manager keeps writing it back", f.Object))
				continue
			}
			if i, ok := byObject[f.Object]; ok {
				d.Actions[i].Findings = append(d.Actions[i].Findings, f)
				continue
			}
			byObject[f.Object] = len(d.Actions)
			d.Actions = append(d.Actions, Action{Kind: ActRevert, Object: f.Object, Findings: []report.Finding{f}})
		case report.Extra:
			if f.Reason == report.ReasonPrunedFromGit && in.Prune {
				prunes = append(prunes, Action{Kind: ActPrune, Object: f.Object, Findings: []report.Finding{f}})
			}
		}
	}
	if in.Blocked != "" && (len(d.Actions) > 0 || len(prunes) > 0) {
		return decision{Held: append(d.Held, "nothing reverted or pruned: "+in.Blocked)}
	}
	switch limit := pruneLimit(in.Managed+len(prunes), in.PruneMaxFraction); {
	case len(prunes) == 0:
	case in.Rendered == 0:
		d.Held = append(d.Held, fmt.Sprintf("prune of %d objects refused: the render is empty", len(prunes)))
	case len(prunes) > limit:
		d.Held = append(d.Held, fmt.Sprintf("prune of %d objects refused: more than pruneMaxFraction %g of %d allows (%d)",
			len(prunes), in.PruneMaxFraction, in.Managed+len(prunes), limit))
	default:
		d.Actions = append(d.Actions, prunes...)
	}
	slices.SortStableFunc(d.Actions, func(a, b Action) int { return applyOrder(a.Object.Kind) - applyOrder(b.Object.Kind) })
	return d
}

// pruneLimit is the most objects one prune may delete out of total.
func pruneLimit(total int, fraction float64) int {
	return int(math.Floor(float64(total) * fraction))
}

// applyOrder puts what other objects need first: namespaces and CRDs.
func applyOrder(kind string) int {
	switch kind {
	case "Namespace":
		return 0
	case "CustomResourceDefinition":
		return 1
	}
	return 2
}
