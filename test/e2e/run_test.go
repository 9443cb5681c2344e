package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plumbline/plumbline/test/gitserver"
)

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// controllerProcess is one `plumbline run` started by a test.
type controllerProcess struct {
	cmd   *exec.Cmd
	out   *syncBuffer
	probe string
	done  chan struct{}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startRun starts `plumbline run` against the test control plane, leading through a Lease in
// namespace ns with short timings.
func startRun(t *testing.T, ns, identity string) *controllerProcess {
	t.Helper()
	p := &controllerProcess{out: &syncBuffer{}, probe: freeAddr(t), done: make(chan struct{})}
	p.cmd = exec.CommandContext(t.Context(), plumbline, "run", "--namespace", ns,
		"--metrics-bind-address", freeAddr(t), "--health-probe-bind-address", p.probe,
		"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=500ms",
		"--git-cache-dir", t.TempDir(), "--offline")
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "HOME="+t.TempDir(), "POD_NAME="+identity)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait() // the test kills it; how it ended is in its output
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("plumbline run (%s) printed:\n%s", identity, p.out.String())
		}
	})
	return p
}

// notifications returns the log lines of notifications of one event.
func (p *controllerProcess) notifications(event string) []string {
	var out []string
	for _, l := range strings.Split(p.out.String(), "\n") {
		if strings.Contains(l, `"msg":"notification"`) && strings.Contains(l, `"event":"`+event+`"`) {
			out = append(out, l)
		}
	}
	return out
}

func (p *controllerProcess) leads() bool {
	return strings.Contains(p.out.String(), "Successfully acquired lease")
}

func (p *controllerProcess) ready() bool {
	resp, err := http.Get("http://" + p.probe + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const controllerDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
spec:
  replicas: 1
  selector:
    matchLabels: {app: nginx}
  template:
    metadata:
      labels: {app: nginx}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 101}
      containers:
      - name: nginx
        image: nginx:1.21.0
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {memory: 128Mi}
`

// TestRunLeaderElection: two `plumbline run` replicas; one leads and tells of an out-of-band
// edit; the leader is killed; the other takes the Lease within its duration, does not tell of
// the open incident again, and tells of its resolution.
func TestRunLeaderElection(t *testing.T) {
	kubectl(t, "apply", "--server-side", "-f", "../../deploy/crd")
	system := newNamespace(t, "plumbline-system")
	apps := newNamespace(t, "run-apps")
	repo := gitserver.NewRepo(t, map[string]string{"deployment.yaml": controllerDeployment})
	source := fmt.Sprintf(`apiVersion: plumbline.dev/v1alpha1
kind: Source
metadata: {name: apps, namespace: %s}
spec:
  repo: file://%s
  ref: main
  mode: {default: alert, Missing: revert}
`, apps, repo)
	path := t.TempDir() + "/source.yaml"
	if err := os.WriteFile(path, []byte(source), 0o600); err != nil {
		t.Fatal(err)
	}

	a := startRun(t, system, "a")
	waitUntil(t, 60*time.Second, "the first replica to lead", a.leads)
	b := startRun(t, system, "b")
	waitUntil(t, 30*time.Second, "both replicas ready", func() bool { return a.ready() && b.ready() })
	kubectl(t, "apply", "-f", path)
	waitUntil(t, 30*time.Second, "the Source ready and the Deployment applied", func() bool {
		out := runCmd(t, nil, "kubectl", "get", "sources", "-n", apps, "--no-headers")
		return out.code == 0 && strings.Contains(out.stdout, "True") &&
			runCmd(t, nil, "kubectl", "-n", apps, "get", "deployment", "nginx-deployment").code == 0
	})
	if b.leads() {
		t.Fatal("both replicas lead")
	}

	kubectl(t, "-n", apps, "set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	waitUntil(t, 5*time.Second, "the leader to tell of the edit", func() bool {
		for _, l := range a.notifications("opened") {
			if strings.Contains(l, "Image changed from 'nginx:1.21.0' to 'nginx:latest'") {
				return true
			}
		}
		return false
	})
	if n := b.notifications("opened"); len(n) != 0 {
		t.Fatalf("the replica that does not lead told of incidents:\n%s", strings.Join(n, "\n"))
	}

	killed := time.Now()
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "the second replica to take the Lease", b.leads)
	t.Logf("took over %s after the leader was killed", time.Since(killed).Round(100*time.Millisecond))
	kubectl(t, "-n", apps, "set", "image", "deployment/nginx-deployment", "nginx=nginx:1.21.0")
	waitUntil(t, 10*time.Second, "the new leader to tell of the resolution", func() bool {
		return len(b.notifications("resolved")) > 0
	})
	if n := b.notifications("opened"); len(n) != 0 {
		t.Errorf("the new leader told of the open incident again:\n%s", strings.Join(n, "\n"))
	}
	holder := runCmd(t, nil, "kubectl", "-n", system, "get", "lease", "plumbline-controller", "-o", "jsonpath={.spec.holderIdentity}")
	if holder.code != 0 || holder.stdout == "" {
		t.Errorf("no Lease holder: %s%s", holder.stdout, holder.stderr)
	}
}
