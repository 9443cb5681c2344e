package reconciler

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
)

// refuseStatusWrites makes the API server refuse every write of a Source's status in ns, with
// a ValidatingAdmissionPolicy, until the returned func lifts it. It returns once a write is
// refused: probe, a suspended Source the controller leaves alone, is written until one is.
func refuseStatusWrites(t *testing.T, c client.Client, ns string) func() {
	t.Helper()
	name := "refuse-status-" + ns
	policy := &admissionv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{Operations: []admissionv1.OperationType{admissionv1.Update},
					Rule: admissionv1.Rule{APIGroups: []string{v1alpha1.GroupVersion.Group}, APIVersions: []string{"*"}, Resources: []string{"sources/status"}}}}}},
			Validations: []admissionv1.Validation{{Expression: "false", Message: "status writes refused by the test"}},
		}}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name, ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}}}}
	ctx := t.Context()
	if err := c.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	lift := func() { // cluster-scoped: the package's other tests share the API server
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, o := range []client.Object{binding, policy} {
			if err := client.IgnoreNotFound(c.Delete(ctx, o)); err != nil {
				t.Errorf("delete %s: %v", o.GetName(), err)
			}
		}
	}
	t.Cleanup(lift)
	probe := &v1alpha1.Source{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probe"}, Spec: v1alpha1.SourceSpec{Repo: "file:///nowhere", Suspend: true}}
	if err := c.Create(ctx, probe); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		if err := c.Get(ctx, client.ObjectKeyFromObject(probe), probe); err != nil {
			t.Fatal(err)
		}
		probe.Status.LastFetchedRevision = fmt.Sprint(i)
		err := c.Status().Update(ctx, probe)
		if err != nil && strings.Contains(err.Error(), "status writes refused by the test") {
			return lift
		}
		if time.Now().After(deadline) {
			t.Fatalf("the policy refuses no status write: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestControllerSlackStatusWriteRefused: the notices of a pass reach Slack even when the API
// server refuses the Source's status write in that pass (they are staged in the Slack outbox
// before the write and sent after it); once writes are allowed again the status catches up, and
// Slack hears of the incident once.
func TestControllerSlackStatusWriteRefused(t *testing.T) {
	s := newSlackScene(t, "controller-nginx")
	s.applyAsCD("controller-nginx")
	s.createSource(slackSpec(v1alpha1.ModeAlert))
	s.startSlack(false)
	s.ready(0)
	lift := refuseStatusWrites(t, s.client, s.ns)

	s.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	msgs := s.waitMessages(1, 30*time.Second)
	if len(msgs) == 0 || msgs[0].ThreadTS != "" || !strings.Contains(msgs[0].Text, "Reason: Image changed from 'nginx:1.21.0' to 'nginx:latest'") {
		t.Fatalf("Slack, while status writes are refused:\n%s", texts(msgs))
	}
	if inc := s.source().Status.Incidents; len(inc) != 0 {
		t.Fatalf("the status was written after all: %d incidents", len(inc))
	}

	lift()
	s.eventually(60*time.Second, "the status catches up", func() bool { return len(s.source().Status.Incidents) > 0 })
	time.Sleep(2 * time.Second) // a repeated root would come now
	var roots int
	for _, m := range s.srv.Messages() {
		if m.Method == "chat.postMessage" && m.ThreadTS == "" {
			roots++
		}
	}
	if roots != 1 {
		t.Errorf("%d roots, want 1:\n%s", roots, texts(s.srv.Messages()))
	}
}
