package reconciler

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/notify"
	"github.com/plumbline/plumbline/test/slackserver"
)

// slackScene is a controller scene whose notifier posts to a recording Slack server, with its
// Slack state in ConfigMaps of the scene's namespace.
type slackScene struct {
	*controllerScene
	srv *slackserver.Server
	ctl *Controller
}

func newSlackScene(t *testing.T, fixture string) *slackScene {
	s := &slackScene{controllerScene: newControllerScene(t, fixture), srv: slackserver.New()}
	t.Cleanup(s.srv.Stop)
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "slack"}, Data: map[string][]byte{"token": []byte("xoxb-not-a-real-token")}}
	if err := s.client.Create(t.Context(), sec); err != nil {
		t.Fatal(err)
	}
	return s
}

func slackSpec(mode v1alpha1.Mode) v1alpha1.SourceSpec {
	return v1alpha1.SourceSpec{Mode: v1alpha1.ModeSpec{Default: mode},
		Notify: &v1alpha1.NotifySpec{Slack: &v1alpha1.SlackNotifySpec{Channel: "C0OPS", SecretRef: &v1alpha1.LocalObjectReference{Name: "slack"}}}}
}

// startSlack runs a manager with the controller and its Slack notifier; with leaderElect, the
// notifier and the controller run only once it holds the scene's Lease. It returns a stop.
func (s *slackScene) startSlack(leaderElect bool) func() {
	s.t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			s.t.Fatal(err)
		}
	}
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	lease, renew, retry := 4*time.Second, 3*time.Second, 500*time.Millisecond
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller:     config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:          cache.Options{DefaultNamespaces: map[string]cache.Config{s.ns: {}}, DefaultTransform: StripForDiff},
		Client:         client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		LeaderElection: leaderElect, LeaderElectionID: "plumbline-slack-test", LeaderElectionNamespace: s.ns,
		LeaderElectionReleaseOnCancel: true, LeaseDuration: &lease, RenewDeadline: &renew, RetryPeriod: &retry,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	ctl, err := NewController(mgr.GetClient(), env.Config, ControllerOptions{
		GitCacheDir: s.t.TempDir(), APIReader: mgr.GetAPIReader(),
		RevertBackoff: Backoff{Initial: 200 * time.Millisecond, Factor: 1.5, Cap: 2 * time.Second, Quiet: 10 * time.Second},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		s.t.Fatal(err)
	}
	sn, err := NewSlackNotifier(mgr.GetClient(), mgr.GetAPIReader(), NewSlackStore(dyn, s.ns), SlackOptions{
		Notify: notify.Options{APIURL: s.srv.APIURL(), Rate: 50, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}})
	if err != nil {
		s.t.Fatal(err)
	}
	ctl.UseSlack(sn)
	if err := mgr.Add(sn); err != nil {
		s.t.Fatal(err)
	}
	if err := ctl.SetupWithManager(mgr, 2); err != nil {
		s.t.Fatal(err)
	}
	s.ctl = ctl
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			s.t.Errorf("manager: %v", err)
		}
	}
	s.t.Cleanup(stop)
	return stop
}

// waitMessages waits for n accepted messages and fails with what came.
func (s *slackScene) waitMessages(n int, d time.Duration) []slackserver.Message {
	s.t.Helper()
	msgs := s.srv.Wait(n, d)
	if len(msgs) < n {
		s.t.Fatalf("after %s: %d Slack messages, want %d:\n%s", d, len(msgs), n, texts(msgs))
	}
	return msgs
}

func texts(msgs []slackserver.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "%s ts=%s thread=%s: %q\n", m.Method, m.TS, m.ThreadTS, m.Text)
	}
	return b.String()
}

// missionRoot is the root message the mission asks for, with the scene's names.
func missionRoot(ns, revision string) *regexp.Regexp {
	return regexp.MustCompile("^" + regexp.QuoteMeta(":warning: Drift detected: Deployment 'nginx-deployment' in namespace '"+ns+"'\n"+
		"Reason: Image changed from 'nginx:1.21.0' to 'nginx:latest'\n"+
		"Changed by: kubectl-set at ") + `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC` + regexp.QuoteMeta("\n"+
		"Policy Violation: Use of 'latest' tag is disallowed. (disallow-latest-tag, high)\n"+
		"Source: "+ns+"/apps@"+revision[:7]+" · Mode: revert") + "$")
}

