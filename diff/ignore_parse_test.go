package diff

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const ignoreHead = "apiVersion: plumbline.dev/v1alpha1\nkind: IgnoreRules\n"

func TestParseIgnoreRules(t *testing.T) {
	in := ignoreHead + `rules:
- kinds: [Deployment]
  namespaces: ["prod-*"]
  selector:
    matchLabels: {app: nginx}
    matchExpressions: [{key: tier, operator: In, values: [web]}]
  paths: [.spec.replicas, '.spec.template.spec.containers[*].resources']
`
	got, err := ParseIgnoreRules([]byte(in), "ignore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []IgnoreRule{{
		Kinds: []string{"Deployment"}, Namespaces: []string{"prod-*"},
		Selector: &metav1.LabelSelector{
			MatchLabels:      map[string]string{"app": "nginx"},
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"web"}}},
		},
		Paths: []string{".spec.replicas", ".spec.template.spec.containers[*].resources"},
	}}
	if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(IgnoreRule{})); d != "" {
		t.Fatalf("rules (-want +got):\n%s", d)
	}
	if got[0].selector == nil {
		t.Fatal("the rule was not validated: no selector prepared")
	}
}

// TestParseIgnoreRulesErrors: every error is "file:line: message".
func TestParseIgnoreRulesErrors(t *testing.T) {
	rule := "rules:\n- paths: [.spec.replicas]\n"
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "ignore.yaml: empty file: want apiVersion, kind and rules"},
		{"wrong kind", "apiVersion: plumbline.dev/v1alpha1\nkind: PolicySet\n" + rule,
			`ignore.yaml:1: want apiVersion plumbline.dev/v1alpha1, kind IgnoreRules; got "plumbline.dev/v1alpha1", "PolicySet"`},
		{"unknown field", ignoreHead + "rules:\n- kind: [Deployment]\n  paths: [.spec.replicas]\n", `ignore.yaml:4: unknown field "kind"`},
		{"unknown selector field", ignoreHead + "rules:\n- selector: {matchLabel: {a: b}}\n  paths: [.spec.replicas]\n", `ignore.yaml:4: unknown field "matchLabel"`},
		{"duplicate key", ignoreHead + rule + "rules: []\n", `ignore.yaml:5: mapping key "rules" already defined at line 3`},
		{"number for a string", ignoreHead + "rules:\n- kinds: [7]\n  paths: [.spec.replicas]\n", `ignore.yaml:4: want a string, got int "7"`},
		{"paths not a list", ignoreHead + "rules:\n- paths: .spec.replicas\n", "ignore.yaml:4: want a list, got str .spec.r..."},
		{"no paths", ignoreHead + "rules:\n- kinds: [Deployment]\n", "ignore.yaml:4: rules[0]: ignore rule: no paths"},
		{"path without dot", ignoreHead + "rules:\n- kinds: [Deployment]\n  paths: [spec.replicas]\n",
			`ignore.yaml:4: rules[0]: ignore rule: path "spec.replicas" must start with '.', e.g. .spec.replicas`},
		{"bad selector", ignoreHead + "rules:\n- paths: [.spec]\n  selector: {matchExpressions: [{key: a, operator: Near}]}\n",
			`ignore.yaml:4: rules[0]: ignore rule: selector: "Near" is not a valid label selector operator`},
		{"syntax", ignoreHead + "rules:\n- paths: [.spec\n", "ignore.yaml:3: did not find expected ',' or ']'"},
		{"two documents", ignoreHead + rule + "---\n" + ignoreHead, "ignore.yaml:5: more than one YAML document"},
		{"alias bomb", ignoreHead + "rules:\n- &r {paths: [" + strings.Repeat(".a,", 60) + "]}\n" + strings.Repeat("- *r\n", 10000),
			"ignore.yaml: document contains excessive aliasing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := ParseIgnoreRules([]byte(tt.in), "ignore.yaml")
			var ife *IgnoreFileError
			if !errors.As(err, &ife) || rules != nil {
				t.Fatalf("got %d rules, %v; want an *IgnoreFileError and no rules", len(rules), err)
			}
			if err.Error() != tt.want {
				t.Fatalf("error:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

// FuzzParseIgnoreRules: no input panics; an error names the file and no Go type of the
// decoder; what parses is validated, with paths that split.
func FuzzParseIgnoreRules(f *testing.F) {
	f.Add([]byte(ignoreHead + "rules:\n- kinds: [Deployment]\n  selector: {matchLabels: {app: web}}\n  paths: [.spec.replicas]\n"))
	f.Add([]byte(ignoreHead + "rules:\n- paths: ['.spec.template.spec.containers[name=\"a\"].image', '.metadata.labels[*]']\n"))
	f.Add([]byte(ignoreHead + "rules:\n- &r {paths: [.a]}\n- *r\n"))
	f.Add([]byte("rules: [{paths: [.x]}]\nkind: IgnoreRules\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "ops/ignore.yaml"
		rules, err := ParseIgnoreRules(data, file)
		if err != nil {
			if rules != nil {
				t.Fatalf("rules %v with error %v", rules, err)
			}
			var ife *IgnoreFileError
			if !errors.As(err, &ife) || !strings.HasPrefix(err.Error(), file) {
				t.Fatalf("error does not name the file: %v", err)
			}
			if strings.Contains(err.Error(), "diff.") {
				t.Fatalf("error quotes the decoder's Go types: %v", err)
			}
			return
		}
		for _, r := range rules {
			if r.selector == nil || len(r.Paths) == 0 {
				t.Fatalf("unvalidated rule %+v", r)
			}
			for _, p := range r.Paths {
				if _, err := splitPath(p); err != nil {
					t.Fatalf("accepted path %q does not split: %v", p, err)
				}
			}
		}
	})
}
