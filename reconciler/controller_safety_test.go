package reconciler

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/test/gitserver"
)

// TestControllerStopsFighting: a second writer sets the replicas back in a loop. After
// FightThreshold reverts Plumbline stops, tells of the fight once, naming the other manager, and
// leaves the field alone.
func TestControllerStopsFighting(t *testing.T) {
	s := newControllerScene(t, "controller-nginx")
	s.createSource(v1alpha1.SourceSpec{Mode: v1alpha1.ModeSpec{Default: v1alpha1.ModeRevert}})
	s.start()
	s.ready(0)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	fighter := make(chan struct{})
	go func() { // another controller that wants 7 replicas
		defer close(fighter)
		for ctx.Err() == nil {
			var d = s.deployment()
			if *d.Spec.Replicas != 7 {
				patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"replicas":7}}`))
				_ = s.client.Patch(ctx, d, patch, client.FieldOwner("kubectl-scale")) // a conflict is tried again
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	s.eventually(15*time.Second, "a fight", func() bool { return len(s.notes.of(EventFight)) > 0 })
	time.Sleep(2 * time.Second) // Plumbline would revert again now, if it still did
	cancel()
	<-fighter

	fights := s.notes.of(EventFight)
	if len(fights) != 1 {
		t.Fatalf("want one fight notification, got:\n%s", s.notes)
	}
	if !strings.Contains(fights[0].Detail, "kubectl-scale") || !strings.Contains(fights[0].Detail, ".spec.replicas") {
		t.Errorf("fight detail %q does not name the manager and the field", fights[0].Detail)
	}
	reverts := 0
	for _, n := range s.notes.of(EventReverted) {
		for _, inc := range n.Incidents {
			if len(inc.Paths) == 1 && inc.Paths[0] == ".spec.replicas" {
				reverts++
			}
		}
	}
	if reverts != 3 {
		t.Errorf("replicas reverted %d times, want 3 (the fight threshold)\n%s", reverts, s.notes)
	}
	if got := *s.deployment().Spec.Replicas; got != 7 {
		t.Errorf("replicas = %d after the fight, want the other manager's 7", got)
	}
	src := s.source()
	if len(src.Status.Incidents) != 1 || src.Status.Incidents[0].State != v1alpha1.IncidentFight {
		t.Errorf("status incidents %+v, want one in state fight", src.Status.Incidents)
	}
}

// TestControllerBrokenCommit: a commit with broken YAML makes the Source Ready=False naming the
// file, is told once, and nothing is reverted from it; the last good state stays in force.
func TestControllerBrokenCommit(t *testing.T) {
	s := newControllerScene(t, "controller-nginx")
	s.createSource(v1alpha1.SourceSpec{Mode: v1alpha1.ModeSpec{Default: v1alpha1.ModeRevert}, Interval: &metav1.Duration{Duration: time.Second}})
	s.start()
	s.ready(0)

	gitserver.Commit(t, s.repo, map[string]string{"service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: nginx\nspec: [\n"}, "broken")
	s.eventually(5*time.Second, "Ready=False", func() bool {
		c := findCondition(s.source(), v1alpha1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionFalse
	})
	c := findCondition(s.source(), v1alpha1.ConditionReady)
	if c.Reason != ReasonRenderFailed || !strings.Contains(c.Message, "service.yaml") {
		t.Errorf("Ready = %s: %s; want RenderFailed naming service.yaml", c.Reason, c.Message)
	}
	s.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	s.eventually(3*time.Second, "the drift alerted", func() bool { return len(s.notes.of(EventOpened)) > 0 })
	time.Sleep(time.Second)
	if got := s.deployment().Spec.Template.Spec.Containers[0].Image; got != "nginx:latest" {
		t.Errorf("image %q: reverted although the latest commit is broken", got)
	}
	failures := s.notes.of(EventSourceFailed)
	if len(failures) != 1 || !strings.Contains(failures[0].Detail, "service.yaml") {
		t.Errorf("want one source-failed notification naming service.yaml, got:\n%s", s.notes)
	}
}

// TestControllerEmptyRenderPrunesNothing: a commit that deletes every object, with prune on,
// deletes nothing and says why.
func TestControllerEmptyRenderPrunesNothing(t *testing.T) {
	s := newControllerScene(t, "controller-nginx")
	s.createSource(v1alpha1.SourceSpec{Mode: v1alpha1.ModeSpec{Default: v1alpha1.ModeRevert}, Prune: true, PruneMaxFraction: "1",
		Interval: &metav1.Duration{Duration: time.Second}})
	s.start()
	s.ready(0)

	gitserver.Commit(t, s.repo, map[string]string{"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n",
		"deployment.yaml": "", "service.yaml": ""}, "delete everything")
	s.eventually(5*time.Second, "the Extra objects alerted", func() bool {
		for _, n := range s.notes.of(EventOpened) {
			for _, inc := range n.Incidents {
				if inc.Type == "Extra" {
					return true
				}
			}
		}
		if c := findCondition(s.source(), v1alpha1.ConditionReady); c != nil && c.Status == metav1.ConditionFalse {
			t.Fatalf("Ready=False: %s: %s", c.Reason, c.Message)
		}
		return false
	})
	time.Sleep(time.Second)
	var svc corev1.Service
	if err := s.client.Get(t.Context(), client.ObjectKey{Namespace: s.ns, Name: "nginx"}, &svc); err != nil || svc.DeletionTimestamp != nil {
		t.Errorf("the Service was pruned from an empty render: %v", err)
	}
	s.deployment()
}

// TestControllerRestart: a controller stopped with an open incident and started again tells of
// nothing new, and the incident is still open.
func TestControllerRestart(t *testing.T) {
	s := newControllerScene(t, "controller-nginx")
	s.applyAsCD("controller-nginx")
	s.createSource(v1alpha1.SourceSpec{})
	s.start()
	s.ready(0)
	s.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	s.eventually(2*time.Second, "an opened incident", func() bool { return len(s.notes.of(EventOpened)) == 1 })
	s.ready(2)
	s.stop()

	before := s.notes.String()
	s.notes = &recordingNotifier{}
	s.start()
	time.Sleep(3 * time.Second)
	src := s.ready(2)
	if got := s.notes.String(); got != "" {
		t.Errorf("after a restart the controller told:\n%s\n(before the restart:\n%s)", got, before)
	}
	for _, inc := range src.Status.Incidents {
		if inc.State != v1alpha1.IncidentOpen {
			t.Errorf("incident %s is %s after the restart", inc.Fingerprint, inc.State)
		}
	}
}

// TestControllerTenantCannotRevert: a Source whose serviceAccountName may not write its
// namespace cannot revert there: the revert fails with a forbidden error naming the account, in
// the notifier and on the Source, the drift stays alerted, and the controller keeps running.
func TestControllerTenantCannotRevert(t *testing.T) {
	s := newControllerScene(t, "controller-nginx")
	s.applyAsCD("controller-nginx")
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "tenant"}}
	if err := s.client.Create(t.Context(), sa); err != nil {
		t.Fatal(err)
	}
	s.createSource(v1alpha1.SourceSpec{Mode: v1alpha1.ModeSpec{Default: v1alpha1.ModeRevert}, ServiceAccountName: "tenant"})
	s.start()
	s.ready(0)

	s.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	s.eventually(5*time.Second, "a failed revert", func() bool { return len(s.notes.of(EventRevertFailed)) > 0 })
	failed := s.notes.of(EventRevertFailed)[0]
	if !strings.Contains(failed.Detail, "forbidden") || !strings.Contains(failed.Detail, "system:serviceaccount:"+s.ns+":tenant") {
		t.Errorf("revert failure %q does not say forbidden for the tenant's account", failed.Detail)
	}
	if got := s.deployment().Spec.Template.Spec.Containers[0].Image; got != "nginx:latest" {
		t.Errorf("image %q: the tenant's Source wrote what its account may not", got)
	}
	s.eventually(5*time.Second, "the failure on the Source", func() bool {
		c := findCondition(s.source(), v1alpha1.ConditionDrifted)
		return c != nil && c.Reason == "RevertFailed" && strings.Contains(c.Message, "forbidden")
	})
	if len(s.notes.of(EventOpened)) != 1 {
		t.Errorf("the drift was not alerted once:\n%s", s.notes)
	}
}

// TestControllerPrunesWithinLimits: with prune on, an object Git stops declaring is deleted;
// with more than pruneMaxFraction at once, nothing is.
func TestControllerPrunesWithinLimits(t *testing.T) {
	s := newControllerScene(t, "controller-nginx")
	s.createSource(v1alpha1.SourceSpec{Mode: v1alpha1.ModeSpec{Default: v1alpha1.ModeRevert}, Prune: true, PruneMaxFraction: "0.5",
		Interval: &metav1.Duration{Duration: time.Second}})
	s.start()
	s.ready(0)
	gitserver.Commit(t, s.repo, map[string]string{"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deployment.yaml]\n",
		"service.yaml": ""}, "drop the Service")
	s.eventually(10*time.Second, "the Service pruned", func() bool {
		var svc corev1.Service
		err := s.client.Get(t.Context(), client.ObjectKey{Namespace: s.ns, Name: "nginx"}, &svc)
		return err != nil || svc.DeletionTimestamp != nil
	})
	s.ready(0)
	s.deployment()
}

// TestControllerBadSourcesStallNothing: a Source with an unreachable repository and one whose
// credentials Secret is missing go Ready=False naming the field; a good Source in the same
// controller is compared and alerted on all the same.
func TestControllerBadSourcesStallNothing(t *testing.T) {
	s := newControllerScene(t, "controller-nginx")
	s.applyAsCD("controller-nginx")
	s.createSource(v1alpha1.SourceSpec{})
	for name, spec := range map[string]v1alpha1.SourceSpec{
		"unreachable":    {Repo: "file:///nonexistent/platform-apps.git"},
		"missing-secret": {Repo: "file://" + s.repo, SecretRef: &v1alpha1.LocalObjectReference{Name: "git-credentials"}},
	} {
		src := &v1alpha1.Source{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name}, Spec: spec}
		if err := s.client.Create(t.Context(), src); err != nil {
			t.Fatal(err)
		}
	}
	s.start()
	s.ready(0)
	for name, want := range map[string][]string{
		"unreachable":    {ReasonFetchFailed, "spec.repo", "/nonexistent/platform-apps.git"},
		"missing-secret": {ReasonInvalidSpec, "spec.secretRef", "git-credentials"},
	} {
		s.eventually(10*time.Second, "Source "+name+" Ready=False", func() bool {
			var src v1alpha1.Source
			if err := s.client.Get(t.Context(), client.ObjectKey{Namespace: s.ns, Name: name}, &src); err != nil {
				t.Fatal(err)
			}
			c := findCondition(&src, v1alpha1.ConditionReady)
			return c != nil && c.Status == metav1.ConditionFalse && c.Reason == want[0] &&
				strings.Contains(c.Message, want[1]) && strings.Contains(c.Message, want[2])
		})
	}
	s.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	s.eventually(3*time.Second, "the good Source's drift alerted", func() bool {
		return containsLine(openedMessages(s.notes.of(EventOpened)), "Image changed from 'nginx:1.21.0' to 'nginx:latest'")
	})
	failures := s.notes.of(EventSourceFailed)
	if len(failures) != 2 {
		t.Errorf("want one source-failed notification per bad Source, got:\n%s", s.notes)
	}
}
