package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/plumbline/plumbline/diff"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/report"
)

func TestExitFor(t *testing.T) {
	violation := func(severity string) report.Finding {
		return report.Finding{Type: report.PolicyViolation, Severity: severity}
	}
	tests := []struct {
		name   string
		report report.Report
		failOn policy.Severity
		want   int
	}{
		{name: "nothing found", want: exitOK, failOn: policy.SeverityHigh},
		{name: "drift", report: report.Report{Findings: []report.Finding{{Type: report.Modified}}}, failOn: policy.SeverityHigh, want: exitFinding},
		{name: "an image finding counts whatever --fail-on says", report: report.Report{Findings: []report.Finding{{Type: report.ImageTagMutated}}}, failOn: policy.SeverityCritical, want: exitFinding},
		{name: "violation below --fail-on", report: report.Report{Findings: []report.Finding{violation("medium")}}, failOn: policy.SeverityHigh, want: exitOK},
		{name: "violation at --fail-on", report: report.Report{Findings: []report.Finding{violation("high")}}, failOn: policy.SeverityHigh, want: exitFinding},
		{name: "violation above --fail-on", report: report.Report{Findings: []report.Finding{violation("critical")}}, failOn: policy.SeverityLow, want: exitFinding},
		{name: "violation of an unknown severity does not count", report: report.Report{Findings: []report.Finding{violation("")}}, failOn: policy.SeverityLow, want: exitOK},
		{name: "an error wins over findings", report: report.Report{Findings: []report.Finding{{Type: report.Missing}}, Errors: []report.Error{{Message: "registry down"}}}, failOn: policy.SeverityHigh, want: exitError},
		{name: "an error alone is never no drift", report: report.Report{Errors: []report.Error{{Message: "dry run refused"}}}, failOn: policy.SeverityHigh, want: exitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exitOK
			var ec exitCodeError
			if err := exitFor(&tt.report, tt.failOn); errors.As(err, &ec) {
				got = ec.code
			} else if err != nil {
				t.Fatalf("exitFor: %v, want an exit code or nil", err)
			}
			if got != tt.want {
				t.Errorf("exit %d, want %d", got, tt.want)
			}
		})
	}
}

func TestSourceName(t *testing.T) {
	tests := []struct {
		name, identity string
		wantPrefix     string
	}{
		{name: "remote and folder", identity: "https://git.example.com/platform/apps.git//overlays/prod", wantPrefix: "prod-"},
		{name: "root folder", identity: "https://git.example.com/platform/apps.git//.", wantPrefix: "source-"},
		{name: "unsafe characters become dashes", identity: "file:///tmp/repo//apps/my app+v2", wantPrefix: "my-app-v2-"},
		{name: "long folder names are cut to 40", identity: "file:///r//" + strings.Repeat("a", 80), wantPrefix: strings.Repeat("a", 40) + "-"},
		{name: "trailing slash", identity: "file:///r//apps/prod/", wantPrefix: "prod-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sourceName(tt.identity)
			if !strings.HasPrefix(got, tt.wantPrefix) {
				t.Errorf("sourceName(%q) = %q, want prefix %q", tt.identity, got, tt.wantPrefix)
			}
			if len(got) > 63 {
				t.Errorf("sourceName(%q) = %q: %d characters, a label value holds 63", tt.identity, got, len(got))
			}
			if got != sourceName(tt.identity) {
				t.Errorf("sourceName(%q) is not stable", tt.identity)
			}
		})
	}
	// Two sources with the same last folder are still told apart.
	a, b := sourceName("https://git.example.com/a.git//prod"), sourceName("https://git.example.com/b.git//prod")
	if a == b {
		t.Errorf("two repositories' prod folders share the label value %q", a)
	}
}

func TestShortSHA(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "", want: ""},
		{in: "abc123", want: "abc123"},
		{in: "0123456789ab", want: "0123456789ab"},
		{in: "0123456789abcdef0123456789abcdef01234567", want: "0123456789ab"},
	}
	for _, tt := range tests {
		if got := shortSHA(tt.in); got != tt.want {
			t.Errorf("shortSHA(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReadIgnoreRules(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    []diff.IgnoreRule
		wantErr string // a substring of the error, besides the file name
	}{
		{
			name: "rules",
			file: `apiVersion: plumbline.dev/v1alpha1
kind: IgnoreRules
rules:
- kinds: [Deployment]
  namespaces: ["prod-*"]
  paths: [.spec.replicas]
- paths: ['.spec.template.spec.containers[*].resources']
`,
			want: []diff.IgnoreRule{
				{Kinds: []string{"Deployment"}, Namespaces: []string{"prod-*"}, Paths: []string{".spec.replicas"}},
				{Paths: []string{".spec.template.spec.containers[*].resources"}},
			},
		},
		{name: "no rules", file: "apiVersion: plumbline.dev/v1alpha1\nkind: IgnoreRules\n"},
		{name: "another kind", file: "apiVersion: plumbline.dev/v1alpha1\nkind: PolicySet\n", wantErr: "IgnoreRules"},
		{name: "unknown field", file: "apiVersion: plumbline.dev/v1alpha1\nkind: IgnoreRules\nrules:\n- path: [.spec]\n", wantErr: "path"},
		{name: "path without a leading dot", file: "apiVersion: plumbline.dev/v1alpha1\nkind: IgnoreRules\nrules:\n- paths: [spec.replicas]\n", wantErr: "spec.replicas"},
		{name: "rule without paths", file: "apiVersion: plumbline.dev/v1alpha1\nkind: IgnoreRules\nrules:\n- kinds: [Service]\n", wantErr: "no paths"},
		{name: "not YAML", file: "rules: [\n", wantErr: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ignore.yaml")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readIgnoreRules(t.Context(), path)
			if tt.wantErr != "" || strings.HasPrefix(tt.name, "not ") {
				if err == nil {
					t.Fatalf("no error, want one naming %s and saying %q", path, tt.wantErr)
				}
				if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q: want it to name %s and say %q", err, path, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(diff.IgnoreRule{}), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("rules (-want +got):\n%s", d)
			}
		})
	}
	if _, err := readIgnoreRules(t.Context(), filepath.Join(t.TempDir(), "absent.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v, want an error that is fs.ErrNotExist", err)
	}
}
