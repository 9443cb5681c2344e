package report

import (
	"strings"
	"testing"
	"time"
)

func TestChangedByInText(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		actor *Actor
		want  string
	}{
		{"person", &Actor{User: "alice@example.com", Groups: []string{"dev"}, FieldManager: "kubectl-set",
			UserAgent: "kubectl/v1.32.0 (linux/amd64) kubernetes/70d3cc9", Time: &at},
			"  Changed by: alice@example.com (kubectl-set, kubectl/v1.32.0) at 2026-12-02T10:00:00Z\n  Groups: dev\n"},
		{"impersonation", &Actor{User: "bob", ImpersonatedUser: "carol", UserAgent: "kubectl/v1.32.0", Time: &at},
			"  Changed by: bob as carol (kubectl/v1.32.0) at 2026-12-02T10:00:00Z\n"},
		{"no audit", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Source{Path: "."})
			r.Findings = append(r.Findings, Finding{Type: Modified, Object: ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"},
				Fields: []Field{{Path: `.spec.template.spec.containers[name="nginx"].image`, Desired: "nginx:1.25", Live: "nginx:1.26", Manager: "kubectl-set", Time: &at}},
				Actor:  tc.actor})
			r.Finalize(1)
			var b strings.Builder
			if err := WriteText(&b, r); err != nil {
				t.Fatal(err)
			}
			reason := "  Reason: Image changed from 'nginx:1.25' to 'nginx:1.26' (by kubectl-set at 2026-12-02T10:00:00Z)\n"
			if !strings.Contains(b.String(), reason+tc.want+"\n") {
				t.Errorf("got\n%s\nwant after the reason\n%s", b.String(), tc.want)
			}
			if tc.actor == nil && strings.Contains(b.String(), "Changed by") {
				t.Errorf("without audit the wording changed:\n%s", b.String())
			}
		})
	}
}
