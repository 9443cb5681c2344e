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
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "XDG_CACHE_HOME=") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "DOCKER_CONFIG=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "KUBECONFIG="+env0(), "HOME="+home)
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

func env0() string { return env.Kubeconfig }

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
