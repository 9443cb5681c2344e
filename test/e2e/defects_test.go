package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbline/plumbline/report"
)

// runAs runs a command as one user: the same HOME on every call (so whatever a run keeps in
// the user's cache folder, the next run finds), no XDG_CACHE_HOME, KUBECONFIG at the test
// control plane, and a deadline from the test.
func runAs(t *testing.T, home string, name string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	var vars []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "XDG_CACHE_HOME=") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "DOCKER_CONFIG=") {
			vars = append(vars, kv)
		}
	}
	cmd.Env = append(vars, "KUBECONFIG="+env.Kubeconfig, "HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// writeFiles writes path → content under a new folder and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// hardenedWeb is a Deployment that passes the built-in rules and declares no namespace: the
// command line gives it one. labels are its metadata labels.
func hardenedWeb(labels string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web` + labels + `}
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 101}
      containers:
      - name: web
        image: registry.example.com/shop/web:1.4.2
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {memory: 128Mi}
`
}

// ownerLabelPolicy is a CEL rule for Deployments in prod-* namespaces only.
const ownerLabelPolicy = `apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
metadata: {name: shop}
spec:
  policies:
  - name: owner-label-required
    severity: high
    match: {kinds: ["Deployment"], namespaces: ["prod-*"]}
    validations:
    - expression: "has(object.metadata.labels) && 'owner' in object.metadata.labels"
      messageExpression: "'Deployment ' + object.metadata.name + ' has no owner label'"
