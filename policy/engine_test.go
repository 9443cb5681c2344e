package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const latestPod = `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  securityContext: {runAsNonRoot: true}
  containers:
  - name: nginx
    image: nginx:latest
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
    resources: {limits: {memory: 64Mi, cpu: 100m}}`

// TestMissionExample is the example of the mission: an edit sets
// nginx:latest and the report says
// "Policy Violation: Use of 'latest' tag is disallowed. [disallow-latest-tag, high]".
func TestMissionExample(t *testing.T) {
	engine, err := NewEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := engine.Evaluate(context.Background(), Input{Object: mustObject(t, latestPod)})
	if err != nil {
		t.Fatal(err)
	}
	want := []Violation{{
		Rule: RuleDisallowLatestTag, Severity: SeverityHigh, Message: "Use of 'latest' tag is disallowed.",
		Container: "nginx", Path: `.spec.containers[name="nginx"].image`, Builtin: true,
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}

// TestBuiltinOverrides: spec.builtins re-grades, enables and disables
// built-ins, and params reach restrict-registries.
func TestBuiltinOverrides(t *testing.T) {
	type ruleSev struct {
		Rule     RuleID
		Severity Severity
	}
	tests := []struct {
		name     string
		builtins string
		params   string
		want     []ruleSev
	}{
		{name: "defaults", want: []ruleSev{{RuleDisallowLatestTag, SeverityHigh}}},
		{name: "re-grade", builtins: `{disallow-latest-tag: {severity: critical}}`,
			want: []ruleSev{{RuleDisallowLatestTag, SeverityCritical}}},
		{name: "disable", builtins: `{disallow-latest-tag: {enabled: false}}`},
		{name: "enable require-digest with its default severity", builtins: `{require-digest: {enabled: true}}`,
			want: []ruleSev{{RuleDisallowLatestTag, SeverityHigh}, {RuleRequireDigest, SeverityMedium}}},
		{name: "enable and re-grade require-digest", builtins: `{require-digest: {enabled: true, severity: low}}`,
			want: []ruleSev{{RuleDisallowLatestTag, SeverityHigh}, {RuleRequireDigest, SeverityLow}}},
		{name: "re-grading does not enable", builtins: `{require-digest: {severity: high}}`,
			want: []ruleSev{{RuleDisallowLatestTag, SeverityHigh}}},
		{name: "params reach restrict-registries", params: `{allowedRegistries: ["ghcr.io/acme/"]}`,
			want: []ruleSev{{RuleDisallowLatestTag, SeverityHigh}, {RuleRestrictRegistries, SeverityHigh}}},
		{name: "docker hub allowed", params: `{allowedRegistries: ["docker.io/library/"]}`,
			want: []ruleSev{{RuleDisallowLatestTag, SeverityHigh}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := "apiVersion: plumbline.dev/v1alpha1\nkind: PolicySet\nspec:\n"
			if tc.builtins != "" {
				file += "  builtins: " + tc.builtins + "\n"
			}
			if tc.params != "" {
				file += "  params: " + tc.params + "\n"
			}
			got, err := mustEngine(t, file).Evaluate(context.Background(), Input{Object: mustObject(t, latestPod)})
			if err != nil {
				t.Fatal(err)
			}
			var gotRules []ruleSev
			for _, v := range got {
				gotRules = append(gotRules, ruleSev{v.Rule, v.Severity})
			}
			if diff := cmp.Diff(tc.want, gotRules); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEvaluationErrorKeepsOtherResults: a broken policy is an error, and
// the built-ins and the other policies still report.
func TestEvaluationErrorKeepsOtherResults(t *testing.T) {
	engine := mustEngine(t, `
apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
spec:
  policies:
  - name: broken
    validations: [{expression: "object.spec.nodeName == 'x'"}]
  - name: working
    validations: [{expression: "false", message: still here}]
`)
	got, err := engine.Evaluate(context.Background(), Input{Object: mustObject(t, latestPod)})
	if err == nil || !strings.Contains(err.Error(), `Pod/shop/web: policy "broken"`) {
		t.Fatalf("err = %v, want the broken policy's error", err)
	}
	want := []Violation{
		{Rule: RuleDisallowLatestTag, Severity: SeverityHigh, Message: "Use of 'latest' tag is disallowed.",
			Container: "nginx", Path: `.spec.containers[name="nginx"].image`, Builtin: true},
		{Rule: "working", Severity: SeverityMedium, Message: "still here"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}

// TestNewEngineChecksHandBuiltSets: a PolicySet built in Go gets the same
// checks as a parsed one.
func TestNewEngineChecksHandBuiltSets(t *testing.T) {
	tests := []struct {
		name    string
		ps      PolicySet
		wantErr string
	}{
		{"unknown builtin", PolicySet{File: "f", Builtins: map[RuleID]BuiltinConfig{"nope": {}}},
			"f: spec.builtins.nope: unknown built-in rule"},
		{"bad builtin severity", PolicySet{File: "f", Builtins: map[RuleID]BuiltinConfig{RuleRunAsNonRoot: {Severity: "urgent"}}},
			`f: spec.builtins.run-as-non-root.severity: unknown severity "urgent"`},
		{"bad allowedRegistries", PolicySet{File: "f", Params: map[string]any{"allowedRegistries": []any{"nginx"}}},
			`f: spec.params.allowedRegistries[0]: "nginx" does not start with a registry host`},
		{"bad policy severity", PolicySet{Policies: []Policy{{Name: "p", Severity: "x", Validations: []Validation{{Expression: "true"}}}}},
			`<policy>: spec.policies[0].severity: unknown severity "x"`},
		{"duplicate policy", PolicySet{Policies: []Policy{
			{Name: "p", Validations: []Validation{{Expression: "true"}}},
			{Name: "p", Validations: []Validation{{Expression: "true"}}}}},
			`<policy>: spec.policies[1].name: policy "p" is defined twice`},
		{"no validations", PolicySet{Policies: []Policy{{Name: "p"}}},
			"<policy>: spec.policies[0].validations: a policy needs at least one validation"},
		{"bad glob", PolicySet{Policies: []Policy{{Name: "p", Match: Match{Namespaces: []string{"["}}, Validations: []Validation{{Expression: "true"}}}}},
			`<policy>: spec.policies[0].match.namespaces: bad namespace pattern "["`},
		{"compile error without a line", PolicySet{Policies: []Policy{{Name: "p", Validations: []Validation{{Expression: "1 +"}}}}},
			`<policy>: policy "p": validations[0].expression "1 +": at 1:4: Syntax error`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEngine(&tc.ps)
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want prefix %q", err, tc.wantErr)
			}
		})
	}
}

func TestEngineRules(t *testing.T) {
	engine := mustEngine(t, `
apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
spec:
  builtins: {require-digest: {enabled: true, severity: high}, run-as-non-root: {enabled: false}}
  policies:
  - name: team-label
    severity: low
    validations: [{expression: "true"}]
`)
	type row struct {
		ID       RuleID
		Severity Severity
		Enabled  bool
		Builtin  bool
	}
	var got []row
	for _, r := range engine.Rules() {
		got = append(got, row{r.ID, r.Severity, r.Enabled, r.Builtin})
	}
	want := []row{
		{RuleDisallowLatestTag, SeverityHigh, true, true},
		{RuleRestrictRegistries, SeverityHigh, true, true},
		{RuleRequireDigest, SeverityHigh, true, true},
		{RuleRunAsNonRoot, SeverityHigh, false, true},
		{RuleDisallowPrivileged, SeverityCritical, true, true},
		{RuleRequireResourceLimits, SeverityMedium, true, true},
		{RuleRequireReadOnlyRootFS, SeverityMedium, true, true},
		{RuleDisallowHostNamespaces, SeverityHigh, true, true},
		{RuleBlockVulnerabilities, SeverityHigh, true, true},
		{RuleImageRunsAsRoot, SeverityHigh, true, true},
		{"team-label", SeverityLow, true, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Rules (-want +got):\n%s", diff)
	}
}

// TestBuiltinsDocumented: every built-in carries the metadata the CLI and
// README print.
func TestBuiltinsDocumented(t *testing.T) {
	seen := map[RuleID]bool{}
	for _, r := range Builtins() {
		if seen[r.ID] {
			t.Errorf("%s listed twice", r.ID)
		}
		seen[r.ID] = true
		if !r.Builtin || !r.Severity.Valid() || r.Description == "" || r.Fix == "" {
			t.Errorf("%s: incomplete metadata %+v", r.ID, r)
		}
		if r.Enabled == (r.ID == RuleRequireDigest) {
			t.Errorf("%s: Enabled = %v; only require-digest is off by default", r.ID, r.Enabled)
		}
	}
	if len(seen) != 10 {
		t.Errorf("got %d built-ins, want 10", len(seen))
	}
}

func TestEvaluateNilObject(t *testing.T) {
	engine, err := NewEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Evaluate(context.Background(), Input{}); err == nil {
		t.Fatal("Evaluate(Input{}) succeeded, want an error")
	}
}

func TestWorkloadKinds(t *testing.T) {
	want := []string{"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "PodTemplate", "ReplicaSet", "ReplicationController", "StatefulSet"}
	if diff := cmp.Diff(want, WorkloadKinds()); diff != "" {
		t.Errorf("WorkloadKinds (-want +got):\n%s", diff)
	}
}

// TestEvaluateConcurrent: one Engine serves many goroutines (run with
// -race); results, errors included, do not depend on the shared reference
// cache's state.
func TestEvaluateConcurrent(t *testing.T) {
	engine := mustEngine(t, benchPolicy)
	var objs []*unstructured.Unstructured
	for _, o := range []string{latestPod, deploymentProd, cronJob, statefulSet, configMap} {
		objs = append(objs, mustObject(t, o))
	}
	type result struct {
		Violations []Violation
		Err        string
	}
	run := func(obj *unstructured.Unstructured) result {
		vs, err := engine.Evaluate(context.Background(), Input{Object: obj})
		r := result{Violations: vs}
		if err != nil {
			r.Err = err.Error()
		}
		return r
	}
	want := make([]result, len(objs))
	for i, o := range objs {
		want[i] = run(o)
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for round := 0; round < 20; round++ {
				for i, o := range objs {
					if diff := cmp.Diff(want[i], run(o)); diff != "" {
						errs <- fmt.Errorf("object %d (-want +got):\n%s", i, diff)
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
