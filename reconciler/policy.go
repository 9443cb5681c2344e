package reconciler

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/plumbline/plumbline/diff"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/report"
)

// policyFindings evaluates the rules on what Git declares and, when the object is live, on
// what runs. Violations of the desired object (where "desired") are reported when withDesired
// is set: `check` reports them, `diff` leaves them to `check`. A live violation that the desired
// object does not have is drift into a violation (where "live"); one that Git has too is not
// drift. liveFacts are the facts of what runs, when they differ from Git's (the contents of a
// rebuilt digest); nil means the same as facts.
func policyFindings(ctx context.Context, engine *policy.Engine, t *target, facts, liveFacts map[useKey]policy.ImageFacts, withDesired bool) ([]report.Finding, error) {
	if liveFacts == nil {
		liveFacts = facts
	}
	desired := t.desired.Object
	in := policy.Input{Object: desired, OldObject: t.live, Images: factsOf(desired, desired, facts)}
	want, err := engine.Evaluate(ctx, in)
	var out []report.Finding
	if withDesired {
		out = violationFindings(t, want, report.WhereDesired, nil)
	}
	if err != nil || t.live == nil {
		return out, err
	}
	got, liveErr := engine.Evaluate(ctx, policy.Input{Object: t.live, OldObject: t.live, Images: factsOf(desired, t.live, liveFacts)})
	seen := map[violationKey]bool{}
	for _, v := range want {
		seen[keyOfViolation(v)] = true
	}
	return append(out, violationFindings(t, got, report.WhereLive, seen)...), liveErr
}

// factsOf returns the image facts known for the containers of obj: those of the desired object,
// for each container whose image obj still declares as Git does. For the others the policy
// derives what the image string says.
func factsOf(desired, obj *unstructured.Unstructured, facts map[useKey]policy.ImageFacts) []policy.ImageFacts {
	w, ok, err := workloadOf(obj)
	if err != nil || !ok {
		return nil
	}
	var out []policy.ImageFacts
	for _, c := range containers(w.spec) {
		if f, ok := facts[useKey{keyOf(desired), c.name}]; ok && f.Image == c.image {
			out = append(out, f)
		}
	}
	return out
}

type violationKey struct {
	rule      policy.RuleID
	container string
	message   string
}

func keyOfViolation(v policy.Violation) violationKey {
	return violationKey{v.Rule, v.Container, v.Message}
}

func violationFindings(t *target, vs []policy.Violation, where string, skip map[violationKey]bool) []report.Finding {
	var out []report.Finding
	for _, v := range vs {
		if skip[keyOfViolation(v)] {
			continue
		}
		// A CEL message may quote any field; Secret values never leave the process.
		msg := diff.ScrubSecretValues(t.desired.Object, v.Message)
		if t.live != nil {
			msg = diff.ScrubSecretValues(t.live, msg)
		}
		f := report.Finding{
			Type:      report.PolicyViolation,
			Object:    refOf(t.desired.Object),
			Message:   msg,
			Source:    t.desired.Source,
			Rule:      string(v.Rule),
			Severity:  string(v.Severity),
			Where:     where,
			Container: v.Container,
		}
		out = append(out, f)
	}
	return out
}