`

// policyViolations returns the findings of one rule.
func policyViolations(rep report.Report, rule string) []report.Finding {
	var out []report.Finding
	for _, f := range rep.Findings {
		if f.Type == report.PolicyViolation && f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

// TestNamespaceGlobPolicyWithNamespaceFromTheCommandLine: manifests that leave the namespace
// to the command line (-n) are checked in that namespace, by check (what Git declares) and by
// diff (what runs), so a rule that matches namespaces by glob sees them.
func TestNamespaceGlobPolicyWithNamespaceFromTheCommandLine(t *testing.T) {
	policyFile := filepath.Join(writeFiles(t, map[string]string{"policy.yaml": ownerLabelPolicy}), "policy.yaml")

	t.Run("check", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"deployment.yaml": hardenedWeb("")})
		r := runCmd(t, nil, plumbline, "check", "--skip-images", "--path", dir, "--policy", policyFile, "-n", "prod-eu", "-o", "json")
		if r.code != 1 {
			t.Fatalf("check -n prod-eu: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		vs := policyViolations(decodeReport(t, r.stdout), "owner-label-required")
		if len(vs) != 1 || vs[0].Message != "Deployment web has no owner label" || vs[0].Object.Namespace != "prod-eu" || vs[0].Where != report.WhereDesired {
			t.Fatalf("check -n prod-eu: owner-label-required findings %+v, want one on Deployment prod-eu/web in Git", vs)
		}
		r = runCmd(t, nil, plumbline, "check", "--skip-images", "--path", dir, "--policy", policyFile, "-n", "prod-eu")
		if !strings.Contains(r.stdout, "Check failed: Deployment 'web' in namespace 'prod-eu'") {
			t.Errorf("check text output does not name the namespace:\n%s", r.stdout)
		}
		// Outside prod-* the rule does not apply: the default namespace is "default".
		r = runCmd(t, nil, plumbline, "check", "--skip-images", "--path", dir, "--policy", policyFile, "-o", "json")
		if r.code != 0 || len(policyViolations(decodeReport(t, r.stdout), "owner-label-required")) != 0 {
			t.Fatalf("check without -n: exit %d, want 0 and no owner-label-required\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("diff", func(t *testing.T) {
		ns := newNamespace(t, "prod")
		dir := writeFiles(t, map[string]string{"deployment.yaml": hardenedWeb(", owner: shop")})
		kubectl(t, "apply", "--server-side", "-n", ns, "-f", filepath.Join(dir, "deployment.yaml"))
		args := []string{"diff", "--skip-images", "--path", dir, "--policy", policyFile, "-n", ns, "-o", "json"}
		if r := runCmd(t, nil, plumbline, args...); r.code != 0 {
			t.Fatalf("diff right after apply: exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
		}
		kubectl(t, "label", "deployment", "web", "-n", ns, "owner-")
		r := runCmd(t, nil, plumbline, args...)
		if r.code != 1 {
			t.Fatalf("diff after the owner label was removed live: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		vs := policyViolations(decodeReport(t, r.stdout), "owner-label-required")
		if len(vs) != 1 || vs[0].Object.Namespace != ns || vs[0].Where != report.WhereLive {
			t.Fatalf("diff: owner-label-required findings %+v, want one on the live Deployment %s/web", vs, ns)
		}
	})
}

// TestRebuiltTagSeenOnEveryRun is the mission's first story, run twice by one user: lock, diff
// (no drift), rebuild the tag, diff again. The second diff must see the rebuild although the
// first one ran a moment before with the same HOME, where a default digest cache would keep the
// approved digest for minutes. A cache across runs is opt-in (--cache-dir), and it trades
// exactly that: inside its TTL a rebuild goes unseen.
func TestRebuiltTagSeenOnEveryRun(t *testing.T) {
	reg := newTestRegistry(t)
	image := reg.image("team/nginx:1.21.0")
	approved := reg.pushImage(t, image)
	dir := webApp(t, image)
	ns := newNamespace(t, "rebuild-twice")
	home := t.TempDir()
	plumblineAs := func(args ...string) (result, report.Report) {
		t.Helper()
		r := runAs(t, home, plumbline, args...)
		if !strings.HasPrefix(strings.TrimSpace(r.stdout), "{") {
			return r, report.Report{}
		}
		return r, decodeReport(t, r.stdout)
	}
	diffArgs := []string{"diff", "--path", dir, "-n", ns, "-o", "json"}

	if r, _ := plumblineAs("images", "lock", "--path", dir); r.code != 0 {
		t.Fatalf("images lock: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	kubectl(t, "apply", "--server-side", "-n", ns, "-f", filepath.Join(dir, "deployment.yaml"))
	if r, rep := plumblineAs(diffArgs...); r.code != 0 {
		t.Fatalf("locked and applied: exit %d, want 0\n%+v\n%s", r.code, rep.Findings, r.stderr)
	}

	rebuilt := reg.pushImage(t, image)
	mutated := "Image: " + image + " was rebuilt under the same tag: approved " + short(approved) + ", registry now serves " + short(rebuilt)
	r, rep := plumblineAs(diffArgs...)
	if r.code != 1 || !hasFinding(rep, report.ImageTagMutated, mutated) {
		t.Fatalf("diff right after the rebuild: exit %d, want 1 and %q\n%s%s", r.code, mutated, r.stdout, r.stderr)
	}
	if kept, _ := filepath.Glob(filepath.Join(home, ".cache", "*")); len(kept) > 0 {
		t.Errorf("without --cache-dir a run kept %v in the user's cache folder", kept)
	}

	// Opt in: the rebuild approved, a run fills the cache; the next rebuild is unseen with the
	// cache, inside its TTL, and seen without it.
	if r, _ := plumblineAs("images", "lock", "--path", dir); r.code != 0 {
		t.Fatalf("images lock after the rebuild: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	cache := filepath.Join(home, "digests")
	if r, rep := plumblineAs(append(diffArgs, "--cache-dir", cache)...); r.code != 0 {
		t.Fatalf("re-locked, with --cache-dir: exit %d, want 0\n%+v\n%s", r.code, rep.Findings, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(cache, "image-digests.json")); err != nil {
		t.Fatalf("--cache-dir kept nothing: %v", err)
	}
	again := reg.pushImage(t, image)
	if r, rep := plumblineAs(append(diffArgs, "--cache-dir", cache)...); r.code != 0 {
		t.Errorf("with --cache-dir inside its TTL: exit %d, want 0 (the trade the README states)\n%+v", r.code, rep.Findings)
	}
	mutated = "Image: " + image + " was rebuilt under the same tag: approved " + short(rebuilt) + ", registry now serves " + short(again)
	if r, rep := plumblineAs(diffArgs...); r.code != 1 || !hasFinding(rep, report.ImageTagMutated, mutated) {
		t.Errorf("without --cache-dir: exit %d, want 1 and %q\n%s%s", r.code, mutated, r.stdout, r.stderr)
	}
}

// hasFinding reports whether rep holds a finding of that type whose message starts with msg.
func hasFinding(rep report.Report, typ report.FindingType, msg string) bool {
	for _, f := range rep.Findings {
		if f.Type == typ && strings.HasPrefix(f.Message, msg) {
			return true
		}
	}
	return false
}
