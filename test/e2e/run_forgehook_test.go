package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRunForgeWebhookOnTheLeader: `plumbline run --forge-webhook-addr` serves the forges'
// webhooks on the leader only; the other replica does not listen until it takes the Lease.
func TestRunForgeWebhookOnTheLeader(t *testing.T) {
	kubectl(t, "apply", "--server-side", "-f", "../../deploy/crd")
	system := newNamespace(t, "plumbline-system")
	apps := newNamespace(t, "hook-apps")
	addrA, addrB := freeAddr(t), freeAddr(t)
	a := startRunWith(t, system, "a", "--forge-webhook-addr", addrA, "--propose-timeout=10s")
	waitUntil(t, 60*time.Second, "the first replica to lead", a.leads)
	b := startRunWith(t, system, "b", "--forge-webhook-addr", addrB, "--propose-timeout=10s")
	waitUntil(t, 30*time.Second, "both replicas ready", func() bool { return a.ready() && b.ready() })

	deliver := func(addr string) (int, string, error) {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/hooks/"+apps+"/apps", strings.NewReader(`{"ref":"refs/heads/main"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Gitea-Event", "push")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b)), nil
	}
	var code int
	var body string
	waitUntil(t, 10*time.Second, "the leader to serve the webhooks", func() bool {
		var err error
		code, body, err = deliver(addrA)
		return err == nil
	})
	if code != http.StatusNotFound || body != "no Source "+apps+"/apps with a webhook secret" {
		t.Errorf("a delivery for a Source that does not exist: %d %q", code, body)
	}
	if _, _, err := deliver(addrB); err == nil {
		t.Error("the replica that does not lead serves the webhooks")
	}

	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "the second replica to take the Lease", b.leads)
	waitUntil(t, 10*time.Second, "the new leader to serve the webhooks", func() bool {
		code, _, err := deliver(addrB)
		return err == nil && code == http.StatusNotFound
	})
}
