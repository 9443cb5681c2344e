package activity

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/report"
	"github.com/plumbline/plumbline/test/gitserver"
)

// findingOf returns the first finding of an opened incident of type t whose message contains
// part, or nil.
func (s *scene) findingOf(t report.FindingType, part string) *report.Finding {
	for _, n := range s.notes.of(reconciler.EventOpened) {
		for _, inc := range n.Incidents {
			if inc.Type == t && len(inc.Findings) > 0 && strings.Contains(inc.Findings[0].Message, part) {
				f := inc.Findings[0]
				return &f
			}
		}
	}
	return nil
}

// events returns the notes of the Kubernetes Events with reason in the scene's namespace.
func (s *scene) events(reason string) []string {
	list, err := env.Clientset.EventsV1().Events(s.ns).List(s.t.Context(), metav1.ListOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Reason == reason {
			out = append(out, e.Note)
		}
	}
	return out
}

// TestAuditNamesThePerson: alice's `kubectl set image` is reported with her name, groups and
// field manager; bob impersonating carol is reported as both.
func TestAuditNamesThePerson(t *testing.T) {
	s := newScene(t, v1alpha1.SourceSpec{})
	alice := s.user("alice@example.com", "web-team")
	if out, err := s.kubectl(alice, "set", "image", "deployment/web", "nginx=nginx:1.26"); err != nil {
		t.Fatalf("kubectl set image: %v\n%s", err, out)
	}
	var f *report.Finding
	s.eventually(30*time.Second, "the image drift is reported", func() bool {
		f = s.findingOf(report.Modified, "Image changed from 'nginx:1.25' to 'nginx:1.26'")
		return f != nil
	})
	if f.Actor == nil {
		t.Fatalf("the finding names nobody: %+v", f)
	}
	if f.Actor.User != "alice@example.com" || !slices.Contains(f.Actor.Groups, "web-team") || f.Actor.FieldManager != "kubectl-set" ||
		!strings.HasPrefix(f.Actor.UserAgent, "kubectl/v1.32") || f.Actor.AuditID == "" || len(f.Actor.SourceIPs) == 0 {
		t.Errorf("actor: %+v", f.Actor)
	}
	if !strings.Contains(f.Message, "; changed by alice@example.com (kubectl-set, kubectl/v1.32") {
		t.Errorf("message: %s", f.Message)
	}
	var b strings.Builder
	r := report.New(report.Source{Path: "."})
	r.Findings = append(r.Findings, *f)
	r.Finalize(1)
	if err := report.WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "  Changed by: alice@example.com (kubectl-set, kubectl/v1.32") || !strings.Contains(b.String(), "  Groups: web-team, system:authenticated") {
		t.Errorf("report text:\n%s", b.String())
	}
	deadline := time.Now().Add(10 * time.Second)
	for named := false; !named; {
		for _, n := range s.events("DriftDetected") {
			named = named || strings.Contains(n, "changed by alice@example.com")
		}
		if !named && time.Now().After(deadline) {
			t.Fatalf("no DriftDetected Event names alice: %q", s.events("DriftDetected"))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// bob, who may impersonate carol, scales as carol.
	bob := s.user("bob")
	s.bind("carol")
	ctx := t.Context()
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "impersonate-carol-" + s.ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"users"}, Verbs: []string{"impersonate"}, ResourceNames: []string{"carol"}}}}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: cr.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: cr.Name},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "bob"}}}
	if _, err := env.Clientset.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Clientset.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = env.Clientset.RbacV1().ClusterRoleBindings().Delete(ctx, crb.Name, metav1.DeleteOptions{})
		_ = env.Clientset.RbacV1().ClusterRoles().Delete(ctx, cr.Name, metav1.DeleteOptions{})
	})
	if out, err := s.kubectl(bob, "--as", "carol", "scale", "deployment/web", "--replicas=2"); err != nil {
		t.Fatalf("kubectl scale as carol: %v\n%s", err, out)
	}
	s.eventually(30*time.Second, "the replicas drift is reported", func() bool {
		f = s.findingOf(report.Modified, "Replicas changed from 1 to 2")
		return f != nil
	})
	if f.Actor == nil || f.Actor.User != "bob" || f.Actor.ImpersonatedUser != "carol" {
		t.Fatalf("actor of the scale: %+v (message %s)", f.Actor, f.Message)
	}
	if !strings.Contains(f.Message, "changed by bob as carol (") {
		t.Errorf("message: %s", f.Message)
	}
}

