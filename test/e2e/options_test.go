package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestIgnoreFile: an ignore rule drops the replicas an HPA scales; a file with an unknown field
// is an error that names it.
func TestIgnoreFile(t *testing.T) {
	ns := newNamespace(t, "ignore")
	dir := filepath.Join("testdata", "nginx-story", "base")
	kubectl(t, "apply", "--server-side", "-n", ns, "-k", dir)
	kubectl(t, "scale", "-n", ns, "deployment/nginx-deployment", "--replicas=9")
	rules := filepath.Join(t.TempDir(), "ignore.yaml")
	write := func(body string) {
		if err := os.WriteFile(rules, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if r := diff(t, "--path", dir, "-n", ns, "--skip-images"); r.code != 1 {
		t.Fatalf("without rules: exit %d, want 1\n%s", r.code, r.stdout)
	}
	write("apiVersion: plumbline.dev/v1alpha1\nkind: IgnoreRules\nrules:\n- kinds: [Deployment]\n  selector: {matchLabels: {app: nginx}}\n  paths: [.spec.replicas]\n")
	if r := diff(t, "--path", dir, "-n", ns, "--skip-images", "--ignore-file", rules); r.code != 0 {
		t.Fatalf("replicas ignored: exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	write("apiVersion: plumbline.dev/v1alpha1\nkind: IgnoreRules\nrules:\n- kind: [Deployment]\n  paths: [.spec.replicas]\n")
	if r := diff(t, "--path", dir, "-n", ns, "--skip-images", "--ignore-file", rules); r.code != 2 || !strings.Contains(r.stderr, rules) || !strings.Contains(r.stderr, `unknown field "kind"`) {
		t.Fatalf("unknown field: exit %d, want 2 naming the file and field\n%s", r.code, r.stderr)
	}
}

// TestLockFileLifecycle: a malformed lock file is an error with file and line; an entry for an
// image no longer used is reported and removed by `images lock`.
func TestLockFileLifecycle(t *testing.T) {
	reg := newTestRegistry(t)
	web, sidecar := reg.image("team/web:1.0"), reg.image("team/sidecar:2.0")
	reg.pushImage(t, web)
	reg.pushImage(t, sidecar)
	dir := webApp(t, web, sidecar)
	lock(t, dir)

	only := webApp(t, web)
	onlyLock := filepath.Join(only, "plumbline.lock.yaml")
	b, err := os.ReadFile(filepath.Join(dir, "plumbline.lock.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(onlyLock, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := lock(t, only)
	if !strings.Contains(out, "removed   "+sidecar+"  (no longer used; was sha256:") {
		t.Errorf("stale entry not reported:\n%s", out)
	}
	relocked, err := os.ReadFile(onlyLock)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(relocked), "sidecar") || !strings.Contains(string(relocked), web) {
		t.Errorf("re-locked file keeps the stale entry or lost the used one:\n%s", relocked)
	}

	// Break the file that `images lock` just wrote the way a hand edit does: a space after the
	// algorithm of the digest makes the line a mapping where a string belongs.
	lines := strings.Split(string(relocked), "\n")
	at := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "digest: sha256:") })
	if at < 0 {
		t.Fatalf("no digest line in the lock file:\n%s", relocked)
	}
	broken := slices.Clone(lines)
	broken[at] = strings.Replace(broken[at], "sha256:", "sha256: ", 1)
	if err := os.WriteFile(onlyLock, []byte(strings.Join(broken, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, nil, plumbline, "check", "--path", only, "--offline")
	want := "plumbline.lock.yaml:" + strconv.Itoa(at+1) + ": "
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Fatalf("malformed lock: exit %d, want 2 and an error starting %q\n%s%s\nthe file:\n%s", r.code, want, r.stdout, r.stderr, strings.Join(broken, "\n"))
	}
}

// TestPullSecrets: with --pull-secrets a workload's images resolve with its imagePullSecrets,
// as the kubelet pulls them, with no Docker config at all.
func TestPullSecrets(t *testing.T) {
	reg := newTestRegistry(t)
	reg.user, reg.password = "puller", "pull-secret-value"
	image := reg.image("team/private:4.2")
	reg.pushImage(t, image)
	ns := newNamespace(t, "pullsecrets")
	config, err := os.ReadFile(filepath.Join(reg.dockerConfig(t, "puller", "pull-secret-value"), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: ns},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: config},
	}
	if _, err := env.Clientset.CoreV1().Secrets(ns).Create(t.Context(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	deployment := `apiVersion: apps/v1
kind: Deployment
metadata: {name: private}
spec:
  selector: {matchLabels: {app: private}}
  template:
    metadata: {labels: {app: private}}
    spec:
      imagePullSecrets: [{name: regcred}]
      containers: [{name: app, image: "` + image + `"}]
`
	if err := os.WriteFile(filepath.Join(dir, "deployment.yaml"), []byte(deployment), 0o644); err != nil {
		t.Fatal(err)
	}
	lock(t, dir, "DOCKER_CONFIG="+reg.dockerConfig(t, "puller", "pull-secret-value"))
	kubectl(t, "apply", "--server-side", "-n", ns, "-f", filepath.Join(dir, "deployment.yaml"))

	noConfig := "DOCKER_CONFIG=" + t.TempDir()
	if r := runCmd(t, []string{noConfig}, plumbline, "diff", "--path", dir, "-n", ns, "--cache-dir=", "--pull-secrets"); r.code != 0 {
		t.Fatalf("with --pull-secrets: exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := runCmd(t, []string{noConfig}, plumbline, "diff", "--path", dir, "-n", ns, "--cache-dir=")
	if r.code != 2 || !strings.Contains(r.stdout, reg.host) {
		t.Fatalf("without --pull-secrets: exit %d, want 2 naming the registry\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "pull-secret-value") {
		t.Error("the pull secret appears in the output")
	}
}
