package reconciler

import (
	"context"

	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/report"
)

// CheckOptions tune Check.
type CheckOptions struct {
	// Source says in the report where the objects came from.
	Source report.Source
	// Images turns on image checks (approvals, and the registry when it has a Resolver); nil
	// skips them.
	Images *ImageOptions
	// Policy is the rule set; nil skips rules.
	Policy *policy.Engine
}

// Check runs the checks that need no cluster, on what Git declares: image approvals and digests,
// and the policy. It is `plumbline check`, for a pull request in CI.
func Check(ctx context.Context, objs []manifests.Object, opts CheckOptions) (*report.Report, error) {
	r := report.New(opts.Source)
	targets := make([]*target, len(objs))
	for i, o := range objs {
		targets[i] = &target{desired: o}
	}
	facts := map[useKey]policy.ImageFacts{}
	if opts.Images != nil {
		ic, err := checkImages(ctx, targets, nil, *opts.Images)
		if err != nil {
			return nil, err
		}
		r.Findings = append(r.Findings, ic.findings...)
		r.Errors = append(r.Errors, ic.errors...)
		facts = ic.facts
	}
	if opts.Policy != nil {
		for _, t := range targets {
			fs, err := policyFindings(opts.Policy, t, facts, true)
			r.Findings = append(r.Findings, fs...)
			if err != nil {
				ref := refOf(t.desired.Object)
				r.Errors = append(r.Errors, report.Error{Object: &ref, Message: err.Error()})
			}
		}
	}
	r.Finalize(len(objs))
	return r, nil
}