// TestDebugAndExecReported: `kubectl debug` on a managed pod is a RuntimeAccess finding naming
// the user and the debug image; `kubectl exec`, which fails without a kubelet, is still
// reported, with the API server's answer.
func TestDebugAndExecReported(t *testing.T) {
	s := newScene(t, v1alpha1.SourceSpec{})
	alice := s.user("alice@example.com", "web-team")
	pod := s.pod()
	if out, err := s.kubectl(alice, "debug", pod.Name, "--image=busybox:1.36", "-c", "debugger", "--profile=general"); err != nil {
		t.Fatalf("kubectl debug: %v\n%s", err, out)
	}
	var f *report.Finding
	s.eventually(30*time.Second, "the debug container is reported", func() bool {
		f = s.findingOf(report.RuntimeAccess, "Debug container in pod "+pod.Name)
		return f != nil && f.Actor != nil
	})
	if f.Runtime == nil || f.Runtime.Image != "busybox:1.36" || f.Runtime.Access != "debug" || f.Object.Kind != "Deployment" || f.Object.Name != "web" {
		t.Errorf("debug finding: %+v runtime %+v", f, f.Runtime)
	}
	if want := "Debug container in pod " + pod.Name + " (container debugger) by alice@example.com ("; !strings.Contains(f.Message, want) ||
		!strings.HasSuffix(f.Message, "with image 'busybox:1.36'") {
		t.Errorf("message %q, want %q … with image 'busybox:1.36'", f.Message, want)
	}
	out, err := s.kubectl(alice, "exec", pod.Name, "-c", "nginx", "--", "sh", "-c", "id")
	if err == nil {
		t.Fatalf("kubectl exec worked without a kubelet: %s", out)
	}
	s.eventually(30*time.Second, "the exec attempt is reported", func() bool {
		f = s.findingOf(report.RuntimeAccess, "Exec into pod "+pod.Name+" (container nginx): 'sh -c id' by alice@example.com (kubectl/v1.32")
		return f != nil
	})
	if f.Runtime.Command != "sh -c id" || f.Runtime.Code < 400 || f.Actor == nil || f.Actor.User != "alice@example.com" {
		t.Errorf("exec finding: %s; runtime %+v actor %+v", f.Message, f.Runtime, f.Actor)
	}
	if !strings.Contains(f.Message, fmt.Sprintf("the API server answered %d", f.Runtime.Code)) {
		t.Errorf("message: %s", f.Message)
	}
	s.eventually(10*time.Second, "a RuntimeAccess Event", func() bool { return len(s.events("RuntimeAccess")) > 0 })
}

