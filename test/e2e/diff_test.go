package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plumbline/plumbline/report"
	"github.com/plumbline/plumbline/test/gitserver"
)

// decodeReport parses `plumbline diff -o json`.
func decodeReport(t *testing.T, out string) report.Report {
	t.Helper()
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("output is not a JSON report: %v\n%s", err, out)
	}
	return r
}

// TestNginxStory is the mission's second story through the CLI: the nginx Deployment from Git,
// applied with kubectl, then edited the ways people do it.
func TestNginxStory(t *testing.T) {
	ns := newNamespace(t, "story")
	repo := gitserver.NewRepo(t, fixture(t, "nginx-story"))
	src := []string{"--repo", "file://" + repo, "--ref", "main", "--path", "overlays/prod", "-n", ns, "--skip-images"}

	kubectl(t, "apply", "-n", ns, "-k", filepath.Join(repo, "overlays/prod"))
	if r := diff(t, src...); r.code != 0 {
		t.Fatalf("right after kubectl apply: exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}

	kubectl(t, "set", "image", "-n", ns, "deployment/nginx-deployment", "nginx=nginx:latest")
	kubectl(t, "scale", "-n", ns, "deployment/nginx-deployment", "--replicas=5")
	editor := writeEditor(t, `/- image: nginx:latest/a\        env:\n        - name: DEBUG\n          value: "1"`)
	kubectlEnv(t, []string{"KUBE_EDITOR=" + editor}, "edit", "-n", ns, "deployment/nginx-deployment")
	kubectl(t, "delete", "-n", ns, "service/nginx")
	kubectl(t, "create", "-n", ns, "configmap", "debug-flags", "--from-literal=verbose=true")

	r := diff(t, src...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"Drift detected: Deployment 'nginx-deployment' in namespace '" + ns + "'\n",
		"  Reason: Image changed from 'nginx:1.21.0' to 'nginx:latest' (by kubectl-set at ",
		"  Reason: Replicas changed from 3 to 5 (by kubectl",
		`  Reason: Field .spec.template.spec.containers[name="nginx"].env added in the cluster but not declared in Git: [{"name":"DEBUG","value":"1"}] (by kubectl-edit at `,
		"Drift detected: Service 'nginx' in namespace '" + ns + "'\n  Reason: Declared in Git but absent from the cluster\n  Declared in: base/service.yaml\n",
		"Drift detected: ConfigMap 'debug-flags' in namespace '" + ns + "'\n  Reason: Not declared in Git: created in the cluster by kubectl-create at ",
		"  Policy Violation: Use of 'latest' tag is disallowed. (container nginx) [disallow-latest-tag, high]\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, r.stdout)
		}
	}

	j := diff(t, append(src, "-o", "json")...)
	if j.code != 1 {
		t.Fatalf("json: exit %d, want 1\n%s", j.code, j.stderr)
	}
	rep := decodeReport(t, j.stdout)
	if rep.Source.Repo != "file://"+repo || rep.Source.Ref != "refs/heads/main" || len(rep.Source.Revision) != 40 || rep.Source.Path != "overlays/prod" {
		t.Errorf("source = %+v", rep.Source)
	}
	if d := cmp.Diff(map[report.FindingType]int{report.Modified: 1, report.Missing: 1, report.Extra: 1, report.PolicyViolation: 1}, rep.Summary.ByType); d != "" {
		t.Errorf("summary by type (-want +got):\n%s", d)
	}
	var image *report.Field
	for _, f := range rep.Findings {
		for i := range f.Fields {
			if strings.HasSuffix(f.Fields[i].Path, ".image") {
				image = &f.Fields[i]
			}
		}
	}
	if image == nil || image.Desired != "nginx:1.21.0" || image.Live != "nginx:latest" || image.Manager != "kubectl-set" || image.Time == nil {
		t.Errorf("image field = %+v", image)
	}
	// A number stays a number in JSON.
	if !regexp.MustCompile(`"path": "\.spec\.replicas",\s+"desired": 3,\s+"live": 5`).MatchString(j.stdout) {
		t.Errorf("replicas are not JSON numbers:\n%s", j.stdout)
	}
}

// writeEditor writes a KUBE_EDITOR that applies a sed script to the file kubectl edit opens.
func writeEditor(t *testing.T, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "editor.sh")
	body := "#!/bin/sh\nexec sed -i '" + script + "' \"$1\"\n"
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBenignCorpusHasNoDrift applies a corpus full of defaulted and normalised fields with
// client-side and with server-side kubectl apply, and expects no finding from either.
func TestBenignCorpusHasNoDrift(t *testing.T) {
	for _, mode := range [][]string{{"apply"}, {"apply", "--server-side"}} {
		t.Run(strings.Join(mode, " "), func(t *testing.T) {
			ns := newNamespace(t, "benign")
			dir := filepath.Join("testdata", "benign-corpus")
			kubectl(t, append(mode, "-n", ns, "-f", dir)...)
			r := diff(t, "--path", dir, "-n", ns, "--skip-images")
			if r.code != 0 || !strings.Contains(r.stdout, "No drift: 12 objects match") {
				t.Fatalf("exit %d, want 0 and no drift\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

func TestSecretsAreMaskedInEveryOutput(t *testing.T) {
	ns := newNamespace(t, "secret")
	dir := filepath.Join("testdata", "secret-masking")
	kubectl(t, "apply", "--server-side", "-n", ns, "-f", dir)
	kubectl(t, "patch", "-n", ns, "secret/db-credentials", "-p", `{"stringData":{"password":"changed-by-hand"}}`)
	for _, format := range []string{"text", "json"} {
		r := diff(t, "--path", dir, "-n", ns, "-o", format, "-v", "--skip-images")
		if r.code != 1 {
			t.Fatalf("%s: exit %d, want 1\n%s%s", format, r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, ".data.password") {
			t.Errorf("%s: the drifted secret key is not named:\n%s", format, r.stdout)
		}
		for _, secret := range []string{"hunter2-from-git", "aHVudGVyMi1mcm9tLWdpdA", "changed-by-hand", "Y2hhbmdlZC1ieS1oYW5k"} {
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("%s output shows %q:\n%s%s", format, secret, r.stdout, r.stderr)
			}
		}
	}
}

// TestGitOverAuthenticatedHTTP fetches the source through git http-backend behind Basic auth,
// with the token read from a file, and checks that bad credentials fail without showing them.
func TestGitOverAuthenticatedHTTP(t *testing.T) {
	ns := newNamespace(t, "http")
	repo := gitserver.NewRepo(t, fixture(t, "nginx-story"))
	srv := gitserver.NewHTTP(t, filepath.Dir(repo), "deploy", "s3cret-token-value")
	url := srv.URL + "/" + filepath.Base(repo)
	kubectl(t, "apply", "--server-side", "-n", ns, "-k", filepath.Join(repo, "overlays/prod"))

	good := filepath.Join(t.TempDir(), "token")
	bad := filepath.Join(t.TempDir(), "bad-token")
	if err := os.WriteFile(good, []byte("s3cret-token-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("wrong-token-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--repo", url, "--path", "overlays/prod", "-n", ns, "--git-username", "deploy", "--git-insecure-http", "--skip-images"}
	if r := diff(t, append(args, "--git-password-file", good)...); r.code != 0 {
		t.Fatalf("good token: exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := diff(t, append(args, "--git-password-file", bad)...)
	if r.code != 2 {
		t.Fatalf("bad token: exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "authentication") || !strings.Contains(r.stderr, strings.TrimPrefix(srv.URL, "http://")) {
		t.Errorf("bad token: error does not say authentication failed at the host:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr+r.stdout, "wrong-token-value") {
		t.Errorf("the token appears in the output:\n%s", r.stderr)
	}
}

func TestErrorsExitTwo(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-kubeconfig")
	tests := []struct {
		name     string
		args     []string
		wantText string
	}{
		{"remote resource", []string{"--path", filepath.Join("testdata", "remote-resource")}, "kustomization.yaml"},
		{"unreachable repository", []string{"--repo", "https://127.0.0.1:1/platform/apps.git", "--path", "."}, "127.0.0.1:1"},
		{"ssh without known_hosts", []string{"--repo", "ssh://git@127.0.0.1:1/apps.git", "--path", "."}, "known_hosts"},
		{"no such kubeconfig", []string{"--path", filepath.Join("testdata", "benign-corpus"), "--kubeconfig", missing}, missing},
		{"bad output format", []string{"--path", ".", "-o", "yaml"}, "--output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := diff(t, tt.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantText) {
				t.Errorf("error does not name %q:\n%s", tt.wantText, r.stderr)
			}
		})
	}
}
