package diff

import (
	"fmt"
	"path"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// Options tune a Differ.
type Options struct {
	// InteractiveManagers are glob patterns (path.Match) of field managers that are people rather
	// than controllers. A field they wrote that Git does not declare is drift. Default: kubectl*,
	// k9s, Mozilla*. An empty list turns that check off.
	InteractiveManagers []string
	// Ignore drops drifted fields by object and path. Default: none.
	Ignore []IgnoreRule
	// FieldManager is the field manager that applies Git's objects, and that dry-run applies
	// use. Default "plumbline".
	FieldManager string
	// ApplyManagers are glob patterns (path.Match) of other field managers that server-side
	// apply Git's objects (CD tools). A field FieldManager or one of them applied that Git no
	// longer declares is drift. Default: kustomize-controller (Flux), argocd-controller.
	ApplyManagers []string
	// AppliedMetadata are label and annotation keys that the appliers add to every object by
	// themselves (ownership labels); they are not fields that Git dropped. A key ending in "/"
	// stands for every key with that prefix. Default: none.
	AppliedMetadata []string
}

// DefaultOptions returns the interactive managers of a person at a terminal or a browser, no
// ignore rules, and the appliers described on Options.
func DefaultOptions() Options {
	return Options{
		InteractiveManagers: []string{"kubectl*", "k9s", "Mozilla*"},
		FieldManager:        "plumbline",
		ApplyManagers:       []string{"kustomize-controller", "argocd-controller"},
	}
}

// IgnoreRule drops the fields under Paths of the objects it selects. Empty selectors select
// every object.
type IgnoreRule struct {
	// Kinds are object kinds, e.g. Deployment (exact match).
	Kinds []string `json:"kinds,omitempty"`
	// Namespaces and Names are glob patterns (path.Match).
	Namespaces []string `json:"namespaces,omitempty"`
	Names      []string `json:"names,omitempty"`
	// Selector matches the labels of the live object (or the desired one when there is no live).
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Paths are field paths in structured-merge-diff notation; a path drops itself and everything
	// below it. `[*]` matches any list element: .spec.template.spec.containers[*].resources
	Paths []string `json:"paths"`

	selector labels.Selector
}

// Validate checks the rule and prepares it for matching. It must be called before use.
func (r *IgnoreRule) Validate() error {
	if len(r.Paths) == 0 {
		return fmt.Errorf("ignore rule: no paths")
	}
	for _, p := range r.Paths {
		if !strings.HasPrefix(p, ".") {
			return fmt.Errorf("ignore rule: path %q must start with '.', e.g. .spec.replicas", p)
		}
		if _, err := splitPath(p); err != nil {
			return fmt.Errorf("ignore rule: path %q: %w", p, err)
		}
	}
	for _, g := range append(append([]string{}, r.Namespaces...), r.Names...) {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("ignore rule: pattern %q: %w", g, err)
		}
	}
	r.selector = labels.Everything()
	if r.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(r.Selector)
		if err != nil {
			return fmt.Errorf("ignore rule: selector: %w", err)
		}
		r.selector = s
	}
	return nil
}

func (r *IgnoreRule) selects(obj *unstructured.Unstructured) bool {
	if len(r.Kinds) > 0 && !slices.Contains(r.Kinds, obj.GetKind()) {
		return false
	}
	if len(r.Namespaces) > 0 && !matchAny(r.Namespaces, obj.GetNamespace()) {
		return false
	}
	if len(r.Names) > 0 && !matchAny(r.Names, obj.GetName()) {
		return false
	}
	return r.selector == nil || r.selector.Matches(labels.Set(obj.GetLabels()))
}

// ignoredPaths returns the path patterns that apply to obj.
func ignoredPaths(rules []IgnoreRule, obj *unstructured.Unstructured) []string {
	var out []string
	for i := range rules {
		if rules[i].selects(obj) {
			out = append(out, rules[i].Paths...)
		}
	}
	return out
}

// matchAny reports whether s matches one of the glob patterns.
func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}
