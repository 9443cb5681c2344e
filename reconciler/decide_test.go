package reconciler

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/report"
)

func TestDecide(t *testing.T) {
	dep := report.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "default", Name: "nginx"}
	svc := report.ObjectRef{APIVersion: "v1", Kind: "Service", Namespace: "default", Name: "nginx"}
	ns := report.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: "apps"}
	old := report.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: "old"}
	modified := report.Finding{Type: report.Modified, Object: dep, Fields: []report.Field{{Path: ".spec.replicas"}}}
	image := report.Finding{Type: report.Modified, Object: dep, Fields: []report.Field{{Path: ".spec.template.spec.containers[name=\"nginx\"].image"}}}
	missing := report.Finding{Type: report.Missing, Object: svc}
	missingNS := report.Finding{Type: report.Missing, Object: ns}
	pruned := report.Finding{Type: report.Extra, Reason: report.ReasonPrunedFromGit, Object: old}
	orphan := report.Finding{Type: report.Extra, Reason: report.ReasonNotInGit, Object: old}
	mutated := report.Finding{Type: report.ImageTagMutated, Object: dep}
	revert := v1alpha1.ModeSpec{Default: v1alpha1.ModeRevert}

	for _, tc := range []struct {
		name     string
		in       decideInput
		want     []Action
		wantHeld int
	}{
		{
			name: "alert mode acts on nothing",
			in:   decideInput{Findings: []report.Finding{modified, missing, pruned}, Modes: v1alpha1.ModeSpec{Default: v1alpha1.ModeAlert}, Prune: true, PruneMaxFraction: 1, Managed: 3, Rendered: 3},
		},
		{
			name: "propose acts as alert until pull requests exist",
			in:   decideInput{Findings: []report.Finding{modified}, Modes: v1alpha1.ModeSpec{Default: v1alpha1.ModePropose}},
		},
		{
			name: "one revert per object, namespaces first",
			in:   decideInput{Findings: []report.Finding{modified, image, missing, missingNS}, Modes: revert, Managed: 3, Rendered: 3},
			want: []Action{
				{Kind: ActRevert, Object: ns, Findings: []report.Finding{missingNS}},
				{Kind: ActRevert, Object: dep, Findings: []report.Finding{modified, image}},
				{Kind: ActRevert, Object: svc, Findings: []report.Finding{missing}},
			},
		},
		{
			name: "per-type mode overrides the default",
			in:   decideInput{Findings: []report.Finding{modified, missing}, Modes: v1alpha1.ModeSpec{Default: v1alpha1.ModeAlert, Missing: v1alpha1.ModeRevert}},
			want: []Action{{Kind: ActRevert, Object: svc, Findings: []report.Finding{missing}}},
		},
		{
			name: "image findings are never reverted",
			in:   decideInput{Findings: []report.Finding{mutated}, Modes: revert},
		},
		{
			name:     "a blocked state reverts and prunes nothing",
			in:       decideInput{Findings: []report.Finding{modified, pruned}, Modes: revert, Prune: true, PruneMaxFraction: 1, Managed: 4, Rendered: 4, Blocked: "render failed"},
			wantHeld: 1,
		},
		{
			name: "prune only with prune on, and only what Plumbline applied",
			in:   decideInput{Findings: []report.Finding{pruned}, Modes: revert, Prune: true, PruneMaxFraction: 0.25, Managed: 3, Rendered: 3},
			want: []Action{{Kind: ActPrune, Object: old, Findings: []report.Finding{pruned}}},
		},
		{
			name: "prune off keeps Extra objects",
			in:   decideInput{Findings: []report.Finding{pruned}, Modes: revert, Managed: 3, Rendered: 3},
		},
		{
			name: "orphans are never pruned",
			in:   decideInput{Findings: []report.Finding{orphan}, Modes: revert, Prune: true, PruneMaxFraction: 1, Managed: 3, Rendered: 3},
		},
		{
			name:     "an empty render prunes nothing",
			in:       decideInput{Findings: []report.Finding{pruned}, Modes: revert, Prune: true, PruneMaxFraction: 1, Managed: 0, Rendered: 0},
			wantHeld: 1,
		},
		{
			name:     "more than the fraction prunes nothing",
			in:       decideInput{Findings: []report.Finding{pruned}, Modes: revert, Prune: true, PruneMaxFraction: 0.25, Managed: 2, Rendered: 2},
			wantHeld: 1,
		},
		{
			name:     "a fight leaves the object alone",
			in:       decideInput{Findings: []report.Finding{modified}, Modes: revert, Fighting: func(report.Finding) bool { return true }},
			wantHeld: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decide(tc.in)
			if diff := cmp.Diff(tc.want, got.Actions); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if len(got.Held) != tc.wantHeld {
				t.Errorf("held = %q, want %d", got.Held, tc.wantHeld)
			}
		})
	}
}
