package propose

import (
	"encoding/base64"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "code.gitea.io/sdk/gitea"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/test/gitea"
	"github.com/plumbline/plumbline/test/gitserver"
)

const webDeployment = `# The web front end. Keep the comments.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web # who we are
spec:
  replicas: 2 # two is enough, until it is not
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
      - name: nginx
        image: nginx@sha256:0000000000000000000000000000000000000000000000000000000000000001
        securityContext:
          allowPrivilegeEscalation: false
        resources:
          limits:
            cpu: 100m
            memory: 64Mi
`

func (s *scene) replicas() int32 {
	s.t.Helper()
	var d appsv1.Deployment
	if err := s.client.Get(s.t.Context(), types.NamespacedName{Namespace: s.ns, Name: "web"}, &d); err != nil {
		s.t.Fatal(err)
	}
	return *d.Spec.Replicas
}

// TestScaleProposedMergedResolves: kubectl scale in propose mode opens one pull request with
// the one-line replicas change in the right file, comments intact; merging it through the API
// makes Git the truth: the incident resolves and nothing is reverted.
func TestScaleProposedMergedResolves(t *testing.T) {
	t.Parallel()
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment, "README.md": "desired state\n"}, "apps")
	s.start(s.proposeSpec("apps"))
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	s.kubectl("scale", "deployment/web", "--replicas=5")

	pr := s.onePull()
	if want := "plumbline: keep Deployment/" + s.ns + "/web drift"; pr.Title != want {
		t.Errorf("title %q, want %q", pr.Title, want)
	}
	if !strings.HasPrefix(pr.Head.Ref, "plumbline/modified-") {
		t.Errorf("branch %q", pr.Head.Ref)
	}
	for _, want := range []string{"`.spec.replicas`", "`2`", "`5`", "Policy on the proposed state"} {
		if !strings.Contains(pr.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, pr.Body)
		}
	}
	diff := s.diffOf(pr)
	if got := changedFiles(diff); len(got) != 1 || got[0] != "apps/web.yaml" {
		t.Errorf("changed files %q", got)
	}
	want := []string{"-  replicas: 2 # two is enough, until it is not", "+  replicas: 5 # two is enough, until it is not"}
	if got := changedLines(diff); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changed lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	inc := s.source().Status.Incidents
	if len(inc) != 1 || inc[0].Proposal == nil || inc[0].Proposal.State != v1alpha1.ProposalOpen || inc[0].Proposal.URL != pr.HTMLURL {
		t.Fatalf("status incidents: %+v", inc)
	}

	if ok, _, err := s.gitea.MergePullRequest(gitea.AdminUser, s.repoName, pr.Index, sdk.MergePullRequestOption{Style: sdk.MergeStyleMerge}); err != nil || !ok {
		t.Fatalf("merge: %v %v", ok, err)
	}
	s.eventually(60*time.Second, "the merge is seen", func() bool { return len(s.notes.of(reconciler.EventProposalMerged)) == 1 })
	if d := s.notes.of(reconciler.EventProposalMerged)[0].Detail; d != "merged by "+gitea.AdminUser {
		t.Errorf("merged detail %q", d)
	}
	s.eventually(60*time.Second, "the incident resolves", func() bool { return len(s.notes.of(reconciler.EventResolved)) == 1 })
	if n := len(s.notes.of(reconciler.EventReverted)); n != 0 {
		t.Errorf("%d reverts after the merge", n)
	}
	if r := s.replicas(); r != 5 {
		t.Errorf("replicas %d after the merge, want 5", r)
	}
	if n := len(s.source().Status.Incidents); n != 0 {
		t.Errorf("%d incidents left", n)
	}
	for event, want := range map[string]float64{"opened": 1, "merged": 1, "closed": 0, "failed": 0} {
		if got := counterValue(t, s.ctl.Metrics().Proposals.WithLabelValues(event)); got != want {
			t.Errorf("plumbline_proposals_total{event=%q} = %v, want %v", event, got, want)
		}
	}
}