// TestFalcoEventsBecomeRuntimeDrift: Falco's sample events for a managed pod open one
// RuntimeDrift incident each, in the mission's words; one for an unmanaged pod opens none.
func TestFalcoEventsBecomeRuntimeDrift(t *testing.T) {
	s := newScene(t, v1alpha1.SourceSpec{})
	pod := s.pod()
	stray := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "stray", Namespace: s.ns, Labels: map[string]string{"app": "other"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}
	if _, err := env.Clientset.CoreV1().Pods(s.ns).Create(t.Context(), stray, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	postFalco(t, "falco-netcat.json", s.ns, "stray") // unmanaged: counted and dropped
	for _, sample := range []string{"falco-netcat.json", "falco-nginx-conf.json", "falco-new-binary.json"} {
		postFalco(t, sample, s.ns, pod.Name)
	}
	want := []string{
		"Unauthorized process executed in pod " + pod.Name + ": Process '/usr/bin/nc' started by user 'www-data' (Falco rule: Netcat Remote Code Execution in Container)",
		"File changed in pod " + pod.Name + ": File '/etc/nginx/nginx.conf' opened for writing by process '/usr/bin/vi' of user 'root' (Falco rule: Write below etc)",
		"Unauthorized process executed in pod " + pod.Name + ": Process '/usr/bin/nc' started by user 'www-data' (Falco rule: Drop and execute new binary in container)",
	}
	s.eventually(30*time.Second, "three RuntimeDrift incidents", func() bool { return len(s.notes.opened("RuntimeDrift")) >= 3 })
	time.Sleep(2 * time.Second) // a stray incident would show by now
	var got []string
	for _, inc := range s.notes.opened("RuntimeDrift") {
		got = append(got, inc.message)
		if inc.object != "web" {
			t.Errorf("incident on %s, want the Deployment web", inc.object)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("RuntimeDrift incidents:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	s.eventually(10*time.Second, "RuntimeDrift Events", func() bool { return len(s.events("RuntimeDrift")) > 0 })
	src := &v1alpha1.Source{}
	if err := s.client.Get(t.Context(), clientKey(s.ns), src); err != nil {
		t.Fatal(err)
	}
	if src.Status.Findings["RuntimeDrift"] != 3 {
		t.Errorf("status findings: %v", src.Status.Findings)
	}
}

// TestEvictOnce: with spec.runtime.response evict the pod is evicted once per workload however
// many events come.
func TestEvictOnce(t *testing.T) {
	s := newScene(t, v1alpha1.SourceSpec{Runtime: &v1alpha1.RuntimeSpec{Response: v1alpha1.RuntimeEvict}})
	pod := s.pod()
	postFalco(t, "falco-new-binary.json", s.ns, pod.Name)
	s.eventually(30*time.Second, "the pod is evicted", func() bool { return len(s.notes.of(reconciler.EventEvicted)) == 1 })
	if d := s.notes.of(reconciler.EventEvicted)[0].Detail; !strings.Contains(d, "pod "+s.ns+"/"+pod.Name+" evicted after runtime drift") {
		t.Errorf("eviction detail: %s", d)
	}
	s.eventually(30*time.Second, "the pod is gone", func() bool {
		_, err := env.Clientset.CoreV1().Pods(s.ns).Get(t.Context(), pod.Name, metav1.GetOptions{})
		return err != nil
	})
	// The ReplicaSet makes another pod; Falco sees the same there: no second eviction within 10 minutes.
	next := s.pod()
	postFalco(t, "falco-netcat.json", s.ns, next.Name)
	s.eventually(30*time.Second, "the second event is reported", func() bool { return len(s.notes.opened("RuntimeDrift")) >= 2 })
	time.Sleep(2 * time.Second)
	if n := len(s.notes.of(reconciler.EventEvicted)); n != 1 {
		t.Errorf("%d evictions, want 1 per 10 minutes:\n%s", n, s.notes)
	}

}

// TestEvictRespectsPDB: a PodDisruptionBudget that allows no disruption is respected, and the
// refusal is reported. The pod runs (bound to a node, Running, not Ready): the Eviction API
// ignores budgets for Pending pods.
func TestEvictRespectsPDB(t *testing.T) {
	p := newScene(t, v1alpha1.SourceSpec{Runtime: &v1alpha1.RuntimeSpec{Response: v1alpha1.RuntimeEvict}})
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: p.ns},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptrTo(intstr.FromInt32(1)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	if _, err := env.Clientset.PolicyV1().PodDisruptionBudgets(p.ns).Create(t.Context(), pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	running := p.pod()
	runPod(t, running)
	p.eventually(30*time.Second, "the budget is computed", func() bool {
		got, err := env.Clientset.PolicyV1().PodDisruptionBudgets(p.ns).Get(t.Context(), "web", metav1.GetOptions{})
		return err == nil && got.Status.ObservedGeneration == got.Generation && got.Status.ExpectedPods == 1
	})
	postFalco(t, "falco-new-binary.json", p.ns, running.Name)
	p.eventually(30*time.Second, "the refused eviction is reported", func() bool { return len(p.notes.of(reconciler.EventEvicted)) == 1 })
	if d := p.notes.of(reconciler.EventEvicted)[0].Detail; !strings.Contains(d, "not evicted: its PodDisruptionBudget allows no disruption now") {
		t.Errorf("detail: %s", d)
	}
	if _, err := env.Clientset.CoreV1().Pods(p.ns).Get(t.Context(), running.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the budget was not respected: %v", err)
	}
}

func ptrTo[T any](v T) *T { return &v }

func clientKey(ns string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: "apps"} }

// runPod binds a pod to a node and marks it Running but not Ready, as a kubelet would for a
// pod whose container is starting: the Eviction API ignores budgets for Pending pods.
func runPod(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	ctx := t.Context()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-" + pod.Namespace}}
	if _, err := env.Clientset.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Clientset.CoreV1().Nodes().Delete(context.Background(), node.Name, metav1.DeleteOptions{})
	})
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace}, Target: corev1.ObjectReference{Kind: "Node", Name: node.Name}}
	if err := env.Clientset.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := env.Clientset.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got.Status.Phase = corev1.PodRunning
	got.Status.Conditions = append(got.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse})
	if _, err := env.Clientset.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestBadInputRefusedAndStormBounded: requests without the token, with a wrong one, too large,
