package reconciler

import (
	"strings"
	"testing"

	"github.com/plumbline/plumbline/report"
)

func TestProposalBody(t *testing.T) {
	tests := []struct {
		name      string
		finding   report.Finding
		want      []string
		forbidden []string
	}{
		{
			name: "fields with manager",
			finding: report.Finding{Type: report.Modified, Object: report.ObjectRef{Kind: "Deployment", Namespace: "default", Name: "web"},
				Message: "replicas changed", Fields: []report.Field{{Path: ".spec.replicas", Desired: 2.0, Live: 5.0, Manager: "kubectl-scale"}}},
			want: []string{"| `.spec.replicas` | `2` | `5` | `kubectl-scale` |", "### Policy on the proposed state\n\nNo rule is broken"},
		},
		{
			name: "secret values never shown",
			finding: report.Finding{Type: report.Modified, Object: report.ObjectRef{Kind: "Secret", Namespace: "default", Name: "db"},
				Fields: []report.Field{{Path: ".metadata.labels.tier", Desired: "db", Live: "canary-value"}}},
			want:      []string{"(Secret value, not shown)"},
			forbidden: []string{"canary-value"},
		},
		{
			name: "untrusted text cannot break out",
			finding: report.Finding{Type: report.Modified, Object: report.ObjectRef{Kind: "ConfigMap", Name: "x"}, Message: "<script>alert(1)</script> @team",
				Fields: []report.Field{{Path: ".data.a", Desired: "`x` | y", Live: "z"}}},
			want:      []string{"&lt;script&gt;", "`` \"`x` \\| y\" ``"},
			forbidden: []string{"<script>", " @team"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := &report.Incident{Fingerprint: "0123456789abcdef", Type: tt.finding.Type, Object: tt.finding.Object, Findings: []report.Finding{tt.finding}}
			got := proposalBody("ns/src", "abcdef0123456789", inc, nil, "No rule is broken at or above high.", "")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("body lacks %q:\n%s", w, got)
				}
			}
			for _, f := range tt.forbidden {
				if strings.Contains(got, f) {
					t.Errorf("body has %q:\n%s", f, got)
				}
			}
		})
	}
}

// TestThreadLinkInBody: the link to the Slack thread sits below the incident's line, whether
// the body was written with it or it came later, once; a body edited by hand gets it at the end.
func TestThreadLinkInBody(t *testing.T) {
	inc := &report.Incident{Fingerprint: "0123456789abcdef", Type: report.Modified, Object: report.ObjectRef{Kind: "Deployment", Namespace: "default", Name: "web"}}
	link := "https://acme.slack.com/archives/C0OPS/p1700000001000001"
	want := "- Incident: `0123456789abcdef` (Modified)\n- Slack thread: [the incident's thread](" + link + ")\n\n"
	with := proposalBody("ns/src", "abcdef0123456789", inc, nil, "ok", link)
	if !strings.Contains(with, want) {
		t.Errorf("body written with the link lacks %q:\n%s", want, with)
	}
	without := proposalBody("ns/src", "abcdef0123456789", inc, nil, "ok", "")
	if strings.Contains(without, "Slack thread") {
		t.Errorf("body without a thread mentions one:\n%s", without)
	}
	if got := withThreadLink(without, link); got != with {
		t.Errorf("link added later:\n%s\nwant:\n%s", got, with)
	}
	if got := withThreadLink(with, link); got != with {
		t.Errorf("link added twice:\n%s", got)
	}
	if got := withThreadLink("Edited by hand.\n", link); got != "Edited by hand.\n\n- Slack thread: [the incident's thread]("+link+")\n" {
		t.Errorf("hand-edited body: %q", got)
	}
}
