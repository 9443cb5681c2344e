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
	if err := checkImagesAndPolicy(ctx, r, targets, nil, opts.Images, opts.Policy, true); err != nil {
		return nil, err
	}
	r.Finalize(len(objs))
	return r, nil
}

// checkImagesAndPolicy adds to r what the image checks and the policy find on the targets.
// running gives the images that live workloads' pods run (nil without a cluster); desired
// reports the violations of what Git declares (check), not only the drift into one (diff).
func checkImagesAndPolicy(ctx context.Context, r *report.Report, targets []*target, running runningFunc, imgs *ImageOptions, engine *policy.Engine, desired bool) error {
	facts := map[useKey]policy.ImageFacts{}
	if imgs != nil {
		ic, err := checkImages(ctx, targets, running, *imgs)
		if err != nil {
			return err
		}
		r.Findings = append(r.Findings, ic.findings...)
		r.Errors = append(r.Errors, ic.errors...)
		facts = ic.facts
	}
	if engine == nil {
		return nil
	}
	for _, t := range targets {
		fs, err := policyFindings(ctx, engine, t, facts, desired)
		r.Findings = append(r.Findings, fs...)
		if err != nil {
			r.Errors = append(r.Errors, objectError(t.desired.Object, "", err))
		}
	}
	return nil
}
