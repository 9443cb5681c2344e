package manifests

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// writeBenchRepo writes a kustomization of 10 namespaces, each a base with 33 apps of a
// Deployment, a ConfigMap and a Service, plus the Namespace: 1,000 objects, with an images
// transformer, labels and a name prefix applied on top.
func writeBenchRepo(b *testing.B, root string) {
	files := map[string]string{}
	var top strings.Builder
	top.WriteString("namePrefix: shop-\nlabels:\n- pairs:\n    team: shop\nimages:\n- name: nginx\n  newTag: 1.27.1\nresources:\n")
	for n := range 10 {
		ns := fmt.Sprintf("ns-%02d", n)
		fmt.Fprintf(&top, "- %s\n", ns)
		files[ns+"/kustomization.yaml"] = "namespace: " + ns + "\nresources:\n- namespace.yaml\n- apps.yaml\n"
		files[ns+"/namespace.yaml"] = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns + "\n"
		var apps strings.Builder
		for a := range 33 {
			name := fmt.Sprintf("app-%02d", a)
			fmt.Fprintf(&apps, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 2
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: web
        image: nginx:1.27.0
        envFrom:
        - configMapRef: {name: %[1]s}
        resources:
          limits: {cpu: 500m, memory: 128Mi}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: %[1]s
data:
  LOG_LEVEL: info
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
spec:
  selector: {app: %[1]s}
  ports:
  - port: 80
---
`, name)
		}
		files[ns+"/apps.yaml"] = apps.String()
	}
	files["kustomization.yaml"] = top.String()
	writeTree(b, root, files)
}

func BenchmarkRenderKustomize1000Objects(b *testing.B) {
	root := b.TempDir()
	writeBenchRepo(b, root)
	objs, err := Render(context.Background(), root, "", DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	if len(objs) != 1000 {
		b.Fatalf("rendered %d objects, want 1000", len(objs))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Render(context.Background(), root, "", DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKustomizeAlone is the baseline: `kustomize build` of the same folder, without the
// preflight, the file system wrapper, origin tracking or conversion.
func BenchmarkKustomizeAlone(b *testing.B) {
	root := b.TempDir()
	writeBenchRepo(b, root)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), root); err != nil {
			b.Fatal(err)
		}
	}
}