// TestControllerSlackMission is the mission's edit end to end in revert mode: exactly one root
// message with the mission's text, a Reverted reply in its thread, and on resolution a
// chat.update of the root.
func TestControllerSlackMission(t *testing.T) {
	s := newSlackScene(t, "controller-nginx")
	s.applyAsCD("controller-nginx")
	s.createSource(slackSpec(v1alpha1.ModeRevert))
	s.startSlack(false)
	src := s.ready(0)

	s.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	msgs := s.waitMessages(4, 30*time.Second) // root, Reverted, Resolved (maybe coalesced), update
	time.Sleep(time.Second)                   // a duplicate would come now
	msgs = s.srv.Messages()
	var roots, updates, replies []slackserver.Message
	for _, m := range msgs {
		switch {
		case m.Method == "chat.update":
			updates = append(updates, m)
		case m.ThreadTS == "":
			roots = append(roots, m)
		default:
			replies = append(replies, m)
		}
	}
	if len(roots) != 1 {
		t.Fatalf("want exactly one root message, got:\n%s", texts(msgs))
	}
	root := roots[0]
	if want := missionRoot(s.ns, src.Status.LastFetchedRevision); !want.MatchString(root.Text) || root.Channel != "C0OPS" {
		t.Errorf("root text in %s:\n%s\nwant to match:\n%s", root.Channel, root.Text, want)
	}
	all := ""
	for _, r := range replies {
		if r.ThreadTS != root.TS {
			t.Errorf("reply %q went to thread %q, not the root's %q", r.Text, r.ThreadTS, root.TS)
		}
		all += r.Text + "\n"
	}
	if !regexp.MustCompile(`(?m)^Reverted to Git at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`).MatchString(all) || !strings.Contains(all, "Resolved: live state matches Git again") {
		t.Errorf("thread replies:\n%s", all)
	}
	if len(updates) != 1 || updates[0].TS != root.TS || !strings.Contains(updates[0].Text, ":white_check_mark: Resolved after") {
		t.Errorf("want one chat.update of the root, got:\n%s", texts(updates))
	}
	var d appsv1.Deployment
	if err := s.client.Get(t.Context(), client.ObjectKey{Namespace: s.ns, Name: "nginx-deployment"}, &d); err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.21.0" {
		t.Errorf("image = %s after the revert", img)
	}

	// The Slack state lives as long as its Source.
	state := client.ObjectKey{Namespace: s.ns, Name: slackStateName(s.key.String())}
	if err := s.client.Get(t.Context(), state, &corev1.ConfigMap{}); err != nil {
		t.Fatalf("Slack state ConfigMap %s: %v", state, err)
	}
	if err := s.client.Delete(t.Context(), s.source()); err != nil {
		t.Fatal(err)
	}
	s.eventually(15*time.Second, "the Slack state ConfigMap deleted with its Source", func() bool {
		return apierrors.IsNotFound(s.client.Get(t.Context(), state, &corev1.ConfigMap{}))
	})
}

// TestControllerSlackRestartAndLeaderChange: an open incident survives a restart and a leader
// change; neither posts a new root, and later replies go to the old thread.
func TestControllerSlackRestartAndLeaderChange(t *testing.T) {
	s := newSlackScene(t, "controller-nginx")
	s.applyAsCD("controller-nginx")
	spec := slackSpec(v1alpha1.ModeAlert)
	s.createSource(spec)
	stopA := s.startSlack(false)
	s.ready(0)
	s.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	root := s.waitMessages(1, 20*time.Second)[0]
	s.ready(2)
	stopA()

	// A restart: a new process reads the incidents from the Source and the thread from its ConfigMap.
	stopB := s.startSlack(true)
	s.ready(2)
	time.Sleep(2 * time.Second) // a second root would come now
	if msgs := s.srv.Messages(); len(msgs) != 1 {
		t.Fatalf("after the restart, want only the first root, got:\n%s", texts(msgs))
	}
	// A leader change: C waits for B's Lease, takes it when B stops, and tells the old thread.
	s.startSlack(true)
	stopB()
	s.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:1.21.0")
	msgs := s.waitMessages(3, 40*time.Second)
	if msgs[1].ThreadTS != root.TS || msgs[1].Text != "Resolved: live state matches Git again" {
		t.Errorf("after the leader change, reply %q went to thread %q, want the root's %q\n%s", msgs[1].Text, msgs[1].ThreadTS, root.TS, texts(msgs))
	}
	if msgs[2].Method != "chat.update" || msgs[2].TS != root.TS {
		t.Errorf("want the old root edited, got:\n%s", texts(msgs))
	}
	time.Sleep(time.Second)
	if n := len(s.srv.Messages()); n != 3 {
		t.Errorf("%d messages, want 3:\n%s", n, texts(s.srv.Messages()))
	}
}

// TestControllerSlackSecretDrift: a Secret drift reaches Slack without any Secret value, raw or
// base64, in any request body.
func TestControllerSlackSecretDrift(t *testing.T) {
	s := newSlackScene(t, "secret-masking")
	s.applyAsCD("secret-masking")
	s.createSource(slackSpec(v1alpha1.ModeAlert))
	s.startSlack(false)
	s.ready(1) // the Slack Secret itself is not in Git: an Extra Secret, posted first
	s.waitMessages(1, 20*time.Second)
	live := "s3cret-typed-by-hand"
	s.kubectl("patch", "secret", "db-credentials", "--type=merge", "-p", `{"stringData":{"password":"`+live+`"}}`)
	msgs := s.waitMessages(2, 20*time.Second)
	if !strings.Contains(msgs[1].Text, "data changed (masked)") {
		t.Errorf("root = %q", msgs[1].Text)
	}
	for _, m := range s.srv.All() {
		for _, v := range []string{live, "hunter2-from-git", base64.StdEncoding.EncodeToString([]byte(live)), base64.StdEncoding.EncodeToString([]byte("hunter2-from-git"))} {
			if strings.Contains(m.Body, v) {
				t.Errorf("a request to Slack holds a Secret value %q", v)
			}
		}
	}
}