// malformed or of the wrong kind are refused and change nothing; a storm of 10,000 events is
// sampled into one incident, and the Source still reports a person's change.
func TestBadInputRefusedAndStormBounded(t *testing.T) {
	s := newScene(t, v1alpha1.SourceSpec{})
	pod := s.pod()
	before := receiver.Stats()
	for _, tc := range []struct {
		name, path, token string
		body              []byte
		want              int
	}{
		{"no token", "/audit", "", []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}`), 401},
		{"wrong token", "/falco", "not-the-token", []byte(`{"rule":"r"}`), 401},
		{"10 MiB body", "/audit", eventsToken, bytes.Repeat([]byte(" "), 10<<20), 413},
		{"malformed JSON", "/falco", eventsToken, []byte(`{"rule": "Drop`), 400},
		{"wrong kind", "/audit", eventsToken, []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1"}`), 400},
	} {
		if code, body := postEvents(t, tc.path, tc.token, tc.body); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.want)
		}
	}
	after := receiver.Stats()
	if after.Unauthorized-before.Unauthorized != 2 || after.TooLarge-before.TooLarge != 1 || after.Malformed-before.Malformed != 2 || after.Events != before.Events {
		t.Errorf("stats before %+v after %+v", before, after)
	}

	// A second Source on the same controller, whose drift must still be told during the storm.
	other := s.otherSource()

	// The storm: 10,000 events in 10 s, in batches.
	one, err := falcoSample("falco-new-binary.json", s.ns, pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	batch := []byte("[" + strings.TrimSuffix(strings.Repeat(string(one)+",", 1000), ",") + "]")
	start := time.Now()
	for sec := range 10 { // 10,000 events a second for 10 s
		for range 10 {
			if code, body := postEvents(t, "/falco", eventsToken, batch); code != http.StatusOK {
				t.Fatalf("storm batch: %d %s", code, body)
			}
		}
		time.Sleep(time.Until(start.Add(time.Duration(sec+1) * time.Second)))
	}
	alice := s.user("alice@example.com")
	if out, err := s.kubectl(alice, "set", "image", "deployment/web", "nginx=nginx:1.26"); err != nil {
		t.Fatalf("kubectl set image: %v\n%s", err, out)
	}
	if out, err := s.kubectl(alice, "patch", "configmap", other, "--type=merge", "-p", `{"data":{"mode":"changed"}}`); err != nil {
		t.Fatalf("kubectl patch configmap: %v\n%s", err, out)
	}
	s.eventually(30*time.Second, "the other Source's drift is told after the storm", func() bool {
		for _, n := range s.notes.of(reconciler.EventOpened) {
			for _, inc := range n.Incidents {
				if n.Source == s.ns+"/other" && inc.Type == report.Modified && inc.Object.Name == other {
					return true
				}
			}
		}
		return false
	})
	s.eventually(30*time.Second, "the change during the storm's aftermath is reported with its person", func() bool {
		f := s.findingOf(report.Modified, "Image changed")
		return f != nil && f.Actor != nil && f.Actor.User == "alice@example.com"
	})
	if n := len(s.notes.opened("RuntimeDrift")); n != 1 {
		t.Errorf("the storm opened %d incidents, want 1:\n%s", n, s.notes)
	}
	storm := receiver.Stats()
	if storm.Events-after.Events < 100000 || storm.Sampled-after.Sampled < 80000 {
		t.Errorf("the storm was not sampled: before %+v after %+v", after, storm)
	}
	var f *report.Finding
	for _, n := range s.notes.of(reconciler.EventOpened) {
		for _, inc := range n.Incidents {
			if inc.Type == report.RuntimeDrift {
				f = &inc.Findings[0]
			}
		}
	}
	if f == nil || f.Runtime.Count < 1 {
		t.Fatalf("no storm incident")
	}
}

// otherSource creates a second Source, "other", in the scene's namespace (so the scene's
// controller watches it too) that declares one ConfigMap, applies that ConfigMap as a CD tool
// would, waits until the Source is ready, and returns the ConfigMap's name.
func (s *scene) otherSource() string {
	s.t.Helper()
	ctx := s.t.Context()
	const name = "other-settings"
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: " + s.ns + "\ndata:\n  mode: calm\n"
	repo := gitserver.NewRepo(s.t, map[string]string{"settings.yaml": cm})
	u := &unstructured.Unstructured{}
	if err := sigsyaml.Unmarshal([]byte(cm), &u.Object); err != nil {
		s.t.Fatal(err)
	}
	cl, err := reconciler.NewCluster(env.Config)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cl.Apply(ctx, []*unstructured.Unstructured{u}, reconciler.ApplyOptions{SourceName: s.ns + ".other", DefaultNamespace: s.ns}); err != nil {
		s.t.Fatal(err)
	}
	src := &v1alpha1.Source{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "other"}, Spec: v1alpha1.SourceSpec{
		Repo: "file://" + repo, Ref: "main", Path: ".", Interval: &metav1.Duration{Duration: time.Minute},
	}}
	if err := s.client.Create(ctx, src); err != nil {
		s.t.Fatal(err)
	}
	s.eventually(60*time.Second, "the other Source is ready", func() bool {
		var got v1alpha1.Source
		if err := s.client.Get(ctx, client.ObjectKeyFromObject(src), &got); err != nil {
			return false
		}
		for _, c := range got.Status.Conditions {
			if c.Type == v1alpha1.ConditionReady && c.Status == metav1.ConditionTrue && got.Status.ObservedGeneration == got.Generation {
				return true
			}
		}
		return false
	})
	return name
}

