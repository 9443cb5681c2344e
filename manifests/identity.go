package manifests

import (
	"cmp"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
)

// ID identifies a Kubernetes object: its group, version, kind, namespace and name. Group is
// "" for the core group; Namespace is "" for cluster-scoped objects and for namespaced
// objects that Git leaves to a default namespace.
type ID struct {
	Group, Version, Kind, Namespace, Name string
}

// IDOf returns the identity of u, read from apiVersion, kind, metadata.namespace and
// metadata.name. A nil u yields the zero ID.
func IDOf(u *unstructured.Unstructured) ID {
	if u == nil {
		return ID{}
	}
	gvk := u.GroupVersionKind()
	return ID{
		Group:     gvk.Group,
		Version:   gvk.Version,
		Kind:      gvk.Kind,
		Namespace: u.GetNamespace(),
		Name:      u.GetName(),
	}
}

// String reads "Kind/namespace/name", preceded by "group/" for objects outside the core group
// and without "namespace/" when the namespace is empty:
//
//	Deployment in apps, namespace default:  apps/Deployment/default/nginx-deployment
//	Service in the core group:              Service/default/web
//	ClusterRole (cluster-scoped):           rbac.authorization.k8s.io/ClusterRole/admin
//
// The version is left out: one object read through two versions is still one object. Kinds
// start with an upper-case letter and groups do not, so the form is unambiguous.
func (id ID) String() string {
	var b strings.Builder
	if id.Group != "" {
		b.WriteString(id.Group)
		b.WriteByte('/')
	}
	b.WriteString(id.Kind)
	b.WriteByte('/')
	if id.Namespace != "" {
		b.WriteString(id.Namespace)
		b.WriteByte('/')
	}
	b.WriteString(id.Name)
	return b.String()
}

// sameObject reports whether a and b name the same object, whatever version they use.
func sameObject(a, b ID) bool {
	return a.Group == b.Group && a.Kind == b.Kind && a.Namespace == b.Namespace && a.Name == b.Name
}

// compareIDs orders by group, kind, namespace, name, then version.
func compareIDs(a, b ID) int {
	return cmp.Or(
		cmp.Compare(a.Group, b.Group),
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Namespace, b.Namespace),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Version, b.Version),
	)
}

// checkNames rejects an identity whose name or namespace no Kubernetes API server would
// accept, before it reaches a report, a path or a request: a name longer than 253
// characters, or one that is "." or ".." or holds "/" or "%" (apimachinery's path segment
// rule, the loosest rule of any built-in kind), and a namespace that is not a DNS label.
// Stricter per-kind rules are the API server's to apply.
func checkNames(id ID) error {
	if n := len(id.Name); n > utilvalidation.DNS1123SubdomainMaxLength {
		return fmt.Errorf("%s name of %d characters is longer than the %d Kubernetes allows", id.Kind, n, utilvalidation.DNS1123SubdomainMaxLength)
	}
	if errs := path.ValidatePathSegmentName(id.Name, false); len(errs) > 0 {
		return fmt.Errorf("%s name %q is not a valid Kubernetes name: %s", id.Kind, id.Name, strings.Join(errs, "; "))
	}
	if id.Namespace == "" {
		return nil
	}
	if n := len(id.Namespace); n > utilvalidation.DNS1123LabelMaxLength {
		return fmt.Errorf("%s namespace of %d characters is longer than the %d Kubernetes allows", id.Kind, n, utilvalidation.DNS1123LabelMaxLength)
	}
	if errs := validation.ValidateNamespaceName(id.Namespace, false); len(errs) > 0 {
		return fmt.Errorf("%s namespace %q is not a valid Kubernetes namespace: %s", id.Kind, id.Namespace, strings.Join(errs, "; "))
	}
	return nil
}
