package propose

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdk "code.gitea.io/sdk/gitea"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/test/gitea"
	"github.com/plumbline/plumbline/test/gitserver"
)

const hookSecret = "hook-secret-5e1f"

// withWebhook starts the controller's forge webhook endpoint and gives the forge Secret its
// webhookSecret key; it returns the endpoint's URL for the scene's Source. Call it after start.
func (s *scene) withWebhook() string {
	s.t.Helper()
	var sec corev1.Secret
	if err := s.client.Get(s.t.Context(), client.ObjectKey{Namespace: s.ns, Name: "forge"}, &sec); err != nil {
		s.t.Fatal(err)
	}
	sec.Data[reconciler.WebhookSecretKey] = []byte(hookSecret)
	if err := s.client.Update(s.t.Context(), &sec); err != nil {
		s.t.Fatal(err)
	}
	srv := httptest.NewServer(s.ctl.ForgeWebhook(s.hookRate))
	s.t.Cleanup(srv.Close)
	return srv.URL + "/hooks/" + s.ns + "/" + s.key.Name
}

// giteaHook makes Gitea deliver the repository's events (default: pull request and push) to url.
func (s *scene) giteaHook(url string, events ...string) {
	s.t.Helper()
	if len(events) == 0 {
		events = []string{"pull_request", "push"}
	}
	_, _, err := s.gitea.CreateRepoHook(gitea.AdminUser, s.repoName, sdk.CreateHookOption{Type: sdk.HookTypeGitea, Active: true, BranchFilter: "*",
		Events: events, Config: map[string]string{"url": url, "content_type": "json", "secret": hookSecret}})
	if err != nil {
		s.t.Fatal(err)
	}
}

// startHooked starts the scene's Source on apps/, polling every 10 minutes, with Gitea's
// webhook for events (default: pull request and push), and waits until it is watched.
func (s *scene) startHooked(events ...string) {
	s.t.Helper()
	spec := s.proposeSpec("apps")
	spec.Interval = &metav1.Duration{Duration: 10 * time.Minute}
	s.start(spec)
	s.giteaHook(s.withWebhook(), events...)
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
}

func post(t *testing.T, url string, header map[string]string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func sign(body []byte) string {
	m := hmac.New(sha256.New, []byte(hookSecret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// TestWebhookMergeSeenAtOnce: with Gitea's webhook, a merge is seen in seconds although the
// Source polls every 10 minutes: the incident resolves and nothing is reverted.
func TestWebhookMergeSeenAtOnce(t *testing.T) {
	t.Parallel()
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	s.startHooked()
	s.kubectl("scale", "deployment/web", "--replicas=5")
	pr := s.onePull()
	if ok, _, err := s.gitea.MergePullRequest(gitea.AdminUser, s.repoName, pr.Index, sdk.MergePullRequestOption{Style: sdk.MergeStyleMerge}); err != nil || !ok {
		t.Fatalf("merge: %v %v", ok, err)
	}
	s.eventually(30*time.Second, "the merge is seen through the webhook", func() bool { return len(s.notes.of(reconciler.EventProposalMerged)) == 1 })
	s.eventually(30*time.Second, "the incident resolves", func() bool { return len(s.notes.of(reconciler.EventResolved)) == 1 })
	if n := len(s.notes.of(reconciler.EventReverted)); n != 0 {
		t.Errorf("%d reverts after the merge", n)
	}
	if r := s.replicas(); r != 5 {
		t.Errorf("replicas %d after the merge, want 5", r)
	}
}

// TestWebhookPushFetchesAtOnce: a push to the Source's branch is fetched at once when the forge
// says so with a signed delivery; a delivery that is not signed, is too big, or names another
// Source changes nothing.
func TestWebhookPushFetchesAtOnce(t *testing.T) {
	t.Parallel()
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	spec := s.proposeSpec("apps")
	spec.Interval = &metav1.Duration{Duration: 10 * time.Minute}
	s.start(spec)
	url := s.withWebhook()
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	first := s.source().Status.LastFetchedRevision

	tip := gitserver.Commit(t, s.local, map[string]string{"NOTES.md": "a change\n"}, "notes")
	s.push() // no webhook at Gitea yet: only the 10-minute poll would see it
	push := []byte(`{"ref":"refs/heads/main","after":"` + tip + `"}`)
	for _, tc := range []struct {
		name   string
		url    string
		header map[string]string
		body   []byte
		code   int
		says   string
	}{
		{"unsigned", url, map[string]string{"X-Gitea-Event": "push"}, push, http.StatusUnauthorized, "signature does not match"},
		{"wrong signature", url, map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": strings.Repeat("0", 64)}, push, http.StatusUnauthorized, "signature does not match"},
		{"signed for another body", url, map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sign([]byte(`{}`))}, push, http.StatusUnauthorized, "signature does not match"},
		{"unknown Source", strings.Replace(url, "/apps", "/nope", 1), map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sign(push)}, push, http.StatusNotFound, "no Source"},
		{"bad path", strings.Replace(url, "/hooks/", "/hooks/../", 1), map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sign(push)}, push, http.StatusNotFound, "want POST /hooks/"},
		{"too big", url, map[string]string{"X-Gitea-Event": "push"}, bytes.Repeat([]byte("x"), 2<<20), http.StatusRequestEntityTooLarge, "over 1048576 bytes"},
		{"malformed", url, map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sign([]byte("{"))}, []byte("{"), http.StatusBadRequest, "malformed JSON"},
	} {
		if code, says := post(t, tc.url, tc.header, tc.body); code != tc.code || !strings.Contains(says, tc.says) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, code, says, tc.code, tc.says)
		}
	}
	time.Sleep(3 * time.Second)
	if got := s.source().Status.LastFetchedRevision; got != first {
		t.Fatalf("fetched %s without a signed delivery", got)
	}
	hooks := s.ctl.Metrics().ForgeWebhooks
	for result, want := range map[string]float64{"unauthorized": 3, "not-found": 2, "too-large": 1, "bad-request": 1, "push": 0} {
		if got := counterValue(t, hooks.WithLabelValues(result)); got != want {
			t.Errorf("plumbline_forge_webhooks_total{result=%q} = %v, want %v", result, got, want)
		}
	}

	if code, says := post(t, url, map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sign(push)}, push); code != http.StatusAccepted || !strings.Contains(says, "fetches Git now") {
		t.Fatalf("signed push: %d %q", code, says)
	}
	s.eventually(20*time.Second, "the signed push is fetched", func() bool { return s.source().Status.LastFetchedRevision == tip })
	if got := counterValue(t, hooks.WithLabelValues("push")); got != 1 {
		t.Errorf("plumbline_forge_webhooks_total{result=\"push\"} = %v, want 1", got)
	}

	// Gitea itself, from now on.
	s.giteaHook(url)
	tip2 := gitserver.Commit(t, s.local, map[string]string{"NOTES.md": "another change\n"}, "more notes")
	s.push()
	s.eventually(20*time.Second, "Gitea's push delivery is fetched", func() bool { return s.source().Status.LastFetchedRevision == tip2 })
}