// TestClosedProposalReverts: closing the pull request rejects the change: Plumbline reverts.
func TestClosedProposalReverts(t *testing.T) {
	t.Parallel()
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	s.start(s.proposeSpec("apps"))
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	s.kubectl("scale", "deployment/web", "--replicas=7")
	pr := s.onePull()
	closed := sdk.StateClosed
	if _, _, err := s.gitea.EditPullRequest(gitea.AdminUser, s.repoName, pr.Index, sdk.EditPullRequestOption{State: &closed}); err != nil {
		t.Fatal(err)
	}
	s.eventually(60*time.Second, "the close is seen", func() bool { return len(s.notes.of(reconciler.EventProposalClosed)) == 1 })
	if d := s.notes.of(reconciler.EventProposalClosed)[0].Detail; !strings.Contains(d, "closed by "+gitea.AdminUser) {
		t.Errorf("closed detail %q", d)
	}
	s.eventually(60*time.Second, "the revert", func() bool { return len(s.notes.of(reconciler.EventReverted)) >= 1 && s.replicas() == 2 })
}

// TestOverlayPatchEdited: a field an overlay patch sets is edited in the patch, not the base.
func TestOverlayPatchEdited(t *testing.T) {
	t.Parallel()
	patch := "# prod needs more\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n"
	s := newScene(t, map[string]string{
		"base/web.yaml": webDeployment, "base/kustomization.yaml": "resources:\n- web.yaml\n",
		"prod/kustomization.yaml": "resources:\n- ../base\npatches:\n- path: replicas.yaml\n", "prod/replicas.yaml": patch,
	}, "prod")
	s.start(s.proposeSpec("prod"))
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	s.kubectl("scale", "deployment/web", "--replicas=6")
	pr := s.onePull()
	diff := s.diffOf(pr)
	if got := changedFiles(diff); len(got) != 1 || got[0] != "prod/replicas.yaml" {
		t.Errorf("changed files %q, want the overlay patch only", got)
	}
	if got := changedLines(diff); strings.Join(got, "\n") != "-  replicas: 3\n+  replicas: 6" {
		t.Errorf("changed lines:\n%s", strings.Join(got, "\n"))
	}
	if !strings.Contains(pr.Body, "kustomize patch prod/replicas.yaml") {
		t.Errorf("body does not say the patch is edited:\n%s", pr.Body)
	}
}

// TestOnePullRequestThenClosedWhenDriftGoes: many passes over the same drift open one pull
// request; when the drift goes away by hand, it is closed with a comment.
func TestOnePullRequestThenClosedWhenDriftGoes(t *testing.T) {
	t.Parallel()
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	s.start(s.proposeSpec("apps"))
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	s.kubectl("scale", "deployment/web", "--replicas=4")
	pr := s.onePull()
	for i := range 10 { // ten watch events, ten passes over the same drift
		s.kubectl("annotate", "deployment/web", "--overwrite", "--field-manager=rollout-bot", "touch="+string(rune('a'+i)))
		time.Sleep(150 * time.Millisecond)
	}
	time.Sleep(5 * time.Second) // two more polls of Git and of the pull request
	if prs := s.pulls(); len(prs) != 1 {
		t.Fatalf("%d pull requests after 10 passes, want 1", len(prs))
	}
	if n := len(s.notes.of(reconciler.EventProposalOpened)); n != 1 {
		t.Errorf("%d proposal-opened notifications", n)
	}
	s.kubectl("scale", "deployment/web", "--replicas=2")
	s.eventually(60*time.Second, "the pull request is closed", func() bool { return len(s.notes.of(reconciler.EventProposalClosed)) == 1 })
	got, _, err := s.gitea.GetPullRequest(gitea.AdminUser, s.repoName, pr.Index)
	if err != nil || got.State != sdk.StateClosed || got.HasMerged {
		t.Fatalf("pull request after the drift went: %+v, %v", got, err)
	}
	comments, _, err := s.gitea.ListIssueComments(gitea.AdminUser, s.repoName, pr.Index, sdk.ListIssueCommentOptions{})
	if err != nil || len(comments) != 1 || !strings.Contains(comments[0].Body, "matches Git again") {
		t.Errorf("comments: %v, %v", comments, err)
	}
}