// TestControllerSlackPermanentError: channel_not_found shows on the Ready condition and in
// plumbline_notifications_total, and is not retried.
func TestControllerSlackPermanentError(t *testing.T) {
	s := newSlackScene(t, "controller-nginx")
	s.applyAsCD("controller-nginx")
	s.createSource(slackSpec(v1alpha1.ModeAlert))
	s.srv.FailNext("chat.postMessage", "channel_not_found")
	s.startSlack(false)
	s.ready(0)
	s.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	s.eventually(20*time.Second, "the Slack error on the Ready condition", func() bool {
		c := findCondition(s.source(), v1alpha1.ConditionReady)
		return c != nil && strings.Contains(c.Message, "Slack: ") && strings.Contains(c.Message, "channel_not_found")
	})
	if all := s.srv.All(); len(all) != 1 {
		t.Errorf("requests:\n%s", texts(all))
	}
	if got := counterValue(t, s.ctl.Metrics().Notifications.WithLabelValues("failed")); got != 1 {
		t.Errorf("plumbline_notifications_total{result=failed} = %v", got)
	}
}

// TestControllerSlackButtons: a correctly signed "Revert now" reverts the object and records the
// user in the thread; a bad signature, an old timestamp and a user not on the list change nothing.
func TestControllerSlackButtons(t *testing.T) {
	s := newSlackScene(t, "controller-nginx")
	s.applyAsCD("controller-nginx")
	s.createSource(slackSpec(v1alpha1.ModeAlert))
	s.startSlack(false)
	s.ready(0)
	s.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	root := s.waitMessages(1, 20*time.Second)[0]
	s.ready(2)
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(root.Blocks), &blocks); err != nil {
		t.Fatal(err)
	}
	value := regexp.MustCompile(`"value":"([^"]+)"`).FindStringSubmatch(root.Blocks)
	if value == nil {
		t.Fatalf("no button value in %s", root.Blocks)
	}
	t.Logf("button value %q", value[1])
	h, err := s.ctl.SlackInteractions("test-signing-secret", []string{"U0ALICE"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	image := func() string {
		var d appsv1.Deployment
		if err := s.client.Get(t.Context(), client.ObjectKey{Namespace: s.ns, Name: "nginx-deployment"}, &d); err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Spec.Containers[0].Image
	}
	press := func(user, secret string, ts time.Time) int {
		payload, _ := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]any{"id": user, "name": "alice"},
			"actions": []map[string]any{{"type": "button", "action_id": notify.ActionRevert, "value": value[1], "block_id": "plumbline_actions"}}})
		body := url.Values{"payload": {string(payload)}}.Encode()
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		stamp := fmt.Sprint(ts.Unix())
		mac := hmac.New(sha256.New, []byte(secret))
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
	for _, tc := range []struct {
		name, user, secret string
		ts                 time.Time
		code               int
	}{
		{"bad signature", "U0ALICE", "not-the-secret", time.Now(), http.StatusUnauthorized},
		{"old timestamp", "U0ALICE", "test-signing-secret", time.Now().Add(-10 * time.Minute), http.StatusUnauthorized},
		{"user not on the list", "U0MALLORY", "test-signing-secret", time.Now(), http.StatusForbidden},
	} {
		if code := press(tc.user, tc.secret, tc.ts); code != tc.code {
			t.Errorf("%s: status %d, want %d", tc.name, code, tc.code)
		}
	}
	time.Sleep(time.Second)
	if img := image(); img != "nginx:latest" || len(s.srv.Messages()) != 1 {
		t.Fatalf("refused presses changed something: image %s, messages:\n%s", img, texts(s.srv.Messages()))
	}
	if code := press("U0ALICE", "test-signing-secret", time.Now()); code != http.StatusOK {
		t.Fatalf("signed press: status %d", code)
	}
	s.eventually(20*time.Second, "the image reverted", func() bool { return image() == "nginx:1.21.0" })
	msgs := s.waitMessages(2, 20*time.Second)
	if !strings.HasPrefix(msgs[1].Text, "Revert now by alice (U0ALICE): reverted Deployment/"+s.ns+"/nginx-deployment to Git at ") || msgs[1].ThreadTS != root.TS {
		t.Errorf("thread does not record who pressed:\n%s", texts(msgs))
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
