package manifests

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAggregateMatchesKustomize: for kustomizations that only list resources, reading the files
// directly gives exactly what kustomize builds: the same objects, values and source files.
func TestAggregateMatchesKustomize(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"apps/kustomization.yaml":        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- web.yaml\n- lists.yaml\n- ../shared\n",
		"apps/web.yaml":                  "# a comment\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\n  annotations: {note: \"yes\", n: \"0x10\"}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n      - {name: web, image: \"nginx:1.21.0\", args: [\"--port\", \"8080\", 1e3, on, ~]}\n---\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: prod}\nspec:\n  ports: [{port: 80, targetPort: http}]\n",
		"apps/lists.yaml":                "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n  data: {k: v, when: 2026-01-02}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n",
		"shared/kustomization.yaml":      "resources:\n- quota.yaml\n",
		"shared/quota.yaml":              "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q}\nspec:\n  hard: {cpu: \"4\", memory: 8Gi}\n",
		"transformed/kustomization.yaml": "resources:\n- ../shared\nnamePrefix: x-\n",
	})
	render := func(force bool) []Object {
		t.Helper()
		forceKustomize = force
		defer func() { forceKustomize = false }()
		objs, err := Render(context.Background(), root, "apps", DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		return objs
	}
	direct, built := render(false), render(true)
	if len(direct) != 5 {
		t.Fatalf("rendered %d objects, want 5", len(direct))
	}
	if d := cmp.Diff(built, direct); d != "" {
		t.Errorf("direct read differs from kustomize (-kustomize +direct):\n%s", d)
	}
}

// TestOnlyListsResources: any field but resources sends the graph to kustomize.
func TestOnlyListsResources(t *testing.T) {
	for _, tt := range []struct {
		name, kustomization string
		want                bool
	}{
		{"resources only", "resources:\n- cm.yaml\n", true},
		{"with apiVersion, kind and metadata", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nmetadata: {name: x}\nresources:\n- cm.yaml\n", true},
		{"namespace", "namespace: prod\nresources:\n- cm.yaml\n", false},
		{"labels", "labels:\n- pairs: {a: b}\nresources:\n- cm.yaml\n", false},
		{"images", "images:\n- name: nginx\n  newTag: \"1.2\"\nresources:\n- cm.yaml\n", false},
		{"patches", "patches:\n- patch: '[]'\n  target: {kind: ConfigMap}\nresources:\n- cm.yaml\n", false},
		{"generator", "configMapGenerator:\n- name: g\n  literals: [a=b]\nresources:\n- cm.yaml\n", false},
		{"sortOptions", "sortOptions: {order: legacy}\nresources:\n- cm.yaml\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, map[string]string{"app/kustomization.yaml": tt.kustomization, "app/cm.yaml": configMap})
			r := newReader(mustTree(t, root), DefaultOptions())
			p := newPreflight(context.Background(), r)
			k, err := p.load(filepath.Join(r.t.real, "app"))
			if err != nil {
				t.Fatal(err)
			}
			if got := onlyListsResources(k); got != tt.want {
				t.Errorf("onlyListsResources = %v, want %v", got, tt.want)
			}
		})
	}
}
