package propose

import (
	"slices"
	"strings"
	"testing"
	"time"

	sdk "code.gitea.io/sdk/gitea"

	"github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/test/gitea"
	"github.com/plumbline/plumbline/test/slackserver"
)

// withSlack makes the scene's controller post to a recording Slack, channel C0OPS.
func (s *scene) withSlack(spec v1alpha1.SourceSpec) v1alpha1.SourceSpec {
	s.t.Helper()
	s.slack = slackserver.New()
	s.t.Cleanup(s.slack.Stop)
	s.secret("slack", map[string]string{"token": "xoxb-test"})
	spec.Notify = &v1alpha1.NotifySpec{Slack: &v1alpha1.SlackNotifySpec{Channel: "C0OPS", SecretRef: &v1alpha1.LocalObjectReference{Name: "slack"}}}
	return spec
}

// root is the first root message Slack accepted.
func (s *scene) root() slackserver.Message {
	s.t.Helper()
	s.eventually(30*time.Second, "Slack has the incident's root", func() bool {
		for _, m := range s.slack.Messages() {
			if m.Method == "chat.postMessage" && m.ThreadTS == "" {
				return true
			}
		}
		return false
	})
	for _, m := range s.slack.Messages() {
		if m.Method == "chat.postMessage" && m.ThreadTS == "" {
			return m
		}
	}
	panic("unreachable")
}

// pullBody reads a pull request's body from Gitea now.
func (s *scene) pullBody(index int64) string {
	s.t.Helper()
	pr, _, err := s.gitea.GetPullRequest(gitea.AdminUser, s.repoName, index)
	if err != nil {
		s.t.Fatal(err)
	}
	return pr.Body
}

// TestPullRequestLinksSlackThread: the pull request opens in the pass that opens the incident,
// before Slack has its thread; once Slack accepts the root, the body gets a link to the thread
// (the permalink Slack gives), once, and the thread says "Pull request opened: <url>".
func TestPullRequestLinksSlackThread(t *testing.T) {
	t.Parallel()
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	s.start(s.withSlack(s.proposeSpec("apps")))
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	s.kubectl("scale", "deployment/web", "--replicas=4")

	pr := s.onePull()
	root := s.root()
	if !strings.Contains(root.Text, "Drift detected: Deployment 'web'") {
		t.Errorf("root text %q", root.Text)
	}
	link := slackserver.Permalink("C0OPS", root.TS)
	line := "- Slack thread: [the incident's thread](" + link + ")"
	s.eventually(30*time.Second, "the pull request links the Slack thread", func() bool { return strings.Contains(s.pullBody(pr.Index), line) })
	body := s.pullBody(pr.Index)
	if n := strings.Count(body, "Slack thread"); n != 1 {
		t.Errorf("the body names the thread %d times:\n%s", n, body)
	}
	for _, want := range []string{"`.spec.replicas`", "`4`", "### Policy on the proposed state"} {
		if !strings.Contains(body, want) {
			t.Errorf("the edit lost %q from the body:\n%s", want, body)
		}
	}
	s.eventually(30*time.Second, "the status keeps the link", func() bool {
		inc := s.source().Status.Incidents
		return len(inc) == 1 && inc[0].Proposal != nil && inc[0].Proposal.Thread == link
	})
	s.eventually(30*time.Second, "the thread tells of the pull request", func() bool { return s.threadSays(root.TS, "Pull request opened: "+pr.HTMLURL) })
	time.Sleep(5 * time.Second) // two more polls: the body is not edited again
	if got := s.pullBody(pr.Index); got != body {
		t.Errorf("the body changed again:\n%s\nwas:\n%s", got, body)
	}
	if n := len(s.pulls()); n != 1 {
		t.Errorf("%d pull requests, want 1", n)
	}

	if ok, _, err := s.gitea.MergePullRequest(gitea.AdminUser, s.repoName, pr.Index, sdk.MergePullRequestOption{Style: sdk.MergeStyleMerge}); err != nil || !ok {
		t.Fatalf("merge: %v %v", ok, err)
	}
	s.eventually(60*time.Second, "the thread tells of the merge", func() bool { return s.threadSays(root.TS, "Pull request merged by "+gitea.AdminUser) })
	s.eventually(60*time.Second, "the thread tells of the resolution", func() bool {
		return s.threadSays(root.TS, "Resolved: live state matches Git again")
	})
}

// threadSays reports whether a reply in the thread of root has a line that is exactly line.
func (s *scene) threadSays(root, line string) bool {
	for _, m := range s.slack.Messages() {
		if m.ThreadTS == root && slices.Contains(strings.Split(m.Text, "\n"), line) {
			return true
		}
	}
	return false
}

// TestKeepItLinksSlackThread: "Keep it" pressed in the thread of an alert opens a pull request
// whose body links that thread from the start.
func TestKeepItLinksSlackThread(t *testing.T) {
	t.Parallel()
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	spec := s.withSlack(s.proposeSpec("apps"))
	spec.Mode = v1alpha1.ModeSpec{Default: v1alpha1.ModeAlert}
	s.start(spec)
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	s.kubectl("scale", "deployment/web", "--replicas=3")
	root := s.root()
	fp := s.source().Status.Incidents[0].Fingerprint
	if err := s.ctl.ProposeIncident(t.Context(), s.key, fp, "alice"); err != nil {
		t.Fatal(err)
	}
	pr := s.onePull()
	if want := "- Slack thread: [the incident's thread](" + slackserver.Permalink("C0OPS", root.TS) + ")"; !strings.Contains(pr.Body, want) {
		t.Errorf("the body lacks %q:\n%s", want, pr.Body)
	}
	if n := len(s.notes.of(reconciler.EventProposalOpened)); n != 1 {
		t.Errorf("%d proposal-opened notifications", n)
	}
}
