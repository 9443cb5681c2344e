package policy

import (
	"path"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// matches reports whether m selects obj. See Match for the semantics.
func (m *Match) matches(obj *unstructured.Unstructured) bool {
	if len(m.Kinds) > 0 && !contains(m.Kinds, "*") && !contains(m.Kinds, obj.GetKind()) {
		return false
	}
	if len(m.APIGroups) > 0 && !contains(m.APIGroups, "*") {
		gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
		if err != nil || !contains(m.APIGroups, gv.Group) {
			return false
		}
	}
	if len(m.Namespaces) == 0 {
		return true
	}
	ns := obj.GetNamespace()
	if ns == "" {
		return false
	}
	for _, p := range m.Namespaces {
		// Patterns were checked by ParsePolicySet or NewEngine, so Match
		// reports no error here.
		if ok, _ := path.Match(p, ns); ok {
			return true
		}
	}
	return false
}