// TestBaseMovedRebased: when main moves while the pull request is open, its branch is rebuilt
// on the new tip.
func TestBaseMovedRebased(t *testing.T) {
	t.Parallel()
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	s.start(s.proposeSpec("apps"))
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	s.kubectl("scale", "deployment/web", "--replicas=4")
	s.onePull()
	tip := gitserver.Commit(t, s.local, map[string]string{"NOTES.md": "an unrelated change\n"}, "notes")
	s.push()
	s.eventually(60*time.Second, "the branch is rebuilt on the new base", func() bool {
		inc := s.source().Status.Incidents
		return len(inc) == 1 && inc[0].Proposal != nil && inc[0].Proposal.BaseCommit == tip
	})
	if prs := s.pulls(); len(prs) != 1 {
		t.Errorf("%d pull requests after the rebase, want 1", len(prs))
	}
}

const canary = "canary-3f9c2a71-never-in-git"

// TestSecretNeverProposed: a Secret's data drift opens no pull request, and no value reaches
// Gitea; a label drift of the same Secret opens one without the value.
func TestSecretNeverProposed(t *testing.T) {
	t.Parallel()
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  labels:\n    tier: db\nstringData:\n  password: from-git\n"
	other := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: cache\n  labels:\n    tier: cache\nstringData:\n  password: from-git-too\n"
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment, "apps/db.yaml": secret, "apps/cache.yaml": other}, "apps")
	s.start(s.proposeSpec("apps"))
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	s.kubectl("patch", "secret/db", "--type=merge", "-p", `{"stringData":{"password":"`+canary+`"}}`)
	s.eventually(60*time.Second, "the proposal is refused", func() bool { return len(s.notes.of(reconciler.EventProposalFailed)) > 0 })
	if d := s.notes.of(reconciler.EventProposalFailed)[0].Detail; !strings.Contains(d, "never writes Secret values into Git") || strings.Contains(d, canary) {
		t.Errorf("failed detail %q", d)
	}
	if prs := s.pulls(); len(prs) != 0 {
		t.Fatalf("%d pull requests for a Secret's data", len(prs))
	}
	s.kubectl("patch", "secret/cache", "--type=merge", "-p", `{"metadata":{"labels":{"tier":"primary"}},"stringData":{"unused":"`+canary+`"}}`)
	s.kubectl("patch", "secret/cache", "--type=json", "-p", `[{"op":"remove","path":"/data/unused"}]`)
	s.eventually(60*time.Second, "the label proposal opens", func() bool { return len(s.pulls()) == 1 })
	pr := s.pulls()[0]
	full, _, err := s.gitea.GetPullRequest(gitea.AdminUser, s.repoName, pr.Index)
	if err != nil {
		t.Fatal(err)
	}
	patch, _, err := s.gitea.GetPullRequestPatch(gitea.AdminUser, s.repoName, pr.Index)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(full.Body, canary) || strings.Contains(string(patch), canary) || strings.Contains(s.notes.String(), canary) {
		t.Errorf("the canary reached Gitea or the notifier:\nbody:\n%s\npatch:\n%s", full.Body, patch)
	}
	if !strings.Contains(string(patch), "+    tier: primary") {
		t.Errorf("patch lacks the label change:\n%s", patch)
	}
	for _, inc := range s.source().Status.Incidents {
		if inc.Proposal != nil && strings.Contains(inc.Proposal.Message, canary) {
			t.Errorf("canary in the status: %+v", inc.Proposal)
		}
	}
}

