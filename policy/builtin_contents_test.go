package policy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const contentsPolicy = `apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
metadata: {name: contents}
spec:
  params:
    vulnerabilities:
      minSeverity: %s
      ignore:
        - id: CVE-2026-0004
          reason: timing side channel not reachable from the network
          expires: 2026-12-31
`

func contentsEngine(t *testing.T, minSeverity string) *Engine {
	t.Helper()
	return mustEngine(t, strings.Replace(contentsPolicy, "%s", minSeverity, 1))
}

func deployment(t *testing.T, securityContext string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
        - name: nginx
          image: registry.example.com/team/nginx:1.21.0
` + securityContext
}

var rebuiltContents = &ImageContents{
	Digest: goodDigest, User: "", VulnerabilitiesChecked: true,
	Vulnerabilities: []ImageVulnerability{
		{ID: "DSA-9999-1", Aliases: []string{"CVE-2026-0001"}, Package: "openssl", Version: "3.0.20-1~deb12u1", Fixed: "3.0.20-1~deb12u2", Severity: SeverityHigh, New: true},
		{ID: "DEBIAN-CVE-2026-0007", Aliases: []string{"CVE-2026-0007"}, Package: "bash", Version: "5.2.15-2+b8", Severity: SeverityCritical},
		{ID: "DEBIAN-CVE-2026-0004", Aliases: []string{"CVE-2026-0004"}, Package: "openssl", Version: "3.0.20-1~deb12u1", Fixed: "3.0.20-1", Severity: SeverityHigh},
		{ID: "DEBIAN-CVE-2026-0003", Package: "zlib1g", Version: "1:1.2.13.dfsg-1", Fixed: "1:1.2.13.dfsg-2", Severity: SeverityMedium},
	},
}

func messagesOf(vs []Violation, rule RuleID) []string {
	var out []string
	for _, v := range vs {
		if v.Rule == rule {
			out = append(out, v.Message)
		}
	}
	return out
}

func TestBlockVulnerabilities(t *testing.T) {
	obj := mustObject(t, deployment(t, "          securityContext: {runAsUser: 101}\n"))
	facts := []ImageFacts{{Container: "nginx", Contents: rebuiltContents}}
	high := []string{
		"DSA-9999-1 / CVE-2026-0001 (High) - In package 'openssl' 3.0.20-1~deb12u1, fixed in 3.0.20-1~deb12u2 (new in this digest)",
		"DEBIAN-CVE-2026-0007 (Critical) - In package 'bash' 5.2.15-2+b8, no fixed version known",
	}
	expired := "DEBIAN-CVE-2026-0004 (High) - In package 'openssl' 3.0.20-1~deb12u1, fixed in 3.0.20-1; the ignore entry for CVE-2026-0004 " +
		"expired on 2026-12-31 and no longer applies (reason was: timing side channel not reachable from the network)"
	for _, tc := range []struct {
		name, minSeverity string
		now               time.Time
		want              []string
	}{
		{"high, ignore entry valid", "high", time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), high},
		{"high, ignore entry expired", "high", time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC), append(append([]string{}, high...), expired)},
		{"critical only", "critical", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), high[1:]},
		{"medium", "Medium", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
			append(append([]string{}, high...), "DEBIAN-CVE-2026-0003 (Medium) - In package 'zlib1g' 1:1.2.13.dfsg-1, fixed in 1:1.2.13.dfsg-2")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs, err := contentsEngine(t, tc.minSeverity).Evaluate(context.Background(), Input{Object: obj, Images: facts, Now: tc.now})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, messagesOf(vs, RuleBlockVulnerabilities)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("not scanned", func(t *testing.T) {
		vs, err := contentsEngine(t, "high").Evaluate(context.Background(), Input{Object: obj})
		if err != nil {
			t.Fatal(err)
		}
		if got := messagesOf(vs, RuleBlockVulnerabilities); len(got) != 0 {
			t.Errorf("violations without a scan: %q", got)
		}
	})
}

func TestBlockVulnerabilitiesParams(t *testing.T) {
	for _, tc := range []struct{ params, want string }{
		{"vulnerabilities: {minSeverity: severe}", `vulnerabilities.minSeverity: unknown severity "severe"`},
		{"vulnerabilities: {ignore: [{id: CVE-1, reason: x}]}", "vulnerabilities.ignore[0]: id, reason and expires are all required"},
		{"vulnerabilities: {ignore: [{id: CVE-1, reason: x, expires: soon}]}", `vulnerabilities.ignore[0].expires: want a date (2027-01-31), got "soon"`},
		{"vulnerabilities: {minSevrity: high}", "vulnerabilities.minSevrity: unknown field"},
	} {
		ps, err := ParsePolicySet([]byte("apiVersion: plumbline.dev/v1alpha1\nkind: PolicySet\nmetadata: {name: p}\nspec:\n  params:\n    "+tc.params+"\n"), "policy.yaml")
		if err != nil {
			t.Fatalf("%s: parse: %v", tc.params, err)
		}
		_, err = NewEngine(ps)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "policy.yaml") {
			t.Errorf("%s: error %v, want %q naming policy.yaml", tc.params, err, tc.want)
		}
	}
}

func TestImageRunsAsRoot(t *testing.T) {
	root := &ImageContents{User: ""}
	for _, tc := range []struct {
		name, sc string
		contents *ImageContents
		want     []string
	}{
		{"root image, no override", "", root, []string{"Misconfiguration: 'root' user allowed to run container"}},
		{"user 0:0 image", "", &ImageContents{User: "0:0"}, []string{"Misconfiguration: 'root' user allowed to run container"}},
		{"root image, runAsUser 0", "          securityContext: {runAsUser: 0}\n", &ImageContents{User: "root"}, []string{"Misconfiguration: 'root' user allowed to run container"}},
		{"root image, pod runs it as 101", "      securityContext: {runAsUser: 101}\n", root, nil},
		{"root image, runAsNonRoot true", "          securityContext: {runAsNonRoot: true}\n", root,
			[]string{"Image 'registry.example.com/team/nginx:1.21.0' runs as root and runAsNonRoot is true with no non-zero runAsUser: the kubelet will refuse to start the container"}},
		{"non-root image", "", &ImageContents{User: "nginx"}, nil},
		{"not scanned", "", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			manifest := deployment(t, "")
			if strings.HasPrefix(tc.sc, "      securityContext") {
				manifest = strings.Replace(manifest, "    spec:\n      containers:", "    spec:\n"+tc.sc+"      containers:", 1)
			} else {
				manifest += tc.sc
			}
			vs, err := newEngineMust(t).Evaluate(context.Background(), Input{Object: mustObject(t, manifest),
				Images: []ImageFacts{{Container: "nginx", Contents: tc.contents}}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, messagesOf(vs, RuleImageRunsAsRoot)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func newEngineMust(t *testing.T) *Engine {
	t.Helper()
	e, err := NewEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestContentsRulesMarked(t *testing.T) {
	for _, r := range Builtins() {
		want := r.ID == RuleBlockVulnerabilities || r.ID == RuleImageRunsAsRoot
		if r.NeedsImageContents != want {
			t.Errorf("%s: NeedsImageContents = %v, want %v", r.ID, r.NeedsImageContents, want)
		}
	}
}
