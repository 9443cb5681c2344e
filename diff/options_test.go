package diff

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestIgnoreRuleValidate(t *testing.T) {
	tests := []struct {
		name    string
		rule    IgnoreRule
		wantErr string
	}{
		{name: "paths only", rule: IgnoreRule{Paths: []string{".spec.replicas"}}},
		{
			name: "every selector",
			rule: IgnoreRule{
				Kinds: []string{"Deployment"}, Namespaces: []string{"prod-*"}, Names: []string{"web", "api-?"},
				Selector: &metav1.LabelSelector{
					MatchLabels:      map[string]string{"app.kubernetes.io/part-of": "shop"},
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"web"}}},
				},
				Paths: []string{".spec.template.spec.containers[*].resources", `.metadata.annotations`},
			},
		},
		{name: "no paths", rule: IgnoreRule{Kinds: []string{"Deployment"}}, wantErr: "ignore rule: no paths"},
		{name: "empty paths", rule: IgnoreRule{Paths: []string{}}, wantErr: "ignore rule: no paths"},
		{
			name:    "path without a leading dot",
			rule:    IgnoreRule{Paths: []string{".spec.paused", "spec.replicas"}},
			wantErr: `ignore rule: path "spec.replicas" must start with '.', e.g. .spec.replicas`,
		},
		{
			name:    "empty path",
			rule:    IgnoreRule{Paths: []string{""}},
			wantErr: `ignore rule: path "" must start with '.', e.g. .spec.replicas`,
		},
		{
			name:    "unterminated bracket",
			rule:    IgnoreRule{Paths: []string{`.spec.template.spec.containers[name="nginx"`}},
			wantErr: `ignore rule: path ".spec.template.spec.containers[name=\"nginx\"": unterminated '['`,
		},
		{
			name:    "empty field name",
			rule:    IgnoreRule{Paths: []string{".spec..replicas"}},
			wantErr: `ignore rule: path ".spec..replicas": empty field name`,
		},
		{
			name:    "invalid namespace glob",
			rule:    IgnoreRule{Namespaces: []string{"prod-[a-"}, Paths: []string{".spec.replicas"}},
			wantErr: `ignore rule: pattern "prod-[a-": syntax error in pattern`,
		},
		{
			name:    "invalid name glob",
			rule:    IgnoreRule{Names: []string{"web", "api\\"}, Paths: []string{".spec.replicas"}},
			wantErr: `ignore rule: pattern "api\\": syntax error in pattern`,
		},
		{
			name: "invalid selector operator",
			rule: IgnoreRule{
				Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Has"}}},
				Paths:    []string{".spec.replicas"},
			},
			wantErr: `ignore rule: selector: "Has" is not a valid label selector operator`,
		},
		{
			name: "invalid selector label value",
			rule: IgnoreRule{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web shop"}},
				Paths:    []string{".spec.replicas"},
			},
			wantErr: `ignore rule: selector: values[0][app]: Invalid value: "web shop": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rule.Validate()
			if d := cmp.Diff(tt.wantErr, errString(err)); d != "" {
				t.Errorf("Validate() error (-want +got):\n%s", d)
			}
		})
	}
}

func TestIgnoreRuleSelects(t *testing.T) {
	web := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata": map[string]any{
			"name":      "web",
			"namespace": "prod-eu",
			"labels":    map[string]any{"app": "web", "tier": "frontend"},
		},
	}}
	tests := []struct {
		name string
		rule IgnoreRule
		want bool
	}{
		{name: "no selectors select everything", rule: IgnoreRule{}, want: true},
		{name: "kind", rule: IgnoreRule{Kinds: []string{"StatefulSet", "Deployment"}}, want: true},
		{name: "another kind", rule: IgnoreRule{Kinds: []string{"StatefulSet"}}, want: false},
		{name: "kind is matched exactly", rule: IgnoreRule{Kinds: []string{"deployment"}}, want: false},
		{name: "namespace glob", rule: IgnoreRule{Namespaces: []string{"prod-*"}}, want: true},
		{name: "namespace glob of another", rule: IgnoreRule{Namespaces: []string{"staging-*", "prod"}}, want: false},
		{name: "name glob", rule: IgnoreRule{Names: []string{"w?b"}}, want: true},
		{name: "name glob of another", rule: IgnoreRule{Names: []string{"web-*"}}, want: false},
		{name: "matching labels", rule: IgnoreRule{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "frontend"}}}, want: true},
		{name: "other labels", rule: IgnoreRule{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "backend"}}}, want: false},
		{
			name: "label expression",
			rule: IgnoreRule{Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"api", "web"}},
				{Key: "canary", Operator: metav1.LabelSelectorOpDoesNotExist},
			}}},
			want: true,
		},
		{
			name: "label expression that fails",
			rule: IgnoreRule{Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"web"}},
			}}},
			want: false,
		},
		{
			name: "every selector must hold",
			rule: IgnoreRule{
				Kinds: []string{"Deployment"}, Namespaces: []string{"prod-*"}, Names: []string{"web"},
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "backend"}},
			},
			want: false,
		},
		{
			name: "every selector holds",
			rule: IgnoreRule{
				Kinds: []string{"Deployment"}, Namespaces: []string{"prod-*"}, Names: []string{"web"},
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "frontend"}},
			},
			want: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rule := tt.rule
			rule.Paths = []string{".spec.replicas"}
			if err := rule.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := rule.selects(web); got != tt.want {
				t.Errorf("selects(Deployment prod-eu/web) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIgnoredPaths(t *testing.T) {
	web := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "prod"},
	}}
	rules := []IgnoreRule{
		{Kinds: []string{"Deployment"}, Paths: []string{".spec.replicas"}},
		{Kinds: []string{"Service"}, Paths: []string{".spec.clusterIP"}},
		{Namespaces: []string{"prod"}, Paths: []string{".metadata.annotations", ".spec.template.metadata.annotations"}},
	}
	for i := range rules {
		if err := rules[i].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{".spec.replicas", ".metadata.annotations", ".spec.template.metadata.annotations"}
	if d := cmp.Diff(want, ignoredPaths(rules, web)); d != "" {
		t.Errorf("ignoredPaths (-want +got):\n%s", d)
	}
}

func TestNewValidatesRules(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "defaults", opts: DefaultOptions()},
		{name: "valid rules", opts: Options{Ignore: []IgnoreRule{{Paths: []string{".spec.replicas"}}}}},
		{
			name:    "the invalid rule is numbered from one",
			opts:    Options{Ignore: []IgnoreRule{{Paths: []string{".spec.replicas"}}, {Kinds: []string{"Deployment"}}}},
			wantErr: "rule 2: ignore rule: no paths",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(nil, tt.opts)
			if diff := cmp.Diff(tt.wantErr, errString(err)); diff != "" {
				t.Fatalf("New error (-want +got):\n%s", diff)
			}
			if err == nil && d == nil {
				t.Error("New returned a nil Differ and no error")
			}
		})
	}
}

func TestDefaultOptions(t *testing.T) {
	want := Options{
		InteractiveManagers: []string{"kubectl*", "k9s", "Mozilla*"},
		FieldManager:        "plumbline",
		ApplyManagers:       []string{"kustomize-controller", "argocd-controller"},
	}
	if d := cmp.Diff(want, DefaultOptions(), cmp.AllowUnexported(IgnoreRule{})); d != "" {
		t.Errorf("DefaultOptions (-want +got):\n%s", d)
	}
}
