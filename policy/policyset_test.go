package policy

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePolicySet(t *testing.T) {
	file := "testdata/policyset-baseline/policy.yaml"
	got, err := ParsePolicySet(readFile(t, file), file)
	if err != nil {
		t.Fatal(err)
	}
	want := &PolicySet{
		Name: "baseline",
		File: file,
		Params: map[string]any{
			"allowedRegistries": []any{"registry.example.com/", "ghcr.io/acme/"},
		},
		Builtins: map[RuleID]BuiltinConfig{
			RuleRequireDigest: {Enabled: ptr(true), Severity: SeverityHigh},
		},
		Policies: []Policy{
			{
				Name:     "team-label-required",
				Severity: SeverityMedium,
				Match:    Match{Kinds: []string{"Deployment"}, Namespaces: []string{"prod-*"}},
				Validations: []Validation{{
					Expression:            "has(object.metadata.labels) && 'team' in object.metadata.labels",
					MessageExpression:     "'Deployment ' + object.metadata.name + ' has no team label'",
					ExpressionLine:        14,
					MessageExpressionLine: 15,
				}},
				Line: 10,
			},
			{
				Name:  "replicas-bounded",
				Match: Match{APIGroups: []string{"apps"}},
				Validations: []Validation{{
					Expression:     "!has(object.spec.replicas) ||\nobject.spec.replicas <= 50\n",
					Message:        "At most 50 replicas.",
					ExpressionLine: 20,
				}},
				Line: 16,
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PolicySet (-want +got):\n%s", diff)
	}
}

// TestParsePolicySetErrors: every error is "file:line: message", with the
// field where the check is Plumbline's own.
func TestParsePolicySetErrors(t *testing.T) {
	tests := []struct {
		name    string // file in testdata/policyset-errors
		wantErr string
	}{
		{"unknown-field.yaml", `unknown-field.yaml:9: unknown field "mesage"`},
		{"unknown-top-level-field.yaml", `unknown-top-level-field.yaml:4: unknown field "status"`},
		{"bad-severity.yaml", `bad-severity.yaml:6: spec.policies[0].severity: unknown severity "urgent" (want one of low, medium, high, critical)`},
		{"bad-builtin-severity.yaml", `bad-builtin-severity.yaml:5: spec.builtins.run-as-non-root.severity: unknown severity "severe" (want one of low, medium, high, critical)`},
		{"unknown-builtin.yaml", "unknown-builtin.yaml:5: spec.builtins.disallow-latest-tags: unknown built-in rule (known: disallow-latest-tag, " +
			"restrict-registries, require-digest, run-as-non-root, disallow-privileged, require-resource-limits, require-read-only-root-fs, disallow-host-namespaces-and-paths, block-vulnerabilities, image-runs-as-root)"},
		{"wrong-type-enabled.yaml", `wrong-type-enabled.yaml:5: want true or false, got str "no"`},
		{"wrong-type-kinds.yaml", "wrong-type-kinds.yaml:6: want a list, got str Deployment"},
		{"wrong-type-allowed-registries.yaml", "wrong-type-allowed-registries.yaml:5: want a list, got str ghcr.io..."},
		{"wrong-kind.yaml", `wrong-kind.yaml:1: want apiVersion plumbline.dev/v1alpha1 and kind PolicySet, got "v1" and "ConfigMap"`},
		{"duplicate-policy.yaml", `duplicate-policy.yaml:7: spec.policies[1].name: policy "p" is already defined at line 5`},
		{"duplicate-key.yaml", `duplicate-key.yaml:6: mapping key "name" already defined at line 5`},
		{"policy-named-like-builtin.yaml", `policy-named-like-builtin.yaml:5: spec.policies[0].name: "run-as-non-root" is the id of a built-in rule; pick another name`},
		{"no-validations.yaml", "no-validations.yaml:5: spec.policies[0].validations: a policy needs at least one validation"},
		{"bad-namespace-glob.yaml", `bad-namespace-glob.yaml:6: spec.policies[0].match.namespaces[0]: bad namespace pattern "prod-[a-": syntax error in pattern`},
		{"yaml-syntax.yaml", "yaml-syntax.yaml:3: did not find expected key"},
		{"two-documents.yaml", "two-documents.yaml:4: more than one YAML document; a policy file holds one PolicySet"},
		{"empty.yaml", "empty.yaml: empty policy file"},
		{"wrong-type-expression.yaml", "wrong-type-expression.yaml:6: want a string, got a mapping"},
		{"bad-registry-prefix.yaml", `bad-registry-prefix.yaml:7: spec.params.allowedRegistries[1]: "https://ghcr.io/acme": write a registry host and optional path, without a scheme`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := readFile(t, filepath.Join("testdata/policyset-errors", tc.name))
			ps, err := ParsePolicySet(data, tc.name)
			if err == nil {
				t.Fatalf("ParsePolicySet succeeded: %+v", ps)
			}
			if diff := cmp.Diff(tc.wantErr, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParsePolicySetAliases: anchors and merge keys work, and an alias bomb
// is cut off by yaml.v3's aliasing limit instead of expanding.
func TestParsePolicySetAliases(t *testing.T) {
	ok := `
apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
spec:
  params:
    shared: &regs ["ghcr.io/acme/"]
    allowedRegistries: *regs
  policies:
  - name: a
    match: &m {kinds: [Pod]}
    validations: [{expression: "true"}]
  - name: b
    match: *m
    validations: [{expression: "true"}]
  - &base
    name: c
    validations: [{expression: "1 == 1"}]
  - <<: *base
    name: d
`
	ps, err := ParsePolicySet([]byte(ok), "anchors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ps.Policies[0].Match, ps.Policies[1].Match); diff != "" {
		t.Errorf("aliased match differs (-a +b):\n%s", diff)
	}
	if got := ps.Policies[3]; got.Name != "d" || len(got.Validations) != 1 || got.Validations[0].Expression != "1 == 1" {
		t.Errorf("merged policy = %+v, want d with the validation of c", got)
	}
	if diff := cmp.Diff([]any{"ghcr.io/acme/"}, ps.Params["allowedRegistries"]); diff != "" {
		t.Errorf("aliased params (-want +got):\n%s", diff)
	}

	bomb := "apiVersion: plumbline.dev/v1alpha1\nkind: PolicySet\nspec:\n  params:\n    a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 9; i++ {
		bomb += "    a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [*a" + string(rune('0'+i-1)) +
			", *a" + string(rune('0'+i-1)) + ", *a" + string(rune('0'+i-1)) + ", *a" + string(rune('0'+i-1)) +
			", *a" + string(rune('0'+i-1)) + ", *a" + string(rune('0'+i-1)) + ", *a" + string(rune('0'+i-1)) +
			", *a" + string(rune('0'+i-1)) + ", *a" + string(rune('0'+i-1)) + ", *a" + string(rune('0'+i-1)) + "]\n"
	}
	_, err = ParsePolicySet([]byte(bomb), "bomb.yaml")
	if err == nil || err.Error() != "bomb.yaml: document contains excessive aliasing" {
		t.Fatalf("alias bomb: err = %v, want yaml.v3's aliasing error naming the file", err)
	}
}

// TestParsePolicySetParamsTypes: params keep JSON-like types, timestamps stay
// the strings they were written as.
func TestParsePolicySetParamsTypes(t *testing.T) {
	ps, err := ParsePolicySet([]byte(`
apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
spec:
  params:
    count: 3
    ratio: 0.5
    on: true
    none: null
    since: 2024-01-02
    nested: {list: [1, "two"]}
`), "params.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"count": int64(3), "ratio": 0.5, "on": true, "none": nil, "since": "2024-01-02",
		"nested": map[string]any{"list": []any{int64(1), "two"}},
	}
	if diff := cmp.Diff(want, ps.Params); diff != "" {
		t.Errorf("params (-want +got):\n%s", diff)
	}
}