// TestForgeFailuresKeepIncidentOpen: a forge that is down, a 401 token and a protected branch
// each fail the proposal with a clear error in the notification and the Source's status; the
// incident stays open and nothing is reverted.
func TestForgeFailuresKeepIncidentOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(s *scene, spec *v1alpha1.SourceSpec)
		want  string
	}{
		{"forge down", func(s *scene, spec *v1alpha1.SourceSpec) { spec.Propose.APIURL = "http://127.0.0.1:1" }, "connection refused"},
		{"bad token", func(s *scene, spec *v1alpha1.SourceSpec) {
			s.secret("bad", map[string]string{"token": "0123456789abcdef0123456789abcdef01234567", "username": gitea.AdminUser})
			spec.Propose.SecretRef.Name = "bad"
		}, "authentication"},
		{"protected branch", func(s *scene, spec *v1alpha1.SourceSpec) {
			if _, _, err := s.gitea.CreateBranchProtection(gitea.AdminUser, s.repoName, sdk.CreateBranchProtectionOption{RuleName: "plumbline/*"}); err != nil {
				s.t.Fatal(err)
			}
		}, "pre-receive hook declined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
			spec := s.withSlack(s.proposeSpec("apps"))
			tt.setup(s, &spec)
			s.start(spec)
			s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
			s.kubectl("scale", "deployment/web", "--replicas=5")
			s.eventually(60*time.Second, "the proposal fails", func() bool { return len(s.notes.of(reconciler.EventProposalFailed)) > 0 })
			if d := s.notes.of(reconciler.EventProposalFailed)[0].Detail; !strings.Contains(d, tt.want) || strings.Contains(d, srv.Token) {
				t.Errorf("detail %q, want it to say %q", d, tt.want)
			}
			root := s.root()
			s.eventually(30*time.Second, "the thread says why", func() bool {
				for _, m := range s.slack.Messages() {
					if m.ThreadTS == root.TS && strings.Contains(m.Text, "No pull request opened: ") && strings.Contains(m.Text, tt.want) {
						return !strings.Contains(m.Text, srv.Token)
					}
				}
				return false
			})
			inc := s.source().Status.Incidents
			if len(inc) != 1 || inc[0].State != v1alpha1.IncidentOpen || inc[0].Proposal == nil || inc[0].Proposal.State != v1alpha1.ProposalFailed || !strings.Contains(inc[0].Proposal.Message, tt.want) {
				t.Errorf("status incidents: %+v", inc)
			}
			if r := s.replicas(); r != 5 || len(s.notes.of(reconciler.EventReverted)) != 0 {
				t.Errorf("replicas %d, reverts %d: nothing may be reverted", r, len(s.notes.of(reconciler.EventReverted)))
			}
		})
	}
}

// TestKeepItOpensProposalInAlertMode: ProposeIncident (the Slack button "Keep it") opens a pull
// request for an incident of a Source in alert mode.
func TestKeepItOpensProposalInAlertMode(t *testing.T) {
	t.Parallel()
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	spec := s.proposeSpec("apps")
	spec.Mode = v1alpha1.ModeSpec{Default: v1alpha1.ModeAlert}
	s.start(spec)
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	s.kubectl("scale", "deployment/web", "--replicas=3")
	s.eventually(30*time.Second, "the incident opens", func() bool { return len(s.source().Status.Incidents) == 1 })
	time.Sleep(3 * time.Second)
	if prs := s.pulls(); len(prs) != 0 {
		t.Fatalf("alert mode opened %d pull requests", len(prs))
	}
	fp := s.source().Status.Incidents[0].Fingerprint
	if err := s.ctl.ProposeIncident(t.Context(), s.key, fp, "alice"); err != nil {
		t.Fatal(err)
	}
	pr := s.onePull()
	if !strings.HasPrefix(pr.Head.Ref, "plumbline/modified-"+fp[:12]) {
		t.Errorf("branch %q, want it from the fingerprint %s", pr.Head.Ref, fp)
	}
	if err := s.ctl.ProposeIncident(t.Context(), s.key, "0000000000000000", "alice"); err == nil || !strings.Contains(err.Error(), "no open incident") {
		t.Errorf("unknown incident: %v", err)
	}
}

