package policy

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	admv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"

	"github.com/plumbline/plumbline/test/vapeval"
)

// vapHarness evaluates the engine's rendered policies in-process, bound with Warn so that every
// failing validation of every rule is heard (Deny stops at the first).
type vapHarness struct {
	engine *Engine
	eval   *vapeval.Evaluator
	rules  map[string]RuleID // policy name -> rule
}

func newVAPHarness(t testing.TB, engine *Engine) *vapHarness {
	t.Helper()
	adm, err := engine.Admission(AdmissionOptions{Name: "plumbline.test", Namespaces: []string{"shop"},
		Actions: []admv1.ValidationAction{admv1.Warn}})
	if err != nil {
		t.Fatal(err)
	}
	h := &vapHarness{engine: engine, rules: map[string]RuleID{}}
	var ps []admv1.ValidatingAdmissionPolicy
	var bs []admv1.ValidatingAdmissionPolicyBinding
	for _, p := range adm.Policies {
		ps = append(ps, p.Policy)
		bs = append(bs, p.Binding)
		h.rules[p.Policy.Name] = p.Rule
	}
	h.eval, err = vapeval.New(ps, bs, "shop")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.eval.Close)
	return h
}

var warningRE = regexp.MustCompile(`^Validation failed for ValidatingAdmissionPolicy '([^']+)' with binding '[^']+': (.*) \[([^,\]]+), ([a-z]+)\]$`)

// entries are a rule's findings as "container 'NAME': MESSAGE" (or MESSAGE for the pod), sorted.
type entries map[RuleID][]string

