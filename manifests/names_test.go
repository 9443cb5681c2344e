package manifests

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func cmNamed(name, namespace string) string {
	ns := ""
	if namespace != "" {
		ns = fmt.Sprintf("\n  namespace: %q", namespace)
	}
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %q%s\n", name, ns)
}

// TestRenderRejectsNamesKubernetesWouldReject shows that a name or namespace no API server
// would accept is an error naming the file (and line, for plain files), in both modes, and
// whatever kustomize prefixed it with.
func TestRenderRejectsNamesKubernetesWouldReject(t *testing.T) {
	long := strings.Repeat("a", 10_000)
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"name of 10,000 characters, plain", map[string]string{"app/cm.yaml": cmNamed(long, "")},
			[]string{"app/cm.yaml:1: ConfigMap name of 10000 characters is longer than the 253 Kubernetes allows"}},
		{"path characters, plain", map[string]string{"app/cm.yaml": configMap + "---\n" + cmNamed("../../etc/passwd", "")},
			[]string{"app/cm.yaml:8: ConfigMap name \"../../etc/passwd\" is not a valid Kubernetes name", "may not contain '/'"}},
		{"dot-dot, plain", map[string]string{"app/cm.yaml": cmNamed("..", "")},
			[]string{"app/cm.yaml:1: ConfigMap name \"..\" is not a valid Kubernetes name"}},
		{"namespace with a slash, plain", map[string]string{"app/cm.yaml": cmNamed("ok", "../kube-system")},
			[]string{"app/cm.yaml:1: ConfigMap namespace \"../kube-system\" is not a valid Kubernetes namespace"}},
		{"path characters through kustomize", map[string]string{
			"app/kustomization.yaml": "resources: [cm.yaml]\nlabels:\n- pairs: {a: b}\n",
			"app/cm.yaml":            cmNamed("a/../../b", ""),
		}, []string{"app/cm.yaml", "ConfigMap name \"a/../../b\" is not a valid Kubernetes name"}},
		{"namePrefix makes the name too long", map[string]string{
			"app/kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: " + strings.Repeat("p", 200) + "-\n",
			"app/cm.yaml":            cmNamed(strings.Repeat("n", 100), ""),
		}, []string{"app/cm.yaml: ConfigMap name of 301 characters is longer than the 253 Kubernetes allows"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.files)
			_, err := Render(context.Background(), root, "app", DefaultOptions())
			wantError(t, err, nil, tt.want...)
			if len(err.Error()) > 1000 {
				t.Errorf("error is %d characters long; it must not quote a huge name", len(err.Error()))
			}
		})
	}
}

// TestRenderAcceptsNamesKubernetesAccepts keeps the check as loose as the loosest kind: RBAC
// names with colons and names of exactly 253 characters render.
func TestRenderAcceptsNamesKubernetesAccepts(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"app/role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: system:aggregate-to-edit\n",
		"app/cm.yaml":   cmNamed(strings.Repeat("a", 253), "team-a"),
	})
	objs, err := Render(context.Background(), root, "app", DefaultOptions())
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if len(objs) != 2 {
		t.Errorf("got %d objects, want 2", len(objs))
	}
}

// FuzzCheckNames checks that checkNames never panics, accepts nothing over 253 characters or
// with a slash, and accepts every DNS subdomain.
func FuzzCheckNames(f *testing.F) {
	for _, s := range []string{"web", "../../etc/passwd", "..", ".", "a%2f", "system:masters", strings.Repeat("x", 254), "a\nb", "ns/"} {
		f.Add(s, "default")
	}
	f.Fuzz(func(t *testing.T, name, namespace string) {
		err := checkNames(ID{Kind: "ConfigMap", Name: name, Namespace: namespace})
		if err == nil && (len(name) > 253 || strings.ContainsAny(name, "/%") || name == "." || name == ".." || strings.Contains(namespace, "/")) {
			t.Errorf("checkNames accepted name %q namespace %q", name, namespace)
		}
		if err != nil && namespace == "default" && len(name) <= 253 && isDNSSubdomain(name) {
			t.Errorf("checkNames rejected DNS subdomain %q: %v", name, err)
		}
	})
}

func isDNSSubdomain(s string) bool {
	if s == "" {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}