// TestExtraAndMissingProposed: an object created by hand is proposed as a new file listed in
// the kustomization; an object deleted by hand is proposed as removed from Git. Merging both
// leaves no drift.
func TestExtraAndMissingProposed(t *testing.T) {
	t.Parallel()
	settings := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n"
	legacy := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy\ndata:\n  mode: slow\n"
	s := newScene(t, map[string]string{
		"apps/kustomization.yaml": "resources:\n- web.yaml\n- settings.yaml\n- legacy.yaml\n",
		"apps/web.yaml":           webDeployment, "apps/settings.yaml": settings, "apps/legacy.yaml": legacy,
	}, "apps")
	spec := s.proposeSpec("apps")
	s.start(spec)
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	s.kubectl("create", "configmap", "hotfix", "--from-literal=flag=on")
	s.kubectl("delete", "configmap", "legacy")
	s.eventually(60*time.Second, "two pull requests open", func() bool { return len(s.pulls()) == 2 })
	byTitle := map[string]*sdk.PullRequest{}
	for _, pr := range s.pulls() {
		byTitle[pr.Title] = pr
	}
	add := byTitle["plumbline: keep ConfigMap/"+s.ns+"/hotfix (add it to Git)"]
	del := byTitle["plumbline: remove ConfigMap/"+s.ns+"/legacy from Git"]
	if add == nil || del == nil {
		t.Fatalf("pull requests: %v", byTitle)
	}
	addDiff := s.diffOf(add)
	if got := changedFiles(addDiff); strings.Join(got, ",") != "apps/configmap-hotfix.yaml,apps/kustomization.yaml" {
		t.Errorf("add: files %q", got)
	}
	for _, want := range []string{"+  flag: \"on\"", "+  name: hotfix", "+- configmap-hotfix.yaml"} {
		if !strings.Contains(addDiff, want) {
			t.Errorf("add: diff lacks %q:\n%s", want, addDiff)
		}
	}
	for _, unwanted := range []string{"resourceVersion", "managedFields", "uid:", "creationTimestamp"} {
		if strings.Contains(addDiff, unwanted) {
			t.Errorf("add: diff has %q:\n%s", unwanted, addDiff)
		}
	}
	delDiff := s.diffOf(del)
	if !strings.Contains(delDiff, "-  mode: slow") || !strings.Contains(delDiff, "-- legacy.yaml") {
		t.Errorf("remove: diff:\n%s", delDiff)
	}
	if ok, _, err := s.gitea.MergePullRequest(gitea.AdminUser, s.repoName, add.Index, sdk.MergePullRequestOption{Style: sdk.MergeStyleMerge}); err != nil || !ok {
		t.Fatalf("merge %q: %v %v", add.Title, ok, err)
	}
	// Both edit the kustomization's resources: the second conflicts until Plumbline rebuilds
	// its branch on the moved base.
	s.eventually(60*time.Second, "the removal is rebuilt on the new base and merges", func() bool {
		ok, _, err := s.gitea.MergePullRequest(gitea.AdminUser, s.repoName, del.Index, sdk.MergePullRequestOption{Style: sdk.MergeStyleMerge})
		if err == nil && ok {
			return true
		}
		time.Sleep(500 * time.Millisecond)
		return false
	})
	s.eventually(60*time.Second, "no incident is left", func() bool {
		src := s.source()
		return src.Status.LastFetchedRevision != "" && len(src.Status.Incidents) == 0 && len(s.notes.of(reconciler.EventResolved)) >= 2
	})
}

// TestBlockingPolicyNotProposed: a drift whose proposed state breaks a blocking rule opens no
// pull request, and the notification says why.
func TestBlockingPolicyNotProposed(t *testing.T) {
	t.Parallel()
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	s.start(s.proposeSpec("apps"))
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	s.kubectl("patch", "deployment/web", "--type=json", "-p", `[{"op":"replace","path":"/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation","value":true}]`)
	s.eventually(60*time.Second, "the proposal is refused", func() bool { return len(s.notes.of(reconciler.EventProposalFailed)) > 0 })
	failed := s.notes.of(reconciler.EventProposalFailed)
	if len(failed) != 1 || failed[0].Incidents[0].Type != "Modified" {
		t.Fatalf("proposal-failed notifications:\n%s", s.notes)
	}
	d := failed[0].Detail
	if !strings.Contains(d, "breaks a blocking policy") || !strings.Contains(d, "disallow-privileged") {
		t.Errorf("detail %q", d)
	}
	if prs := s.pulls(); len(prs) != 0 {
		t.Errorf("%d pull requests for a state that breaks a blocking rule", len(prs))
	}
}

// TestRestartKeepsOnePullRequest: a controller started again reads the open pull request from
// the Source's status and opens no second one.
func TestRestartKeepsOnePullRequest(t *testing.T) {
	t.Parallel()
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	s.start(s.proposeSpec("apps"))
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	s.kubectl("scale", "deployment/web", "--replicas=4")
	pr := s.onePull()
	s.eventually(30*time.Second, "the proposal is in the status", func() bool {
		inc := s.source().Status.Incidents
		return len(inc) == 1 && inc[0].Proposal != nil && inc[0].Proposal.Number == pr.Index
	})
	s.stop()
	before := len(s.notes.of(reconciler.EventProposalOpened))
	s.stop = s.run()
	s.kubectl("annotate", "deployment/web", "--overwrite", "--field-manager=rollout-bot", "touch=after-restart")
	time.Sleep(6 * time.Second) // passes and polls of the restarted controller
	if prs := s.pulls(); len(prs) != 1 {
		t.Fatalf("%d pull requests after a restart, want 1", len(prs))
	}
	if n := len(s.notes.of(reconciler.EventProposalOpened)); n != before {
		t.Errorf("%d proposal-opened notifications after the restart, want %d", n, before)
	}
	inc := s.source().Status.Incidents
	if len(inc) != 1 || inc[0].Proposal == nil || inc[0].Proposal.Number != pr.Index || inc[0].Proposal.State != "open" {
		t.Errorf("status after the restart: %+v", inc)
	}
}