// admit runs obj as a CREATE through the rendered policies.
func (h *vapHarness) admit(t testing.TB, obj *unstructured.Unstructured) entries {
	t.Helper()
	out, err := h.admitErr(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (h *vapHarness) admitErr(obj *unstructured.Unstructured) (entries, error) {
	gv, _ := schema.ParseGroupVersion(obj.GetAPIVersion())
	res := h.eval.Admit(context.Background(), vapeval.Request{
		Operation: admission.Create, Object: obj, Namespace: obj.GetNamespace(), Name: obj.GetName(),
		Kind:     gv.WithKind(obj.GetKind()),
		Resource: gv.WithResource(workloadResources[obj.GetKind()]),
	})
	if res.Err != nil {
		return nil, fmt.Errorf("admission error with Warn bindings only: %v", res.Err)
	}
	out := entries{}
	for _, w := range res.Warnings {
		m := warningRE.FindStringSubmatch(w)
		if m == nil {
			return nil, fmt.Errorf("unexpected warning %q", w)
		}
		rule := h.rules[m[1]]
		if string(rule) != m[3] {
			return nil, fmt.Errorf("warning of policy %s names rule %s: %q", m[1], m[3], w)
		}
		if sev := h.severity(rule); string(sev) != m[4] {
			return nil, fmt.Errorf("warning of %s has severity %s, want %s", rule, m[4], sev)
		}
		out[rule] = append(out[rule], strings.Split(m[2], "; ")...)
	}
	for r := range out {
		slices.Sort(out[r])
	}
	return out, nil
}

func (h *vapHarness) severity(rule RuleID) Severity {
	for _, r := range h.engine.Rules() {
		if r.ID == rule {
			return r.Severity
		}
	}
	return ""
}

// goEntries are the Go engine's violations in the same form.
func goEntries(t testing.TB, engine *Engine, obj *unstructured.Unstructured) entries {
	t.Helper()
	vs, err := engine.Evaluate(context.Background(), Input{Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	out := entries{}
	for _, v := range vs {
		e := v.Message
		if v.Container != "" {
			e = "container '" + v.Container + "': " + v.Message
		}
		out[v.Rule] = append(out[v.Rule], e)
	}
	for r := range out {
		slices.Sort(out[r])
	}
	return out
}

// TestAdmissionMatchesBuiltinMatrix: on every case of the rule matrix, in every workload kind
// and container list, each built-in's rendered policy reports exactly the Go rule's findings,
// with its severity.
func TestAdmissionMatchesBuiltinMatrix(t *testing.T) {
	engine := mustEngine(t, matrixPolicy)
	h := newVAPHarness(t, engine)
	var objs []*unstructured.Unstructured
	for _, k := range matrixKinds {
		for _, list := range containerLists {
			for _, tc := range containerCases {
				spec := podSpecWith(list)
				if tc.mutate != nil {
					tc.mutate(targetOf(spec, list))
				}
				objs = append(objs, wrapPodSpec(k, spec))
			}
		}
		for _, tc := range podCases {
			spec := podSpecWith(listMain)
			tc.mutate(spec)
			objs = append(objs, wrapPodSpec(k, spec))
		}
	}
	violations := 0
	for i, obj := range objs {
		want := goEntries(t, engine, obj)
		violations += len(want)
		if diff := cmp.Diff(want, h.admit(t, obj)); diff != "" {
			t.Errorf("object %d (%s): admission vs Go (-go +admission):\n%s\n%v", i, obj.GetKind(), diff, obj.Object)
		}
	}
	if violations == 0 {
		t.Fatal("the matrix produced no violations: the comparison proves nothing")
	}
	t.Logf("compared %d objects, %d rules violated", len(objs), violations)
}

// TestAdmissionMatchesPodSecurityOracle: on the 43,740 specs of the Pod Security oracle,
// every built-in's rendered policy reports exactly what the Go rule reports.
func TestAdmissionMatchesPodSecurityOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("43,740 admissions")
	}
	engine := mustEngine(t, matrixPolicy)
	h := newVAPHarness(t, engine)
	var specs []*unstructured.Unstructured
	forEachPSASpec(func(spec map[string]any) {
		specs = append(specs, wrapPodSpec(matrixKinds[len(specs)%len(matrixKinds)], spec))
	})
	// The plugin and the engine are safe for concurrent use: one worker per CPU.
	var (
		mu   sync.Mutex
		bad  []string
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(specs); i = int(next.Add(1)) - 1 {
				vs, err := engine.Evaluate(context.Background(), Input{Object: specs[i]})
				want := entries{}
				for _, v := range vs {
					e := v.Message
					if v.Container != "" {
						e = "container '" + v.Container + "': " + v.Message
					}
					want[v.Rule] = append(want[v.Rule], e)
				}
				for r := range want {
					slices.Sort(want[r])
				}
				got, aerr := h.admitErr(specs[i])
				diff := cmp.Diff(want, got)
				if err != nil || aerr != nil || diff != "" {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("spec %d: %v %v (-go +admission):\n%s\n%v", i, err, aerr, diff, specs[i].Object))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for _, b := range bad[:min(len(bad), 5)] {
		t.Error(b)
	}
	if len(bad) > 0 {
		t.Fatalf("%d of %d specs disagree", len(bad), len(specs))
	}
	t.Logf("compared %d pod specs", len(specs))
}

// TestAdmissionImageReferences: the image rules' CEL parses references as the Go rules do,
// on references valid and broken in every part.
func TestAdmissionImageReferences(t *testing.T) {
	engine := mustEngine(t, matrixPolicy)
	h := newVAPHarness(t, engine)
	images := []string{
		"nginx", "nginx:latest", "nginx:1.27", "library/nginx:1", "docker.io/nginx:1", "Docker.io/nginx:1",
		"index.docker.io/nginx:1", "INDEX.DOCKER.IO/nginx", "registry.example.com/team/app:1", "registry.example.com/team/app",
		"REGISTRY.example.com/team/app:latest", "registry.example.com:5000/app:2", "localhost/app:1", "localhost:5000/app",
		"registry.example.com.evil.io/team/app:1", "registry.example.comx/team/app:1", "registry.example.com",
		"registry.example.com/", "registry.example.com/team/App:1", "registry.example.com/team/app:", "registry.example.com/team/app:-x",
		"registry.example.com/team/app:" + strings.Repeat("a", 129), "app@" + goodDigest, "app:1@" + goodDigest,
		"app@sha256:abc", "app@sha512:" + strings.Repeat("a", 128), "app@md5:" + strings.Repeat("a", 32), "app@", "@" + goodDigest,
		":1", "", " nginx", "nginx ", "a/b/c/d:1", "[::1]:5000/app:1", "reg_istry.io/app", "reg!istry.io/app", "127.0.0.1:5000/a:b",
		"registry.example.com/team/app:1@" + goodDigest + "@x", "ghcr.io/acme/x:1", "ghcr.io:/a", "ghcr.io:abc/a", "a:b/c",
		"example.com/a:b:c", "héllo.io/a", "registry.example.com/tëam/app",
	}
	for _, img := range images {
		spec := podSpecWith(listMain)
		targetOf(spec, listMain)["image"] = img
		obj := wrapPodSpec(matrixKinds[1], spec)
		if diff := cmp.Diff(goEntries(t, engine, obj), h.admit(t, obj)); diff != "" {
			t.Errorf("image %q: admission vs Go (-go +admission):\n%s", img, diff)
		}
	}
}

// TestAdmissionNotRendered: rules that need image facts, and CEL policies that read images,
// are listed with their reason and get no policy.
func TestAdmissionNotRendered(t *testing.T) {
	engine := mustEngine(t, `
apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
metadata: {name: p}
spec:
  policies:
  - name: approved-digest
    validations:
    - expression: "images.all(i, i.resolved == i.approved)"
  - name: team-label
    match: {kinds: [Deployment]}
    validations:
    - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
      message: "Every Deployment names its team."
`)
	saved := builtins
	t.Cleanup(func() { builtins = saved })
	builtins = append(slices.Clone(builtins), builtin{info: RuleInfo{ID: "needs-scan", Severity: SeverityHigh, Enabled: true,
		Builtin: true, NeedsImageFacts: true}, check: checkDigest})
	engine2, err := NewEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	adm, err := engine.Admission(AdmissionOptions{Name: "x", Namespaces: []string{"shop"}})
	if err != nil {
		t.Fatal(err)
	}
	adm2, err := engine2.Admission(AdmissionOptions{Name: "x", Namespaces: []string{"shop"}})
	if err != nil {
		t.Fatal(err)
	}
	got := append(adm.NotRendered, adm2.NotRendered...)
	var ids []string
	for _, n := range got {
		ids = append(ids, fmt.Sprintf("%s: %s", n.Rule, n.Reason))
	}
	facts := ": it needs image facts (digests, image contents) from Git or a registry, which the API server does not have"
	want := []string{
		// engine: the built-ins that look inside images, then the CEL rule that reads images.
		"block-vulnerabilities" + facts,
		"image-runs-as-root" + facts,
		"approved-digest: it reads images: approved, resolved and running digests come from Git and the registry, which the API server does not have",
		// engine2: the same built-ins, and the one added here, with no code in the translation.
		"block-vulnerabilities" + facts,
		"image-runs-as-root" + facts,
		"needs-scan" + facts,
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("not rendered (-want +got):\n%s", diff)
	}
	var rendered []RuleID
	for _, p := range adm.Policies {
		rendered = append(rendered, p.Rule)
	}
	if !slices.Contains(rendered, "team-label") || slices.Contains(rendered, "approved-digest") {
		t.Errorf("rendered %v, want team-label and not approved-digest", rendered)
	}
}
