package e2e

import (
	"context"
	"os"
	"path/filepath"
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
	b, err := os.ReadFile(filepath.Join(dir, "plumbline.lock.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(only, "plumbline.lock.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := lock(t, only)
	if !strings.Contains(out, "removed   "+sidecar+"  (no longer used; was sha256:") {
		t.Errorf("stale entry not reported:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(only, "plumbline.lock.yaml")); strings.Contains(string(b), "sidecar") {
		t.Errorf("stale entry kept:\n%s", b)
	}

	broken := strings.Replace(string(b), "images:", "images:\n  - image: [unclosed", 1)
	if err := os.WriteFile(filepath.Join(only, "plumbline.lock.yaml"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, nil, plumbline, "check", "--path", only, "--offline")
	if r.code != 2 || !strings.Contains(r.stderr, "plumbline.lock.yaml:") {
		t.Fatalf("malformed lock: exit %d, want 2 naming plumbline.lock.yaml and a line\n%s", r.code, r.stderr)
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
	if _, err := env.Clientset.CoreV1().Secrets(ns).Create(context.Background(), secret, metav1.CreateOptions{}); err != nil {
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
