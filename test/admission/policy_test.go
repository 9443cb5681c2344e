package admission

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/test/vapeval"
)

func renderRules(t *testing.T, ns string, actions []admv1.ValidationAction, policyFile string) *policy.Admission {
	t.Helper()
	var ps *policy.PolicySet
	if policyFile != "" {
		var err error
		if ps, err = policy.ParsePolicySet([]byte(policyFile), "policy.yaml"); err != nil {
			t.Fatal(err)
		}
	}
	engine, err := policy.NewEngine(ps)
	if err != nil {
		t.Fatal(err)
	}
	set, err := reconciler.RenderAdmission(engine, reconciler.AdmissionSpec{
		Source: sourceKey(ns), Actions: actions, Rules: true, NamespaceOf: oneNamespace(ns),
		Objects: []*unstructured.Unstructured{{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "x", "namespace": ns}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

const compliantPod = `apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  securityContext: {runAsNonRoot: true}
  containers:
  - name: app
    image: registry.example.com/team/app:1.2.3
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsUser: 1000%s}
    resources: {limits: {memory: 128Mi}, requests: {cpu: 100m, memory: 64Mi}}
`

// TestPolicyRefusesPrivilegedPod: with the baseline in deny, kubectl apply of a privileged pod
// is refused with the rule's message and severity; a pod that keeps every rule is created.
func TestPolicyRefusesPrivilegedPod(t *testing.T) {
	ctx := context.Background()
	ns, err := env.NewNamespace(ctx, "policy")
	if err != nil {
		t.Fatal(err)
	}
	applySet(t, renderRules(t, ns, []admv1.ValidationAction{admv1.Deny}, ""))
	dir := t.TempDir()
	privileged := filepath.Join(dir, "privileged.yaml")
	allowed := filepath.Join(dir, "allowed.yaml")
	// The API forbids privileged with allowPrivilegeEscalation false, so the privileged pod
	// leaves escalation unset.
	bad := strings.Replace(fmt.Sprintf(compliantPod, "privileged", ""), "allowPrivilegeEscalation: false", "privileged: true", 1)
	if err := os.WriteFile(privileged, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(allowed, fmt.Appendf(nil, compliantPod, "allowed", ""), 0o644); err != nil {
		t.Fatal(err)
	}
	want := "container 'app': Privileged containers are disallowed. [disallow-privileged, critical]"
	var stderr string
	eventually(t, "the policy refuses the privileged pod", func() bool {
		_, stderr, err = kubectl(t, "-n", ns, "apply", "--dry-run=server", "-f", privileged)
		return err != nil
	})
	if _, stderr, err = kubectl(t, "-n", ns, "apply", "-f", privileged); err == nil || !contains(stderr, want) {
		t.Fatalf("kubectl apply of a privileged pod: err %v, stderr %q, want refused with %q", err, stderr, want)
	}
	if _, stderr, err := kubectl(t, "-n", ns, "apply", "-f", allowed); err != nil {
		t.Fatalf("kubectl apply of a compliant pod: %v: %s", err, stderr)
	}
	if _, err := env.Clientset.CoreV1().Pods(ns).Get(ctx, "allowed", metav1.GetOptions{}); err != nil {
		t.Fatalf("the compliant pod was not created: %v", err)
	}
	// Another namespace is not bound.
	other, err := env.NewNamespace(ctx, "unbound")
	if err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := kubectl(t, "-n", other, "apply", "--dry-run=server", "-f", privileged); err != nil {
		t.Fatalf("the policy reached a namespace the Source does not declare: %v: %s", err, stderr)
	}
}

// TestServerAgreesWithInProcess: a sample of pods, dry-run created on the real API server with
// the rules bound in warn, get exactly the warnings that the in-process evaluation
// (test/vapeval, which the policy package runs on the whole oracle) gives: the two run the same
// machinery.
func TestServerAgreesWithInProcess(t *testing.T) {
	ctx := context.Background()
	ns, err := env.NewNamespace(ctx, "sample")
	if err != nil {
		t.Fatal(err)
	}
	set := renderRules(t, ns, []admv1.ValidationAction{admv1.Warn}, `
apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
metadata: {name: sample}
spec:
  params: {allowedRegistries: ["registry.example.com"]}
  builtins: {require-digest: {enabled: true}}
  policies:
  - name: team-label
    match: {kinds: [Pod]}
    validations:
    - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
      messageExpression: "'pod ' + object.metadata.name + ' names no team'"
`)
	applySet(t, set)
	var ps []admv1.ValidatingAdmissionPolicy
	var bs []admv1.ValidatingAdmissionPolicyBinding
	for _, p := range set.Policies {
		ps = append(ps, p.Policy)
		bs = append(bs, p.Binding)
	}
	eval, err := vapeval.New(ps, bs, ns)
	if err != nil {
		t.Fatal(err)
	}
	defer eval.Close()
	rec := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = rec
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the default service account exists", func() bool {
		_, err := env.Clientset.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
	pods := samplePods()
	inProcess := func(pod *corev1.Pod) []string {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pod)
		if err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{Object: m}
		obj.SetAPIVersion("v1")
		obj.SetKind("Pod")
		res := eval.Admit(ctx, vapeval.Request{Operation: admission.Create, Object: obj, Namespace: ns, Name: pod.Name,
			Kind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, Resource: schema.GroupVersionResource{Version: "v1", Resource: "pods"}})
		if res.Err != nil {
			t.Fatalf("pod %s in-process: %v", pod.Name, res.Err)
		}
		out := serverTruncation(res.Warnings)
		slices.Sort(out)
		return out
	}
	// The server loads policies one by one: wait until a pod that breaks every policy hears
	// from all of them.
	probe := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
		Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}
	eventually(t, "every policy is in force", func() bool {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatal(err)
		}
		got := rec.take()
		slices.Sort(got)
		return len(got) == len(set.Policies) && slices.Equal(got, inProcess(probe))
	})
	denied := 0
	for i, pod := range pods {
		pod.Namespace = ns
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatalf("pod %d: %v", i, err)
		}
		server := rec.take()
		slices.Sort(server)
		if diff := cmp.Diff(inProcess(pod), server); diff != "" {
			t.Errorf("pod %d: warnings (-in-process +server):\n%s", i, diff)
		}
		if len(server) > 0 {
			denied++
		}
	}
	if denied == 0 || denied == len(pods) {
		t.Fatalf("%d of %d sample pods break a rule: the sample proves nothing", denied, len(pods))
	}
	t.Logf("%d sample pods, %d break rules", len(pods), denied)
}

// samplePods varies the fields every built-in reads, a few at a time.
func samplePods() []*corev1.Pod {
	var out []*corev1.Pod
	images := []string{"registry.example.com/team/app:1.2.3", "nginx", "nginx:latest", "registry.example.com/team/app@sha256:" +
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "evil.io/app:1", "Bad:Ref"}
	tri := []*bool{nil, ptr(true), ptr(false)}
	n := 0
	for _, img := range images {
		for _, nonRoot := range tri {
			for _, esc := range tri {
				for _, ro := range []*bool{nil, ptr(true)} {
					n++
					sc := &corev1.SecurityContext{RunAsNonRoot: nonRoot, AllowPrivilegeEscalation: esc, ReadOnlyRootFilesystem: ro}
					if n%5 == 0 {
						sc.RunAsUser = ptr(int64(0))
					}
					c := corev1.Container{Name: "app", Image: img, SecurityContext: sc}
					if n%3 != 0 {
						c.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": mustQuantity("128Mi"), "cpu": mustQuantity("1")}}
					}
					spec := corev1.PodSpec{Containers: []corev1.Container{c}, HostNetwork: n%7 == 0, HostPID: n%11 == 0}
					if n%13 == 0 {
						spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
					}
					labels := map[string]string{}
					if n%2 == 0 {
						labels["team"] = "shop"
					}
					out = append(out, &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
						ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", n), Labels: labels}, Spec: spec})
				}
			}
		}
	}
	// And one that keeps every rule.
	out = append(out, &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "compliant", Labels: map[string]string{"team": "shop"}},
		Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr(true)}, Containers: []corev1.Container{{
			Name: "app", Image: images[3],
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true)},
			Resources:       corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": mustQuantity("128Mi"), "cpu": mustQuantity("1")}},
		}}}})
	return out
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// serverTruncation applies what kube-apiserver does to the warnings of one response (a total of
// 4,096 runes; past it each warning is cut to 256 runes and those beyond the total dropped),
// so that in-process warnings compare with what a client receives.
func serverTruncation(ws []string) []string {
	const total, item = 4 * 1024, 256
	n := 0
	for _, w := range ws {
		n += len([]rune(w))
	}
	if n <= total {
		return slices.Clone(ws)
	}
	var out []string
	n = 0
	for _, w := range ws {
		if n >= total {
			break
		}
		r := []rune(w)
		if len(r) > item {
			r = r[:item]
		}
		out = append(out, string(r))
		n += len(r)
	}
	return out
}
