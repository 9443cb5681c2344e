package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plumbline/plumbline/test/gitserver"
	"github.com/plumbline/plumbline/test/slackserver"
)

// startRunWith starts `plumbline run` as startRun does, with more flags.
func startRunWith(t *testing.T, ns, identity string, extra ...string) *controllerProcess {
	t.Helper()
	p := &controllerProcess{out: &syncBuffer{}, probe: freeAddr(t), done: make(chan struct{})}
	args := append([]string{"run", "--namespace", ns,
		"--metrics-bind-address", freeAddr(t), "--health-probe-bind-address", p.probe,
		"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=500ms",
		"--git-cache-dir", t.TempDir(), "--offline"}, extra...)
	p.cmd = exec.CommandContext(t.Context(), plumbline, args...)
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "HOME="+t.TempDir(), "POD_NAME="+identity)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
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

// TestRunSlackLeaderChange: two `plumbline run` replicas post to a recording Slack server. The
// leader posts the root of an out-of-band edit and is killed; the new leader posts no new root,
// acts on a signed "Revert now" pressed in the old message, and tells the old thread who pressed
// it, that the drift resolved, and edits the old root.
func TestRunSlackLeaderChange(t *testing.T) {
	kubectl(t, "apply", "--server-side", "-f", "../../deploy/crd")
	srv := slackserver.New()
	defer srv.Stop()
	system := newNamespace(t, "plumbline-system")
	apps := newNamespace(t, "slack-apps")
	kubectl(t, "-n", system, "create", "secret", "generic", "slack", "--from-literal=token=xoxb-e2e-not-real")
	signing := t.TempDir() + "/signing-secret"
	if err := os.WriteFile(signing, []byte("e2e-signing-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	repo := gitserver.NewRepo(t, map[string]string{"deployment.yaml": controllerDeployment})
	path := t.TempDir() + "/source.yaml"
	source := fmt.Sprintf("apiVersion: plumbline.dev/v1alpha1\nkind: Source\nmetadata: {name: apps, namespace: %s}\nspec:\n  repo: file://%s\n  ref: main\n  mode: {default: alert, Missing: revert}\n", apps, repo)
	if err := os.WriteFile(path, []byte(source), 0o600); err != nil {
		t.Fatal(err)
	}
	addrA, addrB := freeAddr(t), freeAddr(t)
	slackFlags := func(addr string) []string {
		return []string{"--slack-api-url", srv.APIURL(), "--slack-channel", "C0OPS", "--slack-secret", system + "/slack",
			"--slack-interactions-addr", addr, "--slack-signing-secret-file", signing, "--slack-allowed-users", "U0ALICE,S0ONCALL"}
	}
	a := startRunWith(t, system, "a", slackFlags(addrA)...)
	waitUntil(t, 60*time.Second, "the first replica to lead", a.leads)
	b := startRunWith(t, system, "b", slackFlags(addrB)...)
	waitUntil(t, 30*time.Second, "both replicas ready", func() bool { return a.ready() && b.ready() })
	kubectl(t, "apply", "-f", path)
	waitUntil(t, 30*time.Second, "the Source ready and the Deployment applied", func() bool {
		out := runCmd(t, nil, "kubectl", "get", "sources", "-n", apps, "--no-headers")
		return out.code == 0 && strings.Contains(out.stdout, "True") &&
			runCmd(t, nil, "kubectl", "-n", apps, "get", "deployment", "nginx-deployment").code == 0
	})

	// The Deployment's creation told its own story (Missing, reverted); the edit is a new root.
	kubectl(t, "-n", apps, "set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	var root slackserver.Message
	waitUntil(t, 15*time.Second, "the root of the edit", func() bool {
		for _, m := range srv.Messages() {
			if m.ThreadTS == "" && strings.Contains(m.Text, "Reason: Image changed from 'nginx:1.21.0' to 'nginx:latest'") {
				root = m
				return true
			}
		}
		return false
	})
	if !strings.HasPrefix(root.Text, ":warning: Drift detected: Deployment 'nginx-deployment' in namespace '"+apps+"'") {
		t.Fatalf("root = %q", root.Text)
	}
	value := regexp.MustCompile(`"value":"([^"]+)"`).FindStringSubmatch(root.Blocks)
	if value == nil {
		t.Fatalf("no button in %s", root.Blocks)
	}

	time.Sleep(500 * time.Millisecond)
	before := len(srv.Messages())
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "the second replica to take the Lease", b.leads)
	time.Sleep(2 * time.Second) // a second root would come now
	if msgs := srv.Messages(); len(msgs) != before {
		for _, m := range msgs[before:] {
			t.Logf("%s ts=%s thread=%s: %q", m.Method, m.TS, m.ThreadTS, m.Text)
		}
		t.Fatalf("after the leader change Slack received %d new messages, want none", len(msgs)-before)
	}

	press := func(user string) int {
		payload, _ := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]any{"id": user, "name": "alice"},
			"actions": []map[string]any{{"type": "button", "action_id": "plumbline_revert", "block_id": "plumbline_actions", "value": value[1]}}})
		body := url.Values{"payload": {string(payload)}}.Encode()
		req, _ := http.NewRequest(http.MethodPost, "http://"+addrB+"/", strings.NewReader(body))
		stamp := fmt.Sprint(time.Now().Unix())
		mac := hmac.New(sha256.New, []byte("e2e-signing-secret"))
		fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
		req.Header.Set("X-Slack-Request-Timestamp", stamp)
		req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var code int
	waitUntil(t, 15*time.Second, "the new leader's interactivity endpoint", func() bool {
		code = press("U0MALLORY")
		return code != 0
	})
	if code != http.StatusForbidden {
		t.Errorf("a user not on the list: status %d, want 403", code)
	}
	if code := press("U0ALICE"); code != http.StatusOK {
		t.Fatalf("signed press: status %d", code)
	}
	waitUntil(t, 20*time.Second, "the revert, its reply, the resolution and the edit of the old root", func() bool {
		for _, m := range srv.Messages() {
			if m.Method == "chat.update" {
				return true
			}
		}
		return false
	})
	image := kubectl(t, "-n", apps, "get", "deployment", "nginx-deployment", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	if image != "nginx:1.21.0" {
		t.Errorf("image = %s after Revert now", image)
	}
	var thread string
	for _, m := range srv.Messages()[before:] {
		if m.Method == "chat.update" {
			if m.TS != root.TS {
				t.Errorf("edited %s, not the old root %s", m.TS, root.TS)
			}
			continue
		}
		if m.ThreadTS != root.TS {
			t.Errorf("message %q outside the old thread", m.Text)
		}
		thread += m.Text + "\n"
	}
	for _, want := range []string{"Revert now by alice (U0ALICE): reverted Deployment/" + apps + "/nginx-deployment to Git at ", "Resolved: live state matches Git again"} {
		if !strings.Contains(thread, want) {
			t.Errorf("the thread lacks %q:\n%s", want, thread)
		}
	}
}
