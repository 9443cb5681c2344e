package e2e

import (
	"context"
	"os"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"
)

const leaderLabel = "plumbline.dev/leader"

// leaderSelector is what the Services of deploy/components select: the controller's pods, and of
// them the leader's.
var leaderSelector = map[string]string{"app.kubernetes.io/name": "plumbline", leaderLabel: "true"}

// TestDeployComponentsInstall: a kustomization of deploy/ with both components applies with
// kubectl to a real API server, and what the server keeps is what the components promise: two
// Services that reach the leader only, the Deployment's flags and volumes from the Secrets the
// README names, and the Role of the leader label. (No kubelet runs here: the pods never start,
// and the Secrets need not exist.)
func TestDeployComponentsInstall(t *testing.T) {
	installDeploy(t, "testdata/deploy-with-components")
	ctx := t.Context()
	const ns = "plumbline-system"
	cs := env.Clientset

	for name, want := range map[string]corev1.ServicePort{
		"plumbline-slack":       {Name: "http", Port: 80, TargetPort: intstr.FromString("slack")},
		"plumbline-events":      {Name: "https", Port: 443, TargetPort: intstr.FromString("events")},
		"plumbline-forge-hooks": {Name: "http", Port: 80, TargetPort: intstr.FromString("forge-hooks")},
	} {
		svc, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("Service %s: %v", name, err)
			continue
		}
		if diff := cmp.Diff(leaderSelector, svc.Spec.Selector); diff != "" {
			t.Errorf("Service %s selector (-want +got):\n%s", name, diff)
		}
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != want.Name || svc.Spec.Ports[0].Port != want.Port || svc.Spec.Ports[0].TargetPort != want.TargetPort {
			t.Errorf("Service %s ports = %+v, want one %+v", name, svc.Spec.Ports, want)
		}
	}
	metrics, err := cs.CoreV1().Services(ns).Get(ctx, "plumbline-metrics", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := metrics.Spec.Selector[leaderLabel]; ok {
		t.Errorf("the metrics Service selects the leader only: %v; every replica has metrics", metrics.Spec.Selector)
	}

	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "plumbline", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := dep.Spec.Template.Spec
	c := spec.Containers[0]
	for _, arg := range []string{
		"--leader-label-pod=$(POD_NAME)", "--scan-cache-dir=/cache/images",
		"--slack-interactions-addr=:8443", "--slack-signing-secret-file=/etc/plumbline/slack/signing-secret",
		"--events-bind-address=:9443", "--events-tls-cert-file=/etc/plumbline/events-tls/tls.crt",
		"--events-tls-key-file=/etc/plumbline/events-tls/tls.key", "--events-token-file=/etc/plumbline/events-token/token",
		"--forge-webhook-addr=:9292",
	} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("the container's args lack %s: %q", arg, c.Args)
		}
	}
	podName := false
	for _, e := range c.Env {
		podName = podName || e.Name == "POD_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name"
	}
	if !podName {
		t.Errorf("no POD_NAME from metadata.name in %+v", c.Env)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if diff := cmp.Diff(map[string]int32{"metrics": 8080, "probes": 8081, "slack": 8443, "events": 9443, "forge-hooks": 9292}, ports); diff != "" {
		t.Errorf("container ports (-want +got):\n%s", diff)
	}
	// Each Secret's keys land where the flags read them, read-only.
	type secretFile struct{ secret, key, path string }
	var got []secretFile
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	for _, v := range spec.Volumes {
		if v.Secret == nil {
			continue
		}
		m, ok := mounts[v.Name]
		if !ok || !m.ReadOnly {
			t.Errorf("Secret volume %s: mount %+v, want a read-only one", v.Name, m)
		}
		for _, it := range v.Secret.Items {
			got = append(got, secretFile{v.Secret.SecretName, it.Key, m.MountPath + "/" + it.Path})
		}
	}
	want := []secretFile{
		{"plumbline-events-tls", "tls.crt", "/etc/plumbline/events-tls/tls.crt"},
		{"plumbline-events-tls", "tls.key", "/etc/plumbline/events-tls/tls.key"},
		{"plumbline-events-token", "token", "/etc/plumbline/events-token/token"},
		{"plumbline-slack-signing", "signing-secret", "/etc/plumbline/slack/signing-secret"},
	}
	sort.Slice(got, func(i, j int) bool { return got[i].path < got[j].path })
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(secretFile{})); diff != "" {
		t.Errorf("files from Secrets (-want +got):\n%s", diff)
	}
	for _, v := range spec.Volumes {
		if v.Name == "cache" && (v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.String() != "4Gi") {
			t.Errorf("the cache volume = %+v, want an emptyDir of 4Gi", v.VolumeSource)
		}
	}

	role, err := cs.RbacV1().Roles(ns).Get(ctx, "plumbline-leader", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "patch"}}}, role.Rules); diff != "" {
		t.Errorf("Role plumbline-leader rules (-want +got):\n%s", diff)
	}
	rb, err := cs.RbacV1().RoleBindings(ns).Get(ctx, "plumbline-leader", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != "plumbline-leader" || len(rb.Subjects) != 1 ||
		rb.Subjects[0].Kind != "ServiceAccount" || rb.Subjects[0].Name != "plumbline" || rb.Subjects[0].Namespace != ns {
		t.Errorf("RoleBinding plumbline-leader = %+v %+v", rb.RoleRef, rb.Subjects)
	}
}