// TestMergeOfEditedBranchProposesAgain: a reviewer edits the pull request's branch (replicas 3,
// not the live 5) and merges it: Git moved, the drift is still there, so Plumbline proposes what
// runs again in a new pull request, and reverts nothing. The Source polls every 10 minutes and
// hears only of pull requests by webhook, so the merge is seen before Git is fetched again.
func TestMergeOfEditedBranchProposesAgain(t *testing.T) {
	t.Parallel()
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	s.startHooked("pull_request")
	s.kubectl("scale", "deployment/web", "--replicas=5")
	pr := s.onePull()

	file, _, err := s.gitea.GetContents(gitea.AdminUser, s.repoName, pr.Head.Ref, "apps/web.yaml")
	if err != nil || file.Content == nil {
		t.Fatalf("read the branch's file: %v", err)
	}
	text, err := base64.StdEncoding.DecodeString(*file.Content)
	if err != nil || !strings.Contains(string(text), "replicas: 5") {
		t.Fatalf("the branch's file: %v\n%s", err, text)
	}
	edited := strings.Replace(string(text), "replicas: 5", "replicas: 3", 1)
	if _, _, err := s.gitea.UpdateFile(gitea.AdminUser, s.repoName, "apps/web.yaml", sdk.UpdateFileOptions{
		FileOptions: sdk.FileOptions{BranchName: pr.Head.Ref, Message: "three is enough"}, SHA: file.SHA,
		Content: base64.StdEncoding.EncodeToString([]byte(edited))}); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := s.gitea.MergePullRequest(gitea.AdminUser, s.repoName, pr.Index, sdk.MergePullRequestOption{Style: sdk.MergeStyleMerge}); err != nil || !ok {
		t.Fatalf("merge: %v %v", ok, err)
	}
	s.eventually(60*time.Second, "a second pull request", func() bool { return len(s.notes.of(reconciler.EventProposalOpened)) == 2 })
	prs := s.pulls()
	if len(prs) != 2 {
		t.Fatalf("%d pull requests, want 2", len(prs))
	}
	var again *sdk.PullRequest
	for _, p := range prs {
		if p.Index != pr.Index {
			again = p
		}
	}
	if again == nil || again.State != sdk.StateOpen {
		t.Fatalf("the new pull request: %+v", again)
	}
	want := []string{"-  replicas: 3 # two is enough, until it is not", "+  replicas: 5 # two is enough, until it is not"}
	if got := changedLines(s.diffOf(again)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changed lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r := s.replicas(); r != 5 {
		t.Errorf("replicas %d, want 5: nothing is reverted in propose mode", r)
	}
	inc := s.source().Status.Incidents
	if len(inc) != 1 || inc[0].Proposal == nil || inc[0].Proposal.Number != again.Index || inc[0].Proposal.State != v1alpha1.ProposalOpen {
		t.Errorf("status incidents: %+v", inc)
	}
}

// TestHungForgeBudget: a forge that accepts connections and never answers costs a pass its
// budget of forge I/O (3 s here), not that much per request: the proposal fails saying so and
// naming the forge's address, the incident stays open, and a later drift is still reported.
func TestHungForgeBudget(t *testing.T) {
	t.Parallel()
	hole := newBlackHole(t)
	settings := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n"
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment, "apps/settings.yaml": settings}, "apps")
	s.proposeTimeout = 3 * time.Second
	spec := s.proposeSpec("apps")
	spec.Propose.APIURL = "http://" + hole.addr()
	s.start(spec)
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	s.kubectl("scale", "deployment/web", "--replicas=5")
	s.eventually(30*time.Second, "the proposal fails within the budget", func() bool { return len(s.notes.of(reconciler.EventProposalFailed)) > 0 })
	d := s.notes.of(reconciler.EventProposalFailed)[0].Detail
	if want := "forge " + hole.addr() + " (its API or Git) gave no answer within 3s, the budget of one pass"; !strings.Contains(d, want) {
		t.Errorf("detail %q", d)
	}
	s.kubectl("patch", "configmap/settings", "--type=merge", "-p", `{"data":{"mode":"slow"}}`)
	s.eventually(30*time.Second, "the later drift is reported", func() bool {
		for _, n := range s.notes.of(reconciler.EventOpened) {
			for _, inc := range n.Incidents {
				if inc.Object.Kind == "ConfigMap" && inc.Object.Name == "settings" {
					return true
				}
			}
		}
		return false
	})
	inc := s.source().Status.Incidents
	if len(inc) == 0 || s.replicas() != 5 || len(s.notes.of(reconciler.EventReverted)) != 0 {
		t.Errorf("incidents %+v, replicas %d, reverts %d", inc, s.replicas(), len(s.notes.of(reconciler.EventReverted)))
	}
}

