package reconciler

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/test/gitserver"
)

func (s *controllerScene) deployment() *appsv1.Deployment {
	s.t.Helper()
	var d appsv1.Deployment
	if err := s.client.Get(s.t.Context(), client.ObjectKey{Namespace: s.ns, Name: "nginx-deployment"}, &d); err != nil {
		s.t.Fatal(err)
	}
	return &d
}

// TestControllerReverts: in revert mode the image is back within 2 s, a field a person added is
// taken out, and a deleted Service is re-created; each revert is told, and the incidents
// resolve.
func TestControllerReverts(t *testing.T) {
	s := newControllerScene(t, "controller-nginx")
	s.createSource(v1alpha1.SourceSpec{Mode: v1alpha1.ModeSpec{Default: v1alpha1.ModeRevert}})
	s.start()
	// Nothing is in the cluster yet: revert mode puts every Missing object in place.
	s.ready(0)
	if got := s.deployment().Spec.Template.Spec.Containers[0].Image; got != "nginx:1.21.0" {
		t.Fatalf("applied image %q", got)
	}
	if src := s.source(); src.Status.LastAppliedRevision == "" {
		t.Errorf("no lastAppliedRevision after applying: %+v", src.Status)
	}

	s.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	s.eventually(2*time.Second, "the image reverted", func() bool {
		return s.deployment().Spec.Template.Spec.Containers[0].Image == "nginx:1.21.0"
	})
	s.ready(0)

	s.kubectl("patch", "deployment/nginx-deployment", "--field-manager=kubectl-edit", "--type=strategic",
		`-p={"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"DEBUG","value":"1"}]}]}}}}`)
	s.eventually(3*time.Second, "the added env var removed", func() bool {
		return len(s.deployment().Spec.Template.Spec.Containers[0].Env) == 0
	})

	s.kubectl("delete", "service", "nginx", "--wait=false")
	s.eventually(3*time.Second, "the Service re-created", func() bool {
		var svc corev1.Service
		err := s.client.Get(t.Context(), client.ObjectKey{Namespace: s.ns, Name: "nginx"}, &svc)
		return err == nil && svc.DeletionTimestamp == nil
	})
	s.ready(0)

	var reverted []string
	for _, n := range s.notes.of(EventReverted) {
		reverted = append(reverted, openedMessages([]Notification{n})...)
	}
	for _, want := range []string{
		"Image changed from 'nginx:1.21.0' to 'nginx:latest'",
		"added in the cluster but not declared in Git",
		"Missing: ",
	} {
		if !containsLine(reverted, want) {
			t.Errorf("no reverted notification with %q; reverted:\n%s", want, strings.Join(reverted, "\n"))
		}
	}
	if len(s.notes.of(EventRevertFailed)) != 0 {
		t.Errorf("failed reverts:\n%s", s.notes)
	}
}

// TestControllerAppliesNewCommit: in revert mode a new commit is applied within one poll
// interval, and only a commit that moved the tip is rendered again.
func TestControllerAppliesNewCommit(t *testing.T) {
	s := newControllerScene(t, "controller-nginx")
	s.createSource(v1alpha1.SourceSpec{Mode: v1alpha1.ModeSpec{Default: v1alpha1.ModeRevert}, Interval: &metav1.Duration{Duration: 2 * time.Second}})
	s.start()
	first := s.ready(0).Status.LastFetchedRevision

	deployment := strings.Replace(readFixtureText(t, "controller-nginx", "deployment.yaml"), "replicas: 2", "replicas: 4", 1)
	sha := gitserver.Commit(t, s.repo, map[string]string{"deployment.yaml": deployment}, "scale to 4")
	s.eventually(4*time.Second, "the new commit applied", func() bool {
		return *s.deployment().Spec.Replicas == 4
	})
	s.eventually(2*time.Second, "the status at the new commit", func() bool {
		return s.source().Status.LastAppliedRevision == sha
	})
	src := s.ready(0)
	if src.Status.LastFetchedRevision != sha || src.Status.LastFetchedRevision == first || src.Status.LastAppliedRevision != sha {
		t.Errorf("revisions fetched %s applied %s, want %s (was %s)", src.Status.LastFetchedRevision, src.Status.LastAppliedRevision, sha, first)
	}
}
