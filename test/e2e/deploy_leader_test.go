package e2e

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

const leaderLabel = "plumbline.dev/leader"

// TestLeaderLabelFollowsTheLease: two `plumbline run` replicas with --leader-label-pod, each
// naming a Pod object of its own. The leader's pod carries plumbline.dev/leader=true, and only
// it: the second replica takes a label left from an earlier life off its pod at start. When the
// leader is stopped (SIGTERM), its pod loses the label before the process exits, and the other
// pod gets it.
func TestLeaderLabelFollowsTheLease(t *testing.T) {
	ctx := t.Context()
	cs := env.Clientset
	ns := newNamespace(t, "leader")
	// A Node the pods are bound to, Ready, so that neither the scheduler (there is none) nor the
	// pod garbage collector (it deletes pods of nodes that do not exist) touches them.
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: ns + "-node"}}
	node, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cs.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete Node %s: %v", node.Name, err)
		}
	})
	now := metav1.Now()
	// What a kubelet would report; kube-controller-manager writes the Node too, hence the retry.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := cs.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: now, LastTransitionTime: now, Reason: "KubeletReady"}}
		_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"plumbline-a", "plumbline-b"} {
		labels := map[string]string{"app.kubernetes.io/name": "plumbline"}
		if name == "plumbline-b" {
			labels[leaderLabel] = "true" // its container led once, lost the Lease and restarts
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec:       corev1.PodSpec{NodeName: node.Name, Containers: []corev1.Container{{Name: "plumbline", Image: "ghcr.io/plumbline/plumbline:0.1.0"}}},
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	labelled := func() []string {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: leaderLabel + "=true"})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range pods.Items {
			names = append(names, p.Name)
		}
		return names
	}
	waitFor := func(d time.Duration, what string, want []string, got func() []string) {
		t.Helper()
		var last []string
		deadline := time.Now().Add(d)
		for last = got(); !slices.Equal(last, want); last = got() {
			if time.Now().After(deadline) {
				t.Fatalf("after %s: %s = %q, want %q", d, what, last, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	a := startRunWith(t, ns, "a", "--leader-label-pod=plumbline-a")
	waitUntil(t, 60*time.Second, "the first replica to lead", a.leads)
	waitFor(15*time.Second, "the labelled pods", []string{"plumbline-a", "plumbline-b"}, labelled)
	b := startRunWith(t, ns, "b", "--leader-label-pod=plumbline-b")
	waitUntil(t, 30*time.Second, "the second replica ready", b.ready)
	// b takes its stale label off before it stands for election, so before it is ready.
	if got := labelled(); !slices.Equal(got, []string{"plumbline-a"}) {
		t.Fatalf("with a leading and b ready, the labelled pods are %q, want only plumbline-a", got)
	}
	if b.leads() {
		t.Fatal("b leads while a holds the Lease")
	}

	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		t.Fatal("a did not stop within 30s of SIGTERM")
	}
	// a removes the label before it lets go of the Lease, so before it exits.
	if got := labelled(); slices.Contains(got, "plumbline-a") {
		t.Errorf("a exited and its pod keeps the label: labelled pods %q", got)
	}
	if !strings.Contains(a.out.String(), `"msg":"leader label removed","pod":"`+ns+`/plumbline-a","label":"plumbline.dev/leader","when":"leadership ended"`) {
		t.Errorf("a's log does not say it removed the label:\n%s", a.out.String())
	}
	waitUntil(t, 15*time.Second, "the second replica to take the Lease", b.leads)
	waitFor(15*time.Second, "the labelled pods", []string{"plumbline-b"}, labelled)
}
