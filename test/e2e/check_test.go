package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbline/plumbline/report"
)

func check(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(t, nil, plumbline, append([]string{"check", "--skip-images"}, args...)...)
}

func checkFixture(name string) string { return filepath.Join("testdata", "check", name) }

// TestCheckFailOn: the exit status follows --fail-on; every violation is printed whatever its
// severity, with the file it came from and a count per severity.
func TestCheckFailOn(t *testing.T) {
	tests := []struct {
		folder, failOn string
		want           int
	}{
		{"hardened", "low", 0},
		{"medium-only", "high", 0},
		{"medium-only", "medium", 1},
		{"medium-only", "low", 1},
		{"privileged", "critical", 1},
		{"privileged", "high", 1},
	}
	for _, tt := range tests {
		t.Run(tt.folder+"/"+tt.failOn, func(t *testing.T) {
			r := check(t, "--path", checkFixture(tt.folder), "--fail-on", tt.failOn)
			if r.code != tt.want {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tt.want, r.stdout, r.stderr)
			}
		})
	}
	r := check(t, "--path", checkFixture("privileged"))
	for _, want := range []string{
		"Check failed: Deployment 'web' in namespace 'prod-eu' (test/e2e/testdata/check/privileged/deployment.yaml)\n",
		"  Policy Violation: Privileged containers are disallowed. (container web) [disallow-privileged, critical]\n",
		"policy violations: 2 critical.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := check(t, "--path", checkFixture("medium-only")); !strings.Contains(r.stdout, "[require-resource-limits, medium]") {
		t.Errorf("a violation below --fail-on is not printed:\n%s", r.stdout)
	}
	if r := check(t, "--path", checkFixture("hardened"), "--fail-on", "severe"); r.code != 2 || !strings.Contains(r.stderr, "--fail-on") {
		t.Errorf("bad --fail-on: exit %d\n%s", r.code, r.stderr)
	}
}

// TestCheckPolicyFile: CEL rules with messageExpression, namespace globs, re-graded built-ins and
// params reach the output; broken policy files are errors that name file, line and position.
func TestCheckPolicyFile(t *testing.T) {
	r := check(t, "--path", checkFixture("hardened"), "--policy", checkFixture("policies/team-label.yaml"), "-o", "json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	rep := decodeReport(t, r.stdout)
	type got struct{ Rule, Severity, Where, Message, Source string }
	var gots []got
	for _, f := range rep.Findings {
		if f.Type != report.PolicyViolation {
			t.Errorf("unexpected finding %+v", f)
		}
		gots = append(gots, got{f.Rule, f.Severity, f.Where, f.Message, f.Source})
	}
	want := []got{
		{"owner-label-required", "high", "desired", "Deployment web has no owner label", "test/e2e/testdata/check/hardened/deployment.yaml"},
		{"require-digest", "low", "desired", "Image 'registry.example.com/shop/web:1.4.2' is not pinned by digest.", "test/e2e/testdata/check/hardened/deployment.yaml"},
	}
	if len(gots) != len(want) {
		t.Fatalf("findings = %+v, want %+v", gots, want)
	}
	for i := range want {
		if gots[i] != want[i] {
			t.Errorf("finding %d = %+v, want %+v", i, gots[i], want[i])
		}
	}

	for _, tt := range []struct{ file, want string }{
		{"policies/unknown-field.yaml", `unknown-field.yaml:7: unknown field "severty"`},
		{"policies/bad-cel.yaml", `bad-cel.yaml:8: policy "broken": validations[0].expression "object.metadata.labels.exists(l, ": at 1:34: Syntax error`},
	} {
		r := check(t, "--path", checkFixture("hardened"), "--policy", checkFixture(tt.file))
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: exit %d, want 2 and %q\n%s", tt.file, r.code, tt.want, r.stderr)
		}
	}
}

// TestCheckImages: without a lock file every image is unpinned, which fails check whatever
// --fail-on says; a digest in the manifest approves the image. The built-in rules are switched
// off to look at images alone.
func TestCheckImages(t *testing.T) {
	reg := newTestRegistry(t)
	image := reg.image("shop/web:2.0")
	digest := reg.pushImage(t, image)
	unlocked := webApp(t, image)
	noRules := "--policy=" + checkFixture("policies/no-builtins.yaml")
	r := runCmd(t, nil, plumbline, "check", "--path", unlocked, "--fail-on", "critical", "--cache-dir", "", noRules)
	if r.code != 1 || !strings.Contains(r.stdout, "Image: "+image+" has no approved digest in Git") {
		t.Fatalf("unlocked: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	pinned := webApp(t, image+"@"+digest)
	reg.resetCounts()
	r = runCmd(t, nil, plumbline, "check", "--path", pinned, "--fail-on", "critical", "--cache-dir", "", noRules)
	if r.code != 0 {
		t.Fatalf("pinned: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := reg.requests("shop/web"); n != 0 {
		t.Errorf("checking a pinned image made %d registry requests, want 0", n)
	}
}