// TestWebhookCloseRevertsAtOnce: a pull request closed unmerged is a rejection, and with the
// webhook the revert follows in seconds although the Source polls every 10 minutes.
func TestWebhookCloseRevertsAtOnce(t *testing.T) {
	t.Parallel()
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	s.startHooked("pull_request")
	s.kubectl("scale", "deployment/web", "--replicas=6")
	pr := s.onePull()
	closed := sdk.StateClosed
	if _, _, err := s.gitea.EditPullRequest(gitea.AdminUser, s.repoName, pr.Index, sdk.EditPullRequestOption{State: &closed}); err != nil {
		t.Fatal(err)
	}
	s.eventually(30*time.Second, "the close is seen through the webhook", func() bool { return len(s.notes.of(reconciler.EventProposalClosed)) == 1 })
	s.eventually(30*time.Second, "the revert", func() bool { return len(s.notes.of(reconciler.EventReverted)) >= 1 && s.replicas() == 2 })
}

// BenchmarkWebhookDelivery: one signed delivery through the endpoint against the real API
// server: path and size checks, the Source (from the cache), its Secret (from the API server),
// the HMAC of a 16 KiB body, and the event read. The event is a pull request of a branch that is
// not Plumbline's, so nothing else runs. Run: go test -run '^$' -bench WebhookDelivery
// -benchtime 200x ./test/propose/
func BenchmarkWebhookDelivery(b *testing.B) {
	s := newScene(b, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	spec := s.proposeSpec("apps")
	spec.Interval = &metav1.Duration{Duration: 10 * time.Minute}
	s.start(spec)
	s.hookRate = rate.Inf
	url := s.withWebhook()
	body := []byte(`{"action":"opened","pull_request":{"head":{"ref":"feature/x"}},"padding":"` + strings.Repeat("x", 16<<10) + `"}`)
	header := map[string]string{"X-Gitea-Event": "pull_request", "X-Gitea-Signature": sign(body)}
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// TestWebhookFloodLimited: past its rate the endpoint answers 429 with Retry-After and reads
// nothing.
func TestWebhookFloodLimited(t *testing.T) {
	t.Parallel()
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	s.start(s.proposeSpec("apps"))
	s.hookRate = 1 // a burst of 2
	url := s.withWebhook()
	var codes []int
	for range 4 {
		code, _ := post(t, url, map[string]string{"X-Gitea-Event": "ping"}, []byte(`{}`))
		codes = append(codes, code)
	}
	if codes[0] != http.StatusUnauthorized || codes[1] != http.StatusUnauthorized || codes[2] != http.StatusTooManyRequests || codes[3] != http.StatusTooManyRequests {
		t.Errorf("codes %v, want 401 401 429 429", codes)
	}
}