// TestLeaderLabelFollowsTheLease: two `plumbline run` replicas with --leader-label-pod, each
// naming a Pod object of its own. The leader's pod carries plumbline.dev/leader=true, and only
// it: the second replica takes a label left from an earlier life off its pod at start. The
// Service of deploy/components/slack-buttons has the leader's address alone. When the leader
// is stopped (SIGTERM), its pod loses the label before the process exits, and the other pod gets
// it, and the Service's address with it.
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
	ips := map[string]string{"plumbline-a": "10.244.7.1", "plumbline-b": "10.244.7.2"}
	for _, name := range []string{"plumbline-a", "plumbline-b"} {
		labels := map[string]string{"app.kubernetes.io/name": "plumbline"}
		if name == "plumbline-b" {
			labels[leaderLabel] = "true" // its container led once, lost the Lease and restarts
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec: corev1.PodSpec{NodeName: node.Name, Containers: []corev1.Container{{Name: "plumbline", Image: "ghcr.io/plumbline/plumbline:0.1.0",
				Ports: []corev1.ContainerPort{{Name: "slack", ContainerPort: 8443}}}}},
		}
		pod, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// What the kubelet would report, so that the Service gets the pod's address.
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ips[name], PodIPs: []corev1.PodIP{{IP: ips[name]}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}}
		if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	svc := componentService(t, "../../deploy/components/slack-buttons/service.yaml")
	svc.Namespace = ns
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
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
	serviceAddresses := func() []string {
		list, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc.Name})
		if err != nil {
			t.Fatal(err)
		}
		var addrs []string
		for _, s := range list.Items {
			for _, e := range s.Endpoints {
				addrs = append(addrs, e.Addresses...)
			}
		}
		sort.Strings(addrs)
		return addrs
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
	waitFor(15*time.Second, "the addresses of Service plumbline-slack", []string{ips["plumbline-a"]}, serviceAddresses)

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
	waitFor(15*time.Second, "the addresses of Service plumbline-slack", []string{ips["plumbline-b"]}, serviceAddresses)
}

// componentService reads the Service of a component from its file.
func componentService(t *testing.T, path string) *corev1.Service {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var svc corev1.Service
	if err := yaml.UnmarshalStrict(b, &svc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if diff := cmp.Diff(leaderSelector, svc.Spec.Selector); diff != "" {
		t.Fatalf("%s: selector (-want +got):\n%s", path, diff)
	}
	return &svc
}

// TestLeaderLabelRetriesUntilAllowed: a replica that may not patch its pod (RBAC, on the real API
// server) gives up the removal at start after a few tries and starts anyway, leads and stays
// ready while its label is refused, says so in its log, and labels its pod once a Role allows
// it, without a restart.
func TestLeaderLabelRetriesUntilAllowed(t *testing.T) {
	ctx := t.Context()
	cs := env.Clientset
	ns := newNamespace(t, "leader-rbac")
	user := ns + "-controller"
	kubeconfig, _, err := env.AddUser(user, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Everything `run` needs, and no write to pods.
	everythingButPods := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"*"}},
		{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"configmaps", "events"}, Verbs: []string{"*"}},
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"selfsubjectreviews"}, Verbs: []string{"create"}},
	}}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, everythingButPods, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user}, Subjects: subjects,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user}}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cs.RbacV1().ClusterRoleBindings().Delete(ctx, user, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete ClusterRoleBinding %s: %v", user, err)
		}
		if err := cs.RbacV1().ClusterRoles().Delete(ctx, user, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete ClusterRole %s: %v", user, err)
		}
	})
	// No nodeName: nothing schedules it here, and the pod garbage collector leaves a pod that is
	// bound to no node alone.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "plumbline-a", Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "plumbline", Image: "ghcr.io/plumbline/plumbline:0.1.0"}}}}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	a := startRunWith(t, ns, "a", "--kubeconfig", kubeconfig, "--leader-label-pod=plumbline-a")
	waitUntil(t, 60*time.Second, "the replica to lead", a.leads)
	// Refused at start (the removal gives up after a few tries) and while leading (it goes on).
	for _, want := range []string{
		`"msg":"leader label: not removed","pod":"` + ns + `/plumbline-a","label":"plumbline.dev/leader","when":"start","err":"Pod/` + ns + `/plumbline-a: pods \"plumbline-a\" is forbidden: User \"` + user + `\" cannot patch resource \"pods\"`,
		`"msg":"leader label: patch failed","pod":"` + ns + `/plumbline-a","action":"set","err":"pods \"plumbline-a\" is forbidden`,
	} {
		waitUntil(t, 15*time.Second, "a log line "+want, func() bool { return strings.Contains(a.out.String(), want) })
	}
	if !a.ready() {
		t.Fatal("the leader is not ready while its label is refused")
	}
	select {
	case <-a.done:
		t.Fatalf("the controller stopped because its label was refused:\n%s", a.out.String())
	default:
	}

	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "plumbline-leader", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "patch"}}}}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "plumbline-leader", Namespace: ns}, Subjects: subjects,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "plumbline-leader"}}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The backoff doubles from 0.5s; allowed within a few seconds of the first refusal, the next
	// attempt comes within 20s.
	waitUntil(t, 20*time.Second, "the label, once allowed", func() bool {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "plumbline-a", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p.Labels[leaderLabel] == "true"
	})
}
