package manifests

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// dump prints objects the way a user reads them: one YAML document per object, preceded by
// its identity and source file.
func dump(t *testing.T, objs []Object) string {
	t.Helper()
	var b strings.Builder
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n# " + o.ID().String() + " from " + o.Source + "\n")
		b.Write(y)
	}
	return b.String()
}

// golden compares got with testdata/<name>.golden.yaml, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.yaml")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name, root, dir string
	}{
		{"base-overlay-patches-generator-images.prod", "testdata/base-overlay-patches-generator-images", "overlays/prod"},
		{"base-overlay-patches-generator-images.base", "testdata/base-overlay-patches-generator-images", "base"},
		{"overlay-every-kustomize-feature", "testdata/overlay-every-kustomize-feature", "overlay"},
		{"plain-multidoc-recursive", "testdata/plain-multidoc-recursive", ""},
		{"plain-list", "testdata/plain-list", "."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Render(context.Background(), tt.root, tt.dir, DefaultOptions())
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			golden(t, tt.name, dump(t, objs))
		})
	}
}

// kustomizeAlone builds dir with kustomize's own defaults, the output users get from
// `kustomize build`, as unstructured objects keyed by identity.
func kustomizeAlone(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out := map[string]map[string]any{}
	for _, r := range m.Resources() {
		js, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			t.Fatal(err)
		}
		out[IDOf(u).String()] = u.Object
	}
	return out
}

// TestRenderAddsNothing compares Render with `kustomize build`: the same objects, field for
// field, so no annotation or label of the render's own is left (a stray one would show as
// drift against the live cluster).
func TestRenderAddsNothing(t *testing.T) {
	for _, tt := range []struct{ root, dir string }{
		{"testdata/base-overlay-patches-generator-images", "overlays/prod"},
		{"testdata/base-overlay-patches-generator-images", "base"},
		{"testdata/overlay-every-kustomize-feature", "overlay"},
	} {
		root, dir := tt.root, tt.dir
		t.Run(root+"/"+dir, func(t *testing.T) {
			objs, err := Render(context.Background(), root, dir, DefaultOptions())
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			got := map[string]map[string]any{}
			for _, o := range objs {
				got[o.ID().String()] = o.Object.Object
				for k := range o.Object.GetAnnotations() {
					if strings.Contains(k, "kubernetes.io") || strings.Contains(k, "kustomize") {
						t.Errorf("%s carries annotation %q", o.ID(), k)
					}
				}
				for k := range o.Object.GetLabels() {
					if strings.Contains(k, "kustomize") || strings.Contains(k, "managed-by") {
						t.Errorf("%s carries label %q", o.ID(), k)
					}
				}
			}
			if diff := cmp.Diff(kustomizeAlone(t, filepath.Join(root, dir)), got); diff != "" {
				t.Errorf("Render differs from kustomize build (-kustomize +render):\n%s", diff)
			}
		})
	}
}

func TestRenderNamesSourceFiles(t *testing.T) {
	objs, err := Render(context.Background(), "testdata/base-overlay-patches-generator-images", "overlays/prod", DefaultOptions())
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	got := map[string]string{}
	for _, o := range objs {
		got[o.ID().String()] = o.Source
	}
	want := map[string]string{
		"ConfigMap/prod/web-config-526d8699gb":          "base/kustomization.yaml", // generated in the base, merged in the overlay
		"Namespace/prod":                                "overlays/prod/namespace.yaml",
		"Service/prod/web":                              "base/service.yaml",
		"apps/Deployment/prod/web":                      "base/deployment.yaml",
		"monitoring.coreos.com/ServiceMonitor/prod/web": "components/monitoring/service-monitor.yaml",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
}

// TestRenderKeepsOriginAnnotationsUsersAskFor: a kustomization that asks for origin
// annotations itself gets them, as `kustomize build` would give them.
func TestRenderKeepsOriginAnnotationsUsersAskFor(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"app/kustomization.yaml": "buildMetadata: [originAnnotations]\nresources:\n- cm.yaml\n",
		"app/cm.yaml":            configMap,
	})
	objs, err := Render(context.Background(), root, "app", DefaultOptions())
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if len(objs) != 1 || objs[0].Source != "app/cm.yaml" {
		t.Fatalf("got %v", objs)
	}
	if got := objs[0].Object.GetAnnotations()[originAnnotation]; got != "path: cm.yaml\n" {
		t.Errorf("origin annotation %q, want %q", got, "path: cm.yaml\n")
	}
}

func TestRenderIsDeterministicAndSorted(t *testing.T) {
	for _, tt := range []struct{ root, dir string }{
		{"testdata/base-overlay-patches-generator-images", "overlays/prod"},
		{"testdata/plain-multidoc-recursive", ""},
	} {
		first, err := Render(context.Background(), tt.root, tt.dir, DefaultOptions())
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		second, err := Render(context.Background(), tt.root, tt.dir, DefaultOptions())
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		if diff := cmp.Diff(dump(t, first), dump(t, second)); diff != "" {
			t.Errorf("%s: two renders differ (-first +second):\n%s", tt.root, diff)
		}
		// The order a user reads: group, then kind, then namespace, then name.
		key := func(o Object) string {
			id := o.ID()
			return strings.Join([]string{id.Group, id.Kind, id.Namespace, id.Name}, "\x00")
		}
		for i := 1; i < len(first); i++ {
			if key(first[i-1]) > key(first[i]) {
				t.Errorf("%s: %s sorted before %s", tt.root, first[i-1].ID(), first[i].ID())
			}
		}
	}
}

func TestRenderPlainFolderWithKustomizeSubfolder(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"cluster/namespace.yaml":          "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
		"cluster/shop/kustomization.yaml": "namespace: shop\nresources:\n- cm.yaml\n",
		"cluster/shop/cm.yaml":            configMap,
		"cluster/shop/notes.yaml":         "this file belongs to kustomize's folder and is not read on its own: [",
	})
	objs, err := Render(context.Background(), root, "cluster", DefaultOptions())
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	got := map[string]string{}
	for _, o := range objs {
		got[o.ID().String()] = o.Source
	}
	want := map[string]string{"ConfigMap/shop/app": "cluster/shop/cm.yaml", "Namespace/shop": "cluster/namespace.yaml"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestRenderConcurrently renders from several goroutines at once, as a controller with many
// sources does; run it with -race. Kustomize is not safe for concurrent builds, so Render
// serialises them; the results must not mix.
func TestRenderConcurrently(t *testing.T) {
	want, err := Render(context.Background(), "testdata/base-overlay-patches-generator-images", "overlays/prod", DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			got, err := Render(context.Background(), "testdata/base-overlay-patches-generator-images", "overlays/prod", DefaultOptions())
			if err == nil && len(got) != len(want) {
				err = fmt.Errorf("got %d objects, want %d", len(got), len(want))
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
