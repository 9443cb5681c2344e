package notify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/plumbline/plumbline/report"
	"github.com/plumbline/plumbline/test/slackserver"
)

// scene is a notifier that posts to a recording Slack server.
type scene struct {
	t      *testing.T
	srv    *slackserver.Server
	store  *MemoryStore
	target Target
	n      *Notifier
	cancel context.CancelFunc
	done   chan struct{}
	errs   chan error
}

func newScene(t *testing.T, tune func(*Options)) *scene {
	t.Helper()
	s := &scene{t: t, srv: slackserver.New(), store: &MemoryStore{}, target: Target{Channel: "C0OPS", Token: "xoxb-test"}, errs: make(chan error, 100)}
	t.Cleanup(s.srv.Stop)
	s.n = s.notifier(tune)
	s.start()
	return s
}

func (s *scene) notifier(tune func(*Options)) *Notifier {
	opts := Options{Store: s.store, APIURL: s.srv.APIURL(), Rate: 100, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
		Target: func(context.Context, string) (Target, error) { return s.target, nil },
		OnResult: func(_ string, r Result, err error) {
			if r == ResultFailed {
				s.errs <- err
			}
		}}
	if tune != nil {
		tune(&opts)
	}
	n, err := New(opts)
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

// start runs the notifier's workers until stop or the test's end.
func (s *scene) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.n.Start(ctx); err != nil {
			s.t.Error(err)
		}
	}()
	s.t.Cleanup(s.stop)
}

func (s *scene) stop() {
	s.cancel()
	<-s.done
}

func (s *scene) notify(n Notification) {
	s.t.Helper()
	if n.Source == "" {
		n.Source = "platform/apps"
	}
	if err := s.n.Notify(context.Background(), n); err != nil {
		s.t.Fatal(err)
	}
}

var (
	at      = time.Date(2026, 11, 28, 10, 30, 0, 0, time.UTC)
	nginx   = report.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "default", Name: "nginx-deployment"}
	imgPath = `.spec.template.spec.containers[name="nginx"].image`
	rev     = report.Source{Repo: "https://git.example.com/platform/apps.git", Revision: "3f2c1ab9d0e4", Path: "overlays/prod"}
)

// missionIncidents are the mission's drift: an image changed by kubectl set, into a policy
// violation.
func missionIncidents() []*report.Incident {
	drift := report.Finding{Type: report.Modified, Object: nginx, Fields: []report.Field{{Path: imgPath, Desired: "nginx:1.21.0", Live: "nginx:latest", Manager: "kubectl-set", Time: &at}}}
	latest := report.Finding{Type: report.PolicyViolation, Object: nginx, Rule: "disallow-latest-tag", Severity: "high", Where: report.WhereLive, Message: "Use of 'latest' tag is disallowed."}
	return []*report.Incident{incidentOf(drift), incidentOf(latest)}
}

func incidentOf(f report.Finding) *report.Incident {
	return &report.Incident{Fingerprint: report.Fingerprint("platform/apps", f), Source: "platform/apps", Type: f.Type, Object: f.Object,
		Paths: report.FieldPaths(f), State: report.IncidentOpen, FirstSeen: at, LastSeen: at, Findings: []report.Finding{f}}
}

const missionText = `:warning: Drift detected: Deployment 'nginx-deployment' in namespace 'default'
Reason: Image changed from 'nginx:1.21.0' to 'nginx:latest'
Changed by: kubectl-set at 2026-11-28 10:30:00 UTC
Policy Violation: Use of 'latest' tag is disallowed. (disallow-latest-tag, high)
Source: platform/apps@3f2c1ab overlays/prod · Mode: revert`

func methods(msgs []slackserver.Message) string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Method)
	}
	return strings.Join(out, " ")
}