// blackHole accepts connections and never answers: a forge that hangs.
type blackHole struct {
	l    net.Listener
	mu   sync.Mutex
	held []net.Conn
}

func newBlackHole(t *testing.T) *blackHole {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &blackHole{l: l}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.held = append(h.held, conn) // read nothing, answer nothing
			h.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.held {
			c.Close()
		}
	})
	return h
}

func (h *blackHole) addr() string { return h.l.Addr().String() }

// conns is how many connections it took.
func (h *blackHole) conns() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held)
}

// TestHungForgeLeftAlone: once a hung forge took one pass's budget, the next Source that uses it
// fails its proposal at once, without a connection, in the same words, so that a thread hears of
// a hung forge once.
func TestHungForgeLeftAlone(t *testing.T) {
	t.Parallel()
	hole := newBlackHole(t)
	settings := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n"
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment, "other/settings.yaml": settings}, "apps")
	s.proposeTimeout = 3 * time.Second
	spec := s.proposeSpec("apps")
	spec.Propose.APIURL = "http://" + hole.addr()
	s.start(spec)
	// A second Source of the same repository, its folder other/ applied as a CD tool would.
	objs, err := manifests.Render(t.Context(), s.local, "other", manifests.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := reconciler.NewCluster(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Apply(t.Context(), []*unstructured.Unstructured{objs[0].Object}, reconciler.ApplyOptions{SourceName: s.ns + ".other", DefaultNamespace: s.ns}); err != nil {
		t.Fatal(err)
	}
	other := s.proposeSpec("other")
	other.Propose.APIURL = spec.Propose.APIURL
	if err := s.client.Create(t.Context(), &v1alpha1.Source{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "other"}, Spec: other}); err != nil {
		t.Fatal(err)
	}
	failedOf := func(source string) []string {
		var out []string
		for _, n := range s.notes.of(reconciler.EventProposalFailed) {
			if n.Source == s.ns+"/"+source {
				out = append(out, n.Detail)
			}
		}
		return out
	}
	s.eventually(30*time.Second, "both Sources are watched", func() bool {
		var o v1alpha1.Source
		return s.source().Status.LastFetchedRevision != "" && s.client.Get(t.Context(), client.ObjectKey{Namespace: s.ns, Name: "other"}, &o) == nil && o.Status.LastFetchedRevision != ""
	})
	s.kubectl("scale", "deployment/web", "--replicas=5")
	s.eventually(30*time.Second, "the first proposal takes the budget", func() bool { return len(failedOf("apps")) > 0 })
	first := failedOf("apps")[0]
	if want := "forge " + hole.addr() + " (its API or Git) gave no answer within 3s, the budget of one pass"; !strings.Contains(first, want) {
		t.Errorf("first failure %q", first)
	}
	conns := hole.conns()
	s.kubectl("patch", "configmap/settings", "--type=merge", "-p", `{"data":{"mode":"slow"}}`)
	s.eventually(30*time.Second, "the second Source's proposal fails", func() bool { return len(failedOf("other")) > 0 })
	if d := failedOf("other")[0]; d != first {
		t.Errorf("second failure %q, want the same words as the first: %q", d, first)
	}
	if n := hole.conns(); n != conns {
		t.Errorf("the forge left alone was asked again: %d connections, then %d", conns, n)
	}
}
