package reconciler

import (
	"context"
	"errors"

	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/images/vulns"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/report"
)

// inspect looks inside the images of a run when opts has an Inspector: each rebuilt tag's
// finding gets what changed between the approved and the served digest, and each container's
// policy facts get the contents of the digest it deploys (the served one when the registry was
// asked, else the approved one), with the vulnerabilities a rebuild brought marked new. A scan
// that is still running is a warning (the next pass has it); a scan that fails is an error of
// the image, never "no vulnerabilities".
func (c *imageChecks) inspect(ctx context.Context, uses []imageUse, results []images.UseResult, opts ImageOptions) {
	in := opts.Inspector
	if in == nil {
		return
	}
	type pair struct{ name, approved, served string }
	rebuilds := map[pair]*images.Rebuild{}
	inspections := map[string]*images.Inspection{}
	failed := map[string]bool{}
	fail := func(raw string, err error) {
		if failed[raw] {
			return
		}
		failed[raw] = true
		if errors.Is(err, images.ErrScanPending) {
			c.warnings = append(c.warnings, err.Error()+"; its contents are checked on the next pass")
			return
		}
		c.errors = append(c.errors, report.Error{Image: raw, Message: err.Error()})
	}
	for i, u := range uses {
		inp := results[i].Input
		approved, served := "", ""
		if inp.Approval != nil {
			approved = inp.Approval.Digest
		}
		if inp.Resolution != nil {
			served = inp.Resolution.Digest
		}
		deployed := served
		if deployed == "" {
			deployed = approved
		}
		if deployed == "" {
			continue
		}
		var newIDs map[[2]string]bool
		if approved != "" && served != "" && approved != served {
			k := pair{u.ref.Name(), approved, served}
			rb, ok := rebuilds[k]
			if !ok {
				var err error
				if rb, err = in.CompareDigests(ctx, u.ref, approved, served, u.kc); err != nil {
					fail(u.raw, err)
					continue
				}
				rebuilds[k] = rb
			}
			c.attachChanges(u, rb)
			newIDs = map[[2]string]bool{}
			for _, v := range rb.NewVulnerabilities {
				newIDs[[2]string{v.ID, v.Package}] = true
			}
			inspections[u.ref.Name()+"@"+served] = rb.Served
		}
		key := u.ref.Name() + "@" + deployed
		insp, ok := inspections[key]
		if !ok {
			var err error
			if insp, err = in.Inspect(ctx, u.ref, deployed, u.kc); err != nil {
				fail(u.raw, err)
				continue
			}
			inspections[key] = insp
		}
		fk := useKey{keyOf(u.t.desired.Object), u.container}
		if c.liveFacts == nil {
			c.liveFacts = map[useKey]policy.ImageFacts{}
		}
		live := c.facts[fk]
		live.Contents = contentsFacts(deployed, insp, newIDs)
		c.liveFacts[fk] = live
		// Git's side: the approved digest's contents where the tag was rebuilt (nil when the
		// approved digest could not be scanned), else the same digest.
		desired := c.facts[fk]
		desired.Contents = live.Contents
		if newIDs != nil {
			desired.Contents = nil
			if rb := rebuilds[pair{u.ref.Name(), approved, served}]; rb != nil && rb.Approved != nil {
				desired.Contents = contentsFacts(approved, rb.Approved, nil)
			}
		}
		c.facts[fk] = desired
	}
	seen := map[string]bool{}
	for _, insp := range inspections {
		for _, w := range insp.Warnings {
			if !seen[w] {
				seen[w] = true
				c.warnings = append(c.warnings, w)
			}
		}
	}
}

// attachChanges fills the Changes of u's ImageTagMutated finding.
func (c *imageChecks) attachChanges(u imageUse, rb *images.Rebuild) {
	obj := refOf(u.t.desired.Object)
	for i := range c.findings {
		f := &c.findings[i]
		if f.Type == report.ImageTagMutated && f.Object == obj && f.Container == u.container && f.Image != nil {
			f.Image.Changes = ImageChanges(rb)
		}
	}
}

// ImageChanges turns what the images package compared into the report's vocabulary.
func ImageChanges(rb *images.Rebuild) *report.ImageChanges {
	out := &report.ImageChanges{Note: rb.Note}
	for _, p := range rb.Changes.Added {
		out.PackagesAdded = append(out.PackagesAdded, report.Package{Name: p.Name, Version: p.Version, Ecosystem: p.Ecosystem})
	}
	for _, p := range rb.Changes.Removed {
		out.PackagesRemoved = append(out.PackagesRemoved, report.Package{Name: p.Name, Version: p.Version, Ecosystem: p.Ecosystem})
	}
	for _, p := range rb.Changes.Changed {
		out.PackagesChanged = append(out.PackagesChanged, report.PackageChange{Name: p.Name, From: p.From, To: p.To, Ecosystem: p.Ecosystem})
	}
	for _, ch := range rb.Changes.Config {
		out.Config = append(out.Config, report.ConfigChange{Field: ch.Field, From: ch.From, To: ch.To})
	}
	for _, v := range rb.NewVulnerabilities {
		out.NewVulnerabilities = append(out.NewVulnerabilities, ReportVulnerability(v))
	}
	return out
}

// ReportVulnerability is one finding of the vulns package in the report's vocabulary.
func ReportVulnerability(v vulns.Finding) report.Vulnerability {
	return report.Vulnerability{ID: v.ID, Aliases: v.Aliases, Package: v.Package, Version: v.Version, Fixed: v.Fixed, Severity: v.Severity}
}

// contentsFacts are the policy's facts of one scanned digest.
func contentsFacts(digest string, insp *images.Inspection, newIDs map[[2]string]bool) *policy.ImageContents {
	out := &policy.ImageContents{Digest: digest, User: insp.Inventory.Config.User, VulnerabilitiesChecked: insp.Checked}
	for _, v := range insp.Vulnerabilities {
		sev, _ := policy.ParseSeverity(v.Severity) // Unknown stays "" for the rule
		out.Vulnerabilities = append(out.Vulnerabilities, policy.ImageVulnerability{
			ID: v.ID, Aliases: v.Aliases, Package: v.Package, Version: v.Version, Fixed: v.Fixed, Severity: sev,
			New: newIDs[[2]string{v.ID, v.Package}],
		})
	}
	return out
}
