package reconciler

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/report"
)

// TestControllerAlertsOnOutOfBandEdit is the mission's third story in alert mode: `kubectl set
// image … nginx:latest` becomes one incident within 2 s, told to the notifier once, shown in the
// Source's status and in a DriftDetected Event; putting the image back by hand resolves it.
func TestControllerAlertsOnOutOfBandEdit(t *testing.T) {
	s := newControllerScene(t, "controller-nginx")
	s.applyAsCD("controller-nginx")
	s.createSource(v1alpha1.SourceSpec{})
	s.start()
	s.ready(0)
	if n := s.notes.of(EventOpened); len(n) != 0 {
		t.Fatalf("incidents before any edit:\n%s", s.notes)
	}

	edited := time.Now()
	s.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	s.eventually(2*time.Second, "an opened incident", func() bool { return len(s.notes.of(EventOpened)) > 0 })
	t.Logf("detected in %s", time.Since(edited))
	time.Sleep(500 * time.Millisecond) // a second notification would come now
	opened := s.notes.of(EventOpened)
	if len(opened) != 1 {
		t.Fatalf("want exactly one opened notification, got:\n%s", s.notes)
	}
	msgs := openedMessages(opened)
	for _, want := range []string{
		"Modified: Image changed from 'nginx:1.21.0' to 'nginx:latest'",
		"PolicyViolation: Use of 'latest' tag is disallowed.",
	} {
		if !containsLine(msgs, want) {
			t.Errorf("opened notification lacks %q; it has:\n%s", want, strings.Join(msgs, "\n"))
		}
	}
	n := opened[0]
	if n.Source != s.key.String() || n.Revision.Revision == "" || n.Report == nil {
		t.Errorf("notification source %q revision %q report %v", n.Source, n.Revision.Revision, n.Report != nil)
	}
	inc := n.Incidents[0]
	if inc.Object != (report.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: s.ns, Name: "nginx-deployment"}) {
		t.Errorf("incident object = %v", inc.Object)
	}
	if got := inc.Findings[0].Fields[0].Manager; got != "kubectl-set" {
		t.Errorf("changed by %q, want kubectl-set", got)
	}

	src := s.ready(2)
	if c := findCondition(src, v1alpha1.ConditionDrifted); c == nil || c.Status != "True" {
		t.Errorf("Drifted condition = %+v", c)
	}
	if src.Status.Findings["Modified"] != 1 || src.Status.Incidents[0].State != v1alpha1.IncidentOpen {
		t.Errorf("status findings %v, incidents %+v", src.Status.Findings, src.Status.Incidents)
	}
	s.eventually(15*time.Second, "a DriftDetected Event on the Deployment", func() bool {
		var events eventsv1.EventList
		if err := s.client.List(t.Context(), &events, client.InNamespace(s.ns)); err != nil {
			t.Fatal(err)
		}
		for _, e := range events.Items {
			if e.Reason == "DriftDetected" && e.Regarding.Kind == "Deployment" && e.Regarding.Name == "nginx-deployment" &&
				strings.Contains(e.Note, "Image changed from 'nginx:1.21.0' to 'nginx:latest'") {
				return true
			}
		}
		return false
	})
	if len(s.notes.of(EventReverted)) != 0 {
		t.Errorf("alert mode reverted:\n%s", s.notes)
	}

	s.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:1.21.0")
	s.eventually(2*time.Second, "the incidents resolved", func() bool {
		r := s.notes.of(EventResolved)
		return len(r) == 1 && len(r[0].Incidents) == 2
	})
	s.ready(0)
}

// TestControllerSeesAPodOnAnUnapprovedDigest: a pod of a managed Deployment that starts on a
// digest Git did not approve is told within seconds, from the Pod watch, with no poll.
func TestControllerSeesAPodOnAnUnapprovedDigest(t *testing.T) {
	s := newControllerScene(t, "controller-nginx")
	s.applyAsCD("controller-nginx")
	s.createSource(v1alpha1.SourceSpec{Interval: &metav1.Duration{Duration: time.Hour}})
	s.start()
	s.ready(0)
	var pods corev1.PodList
	s.eventually(30*time.Second, "the Deployment's pods", func() bool {
		if err := s.client.List(t.Context(), &pods, client.InNamespace(s.ns), client.MatchingLabels{"app": "nginx"}); err != nil {
			t.Fatal(err)
		}
		return len(pods.Items) > 0
	})
	pod := pods.Items[0]
	unapproved := "docker.io/library/nginx@sha256:" + strings.Repeat("b", 64)
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "nginx", Image: "nginx:1.21.0", ImageID: unapproved, Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
	if err := s.client.Status().Update(t.Context(), &pod); err != nil {
		t.Fatal(err)
	}
	s.eventually(5*time.Second, "the running digest told", func() bool {
		for _, n := range s.notes.of(EventOpened) {
			for _, inc := range n.Incidents {
				if inc.Type == report.RunningImageMismatch && strings.Contains(inc.Findings[0].Message, pod.Name) {
					return true
				}
			}
		}
		return false
	})
}