func falcoSample(sample, namespace, pod string) ([]byte, error) {
	b, err := readSample(sample)
	if err != nil {
		return nil, err
	}
	b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("NAMESPACE"), []byte(namespace)), []byte(`"POD"`), []byte(`"`+pod+`"`))
	return bytes.TrimSpace(b), nil
}

// TestBreakGlassEditNamedByAudit: with spec.prevent deny the guard refuses alice's edit; dana,
// in the break-glass group, gets through, and her edit is still drift, named by the audit log:
// her user and group, not just kubectl's field manager. alice's refused edit names nobody.
func TestBreakGlassEditNamedByAudit(t *testing.T) {
	s := newScene(t, v1alpha1.SourceSpec{Prevent: v1alpha1.PreventDeny})
	alice := s.user("alice@example.com", "web-team")
	s.eventually(30*time.Second, "the guard refuses alice", func() bool {
		out, err := s.kubectl(alice, "set", "image", "deployment/web", "nginx=nginx:1.27")
		if err == nil { // the guard was not in force yet: put it back
			if out, err := s.kubectl(alice, "set", "image", "deployment/web", "nginx=nginx:1.25"); err != nil {
				t.Logf("put the image back: %v\n%s", err, out)
			}
			return false
		}
		return strings.Contains(out, "is managed by Plumbline") && strings.Contains(out, "ask for break-glass")
	})
	dana := s.user("dana@example.com", breakGlass)
	if out, err := s.kubectl(dana, "set", "image", "deployment/web", "nginx=nginx:1.26"); err != nil {
		t.Fatalf("break-glass kubectl set image refused: %v\n%s", err, out)
	}
	var f *report.Finding
	s.eventually(30*time.Second, "the break-glass edit is reported", func() bool {
		f = s.findingOf(report.Modified, "Image changed from 'nginx:1.25' to 'nginx:1.26'")
		return f != nil && f.Actor != nil
	})
	if f.Actor.User != "dana@example.com" || !slices.Contains(f.Actor.Groups, breakGlass) || f.Actor.FieldManager != "kubectl-set" {
		t.Errorf("actor: %+v", f.Actor)
	}
	if !strings.Contains(f.Message, "changed by dana@example.com (kubectl-set") {
		t.Errorf("message: %s", f.Message)
	}
	for _, n := range s.notes.of(reconciler.EventOpened) {
		for _, inc := range n.Incidents {
			for _, g := range inc.Findings {
				if g.Actor != nil && g.Actor.User == "alice@example.com" {
					t.Errorf("a refused edit is reported as alice's: %s", g.Message)
				}
			}
		}
	}
}
