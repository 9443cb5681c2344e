package gitsource

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const deploymentYAML = `# The web front end.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web # who we are
spec:
  replicas: 2 # two is enough
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: "nginx:1.21.0"
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  - port: 80
`

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readFileOf(t *testing.T, root, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// changedLines returns the lines of after that differ from before, which must have as many.
func changedLines(t *testing.T, before, after string) []string {
	t.Helper()
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	if len(a) != len(b) {
		t.Fatalf("line count changed from %d to %d:\n%s", len(b), len(a), after)
	}
	var out []string
	for i := range a {
		if a[i] != b[i] {
			out = append(out, a[i])
		}
	}
	return out
}

var webKey = ObjectKey{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "default", Name: "web"}

func TestEditTreeOwnFileOneLine(t *testing.T) {
	tests := []struct {
		name  string
		field FieldChange
		want  []string
	}{
		{"replicas keeps its comment", FieldChange{Path: ".spec.replicas", Value: 5.0, Old: 2.0}, []string{"  replicas: 5 # two is enough"}},
		{"quoted image stays quoted", FieldChange{Path: `.spec.template.spec.containers[name="nginx"].image`, Value: "nginx:1.22.1", Old: "nginx:1.21.0"},
			[]string{`        image: "nginx:1.22.1"`}},
		{"label", FieldChange{Path: ".metadata.labels.app", Value: "web2"}, []string{"    app: web2 # who we are"}},
		{"a string that reads as a number is quoted", FieldChange{Path: ".metadata.labels.app", Value: "1.5"}, []string{`    app: "1.5" # who we are`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, map[string]string{"apps/web.yaml": deploymentYAML})
			ed, err := EditTree(root, "apps", ObjectChange{Object: webKey, File: "apps/web.yaml", Fields: []FieldChange{tt.field}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"apps/web.yaml"}, ed.Files); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, changedLines(t, deploymentYAML, readFileOf(t, root, "apps/web.yaml"))); diff != "" {
				t.Errorf("changed lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEditTreeAddsFieldInPlainFolder(t *testing.T) {
	root := writeTree(t, map[string]string{"apps/web.yaml": deploymentYAML})
	_, err := EditTree(root, "apps", ObjectChange{Object: webKey, File: "apps/web.yaml",
		Fields: []FieldChange{{Path: ".spec.minReadySeconds", Value: 10.0}}})
	if err != nil {
		t.Fatal(err)
	}
	got := readFileOf(t, root, "apps/web.yaml")
	for _, want := range []string{"  minReadySeconds: 10\n", "# The web front end.\n", "replicas: 2 # two is enough", "kind: Service"} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in:\n%s", want, got)
		}
	}
}

const baseKustomization = "resources:\n- web.yaml\n"

func TestEditTreeEditsOverlayPatchNotBase(t *testing.T) {
	patch := "# prod runs more\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 4\n"
	root := writeTree(t, map[string]string{
		"base/web.yaml": deploymentYAML, "base/kustomization.yaml": baseKustomization,
		"prod/kustomization.yaml": "resources:\n- ../base\npatches:\n- path: replicas.yaml\n",
		"prod/replicas.yaml":      patch,
	})
	ed, err := EditTree(root, "prod", ObjectChange{Object: webKey, File: "base/web.yaml",
		Fields: []FieldChange{{Path: ".spec.replicas", Value: 6.0, Old: 4.0}}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"prod/replicas.yaml"}, ed.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"  replicas: 6"}, changedLines(t, patch, readFileOf(t, root, "prod/replicas.yaml"))); diff != "" {
		t.Errorf("patch lines (-want +got):\n%s", diff)
	}
	if got := readFileOf(t, root, "base/web.yaml"); got != deploymentYAML {
		t.Errorf("base changed:\n%s", got)
	}
	if len(ed.Notes) != 1 || !strings.Contains(ed.Notes[0], "kustomize patch prod/replicas.yaml") {
		t.Errorf("notes: %q", ed.Notes)
	}
}

func TestEditTreeImagesEntry(t *testing.T) {
	kust := "resources:\n- ../base\nimages:\n# pinned for prod\n- name: nginx\n  newTag: 1.21.0\n"
	root := writeTree(t, map[string]string{
		"base/web.yaml": strings.Replace(deploymentYAML, `"nginx:1.21.0"`, "nginx", 1), "base/kustomization.yaml": baseKustomization,
		"prod/kustomization.yaml": kust,
	})
	ed, err := EditTree(root, "prod", ObjectChange{Object: webKey, File: "base/web.yaml",
		Fields: []FieldChange{{Path: `.spec.template.spec.containers[name="nginx"].image`, Value: "nginx:1.22.1", Old: "nginx:1.21.0"}}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"prod/kustomization.yaml"}, ed.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"  newTag: 1.22.1"}, changedLines(t, kust, readFileOf(t, root, "prod/kustomization.yaml"))); diff != "" {
		t.Errorf("kustomization lines (-want +got):\n%s", diff)
	}
}

func TestEditTreeFallbackPatch(t *testing.T) {
	root := writeTree(t, map[string]string{
		"base/web.yaml": deploymentYAML, "base/kustomization.yaml": baseKustomization,
		"prod/kustomization.yaml": "# prod\nresources:\n- ../base\n",
	})
	ed, err := EditTree(root, "prod", ObjectChange{Object: webKey, File: "base/web.yaml",
		Fields: []FieldChange{{Path: ".spec.minReadySeconds", Value: 10.0}}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"prod/kustomization.yaml", "prod/plumbline-patch-deployment-web.yaml"}, ed.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if got, want := readFileOf(t, root, "prod/kustomization.yaml"), "# prod\nresources:\n- ../base\npatches:\n- path: plumbline-patch-deployment-web.yaml\n"; got != want {
		t.Errorf("kustomization:\n%s\nwant:\n%s", got, want)
	}
	if got := readFileOf(t, root, "prod/plumbline-patch-deployment-web.yaml"); !strings.Contains(got, "spec:\n  minReadySeconds: 10\n") {
		t.Errorf("patch:\n%s", got)
	}
	if len(ed.Notes) != 1 || !strings.Contains(ed.Notes[0], "could not be located") {
		t.Errorf("notes: %q", ed.Notes)
	}
}

func TestEditTreeAddAndDelete(t *testing.T) {
	root := writeTree(t, map[string]string{"apps/web.yaml": deploymentYAML, "apps/kustomization.yaml": "resources:\n- web.yaml\n- cm.yaml\n",
		"apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"})
	cm := ObjectKey{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: "settings"}
	if _, err := EditTree(root, "apps", ObjectChange{Object: cm, File: "apps/cm.yaml", Delete: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "apps/cm.yaml")); !os.IsNotExist(err) {
		t.Errorf("cm.yaml still there: %v", err)
	}
	if got := readFileOf(t, root, "apps/kustomization.yaml"); got != "resources:\n- web.yaml\n" {
		t.Errorf("kustomization:\n%s", got)
	}
	svc := ObjectKey{APIVersion: "v1", Kind: "Service", Namespace: "default", Name: "web"}
	if _, err := EditTree(root, "apps", ObjectChange{Object: svc, File: "apps/web.yaml", Delete: true}); err != nil {
		t.Fatal(err)
	}
	if got := readFileOf(t, root, "apps/web.yaml"); strings.Contains(got, "Service") || !strings.HasPrefix(got, "# The web front end.") {
		t.Errorf("web.yaml:\n%s", got)
	}
	extra := ObjectKey{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: "hotfix"}
	ed, err := EditTree(root, "apps", ObjectChange{Object: extra, Add: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hotfix\n")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"apps/configmap-hotfix.yaml", "apps/kustomization.yaml"}, ed.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if got := readFileOf(t, root, "apps/kustomization.yaml"); got != "resources:\n- web.yaml\n- configmap-hotfix.yaml\n" {
		t.Errorf("kustomization:\n%s", got)
	}
}

func TestUpsertListEntry(t *testing.T) {
	lock := "# approved images\napiVersion: plumbline.dev/v1alpha1\nkind: ImageLock\nimages:\n  - image: nginx:1.21.0\n    digest: sha256:aaa\n    mediaType: application/vnd.oci.image.manifest.v1+json\n    approvedAt: \"2025-05-01T10:00:00Z\"\n  - image: redis:7\n    digest: sha256:ccc\n"
	order := []string{"digest", "approvedAt"}
	got, err := UpsertListEntry("plumbline.lock.yaml", []byte(lock), "images", "image", "nginx:1.21.0",
		map[string]string{"digest": "sha256:bbb", "approvedAt": "2026-12-02T01:00:00Z"}, order, []string{"mediaType", "platforms"})
	if err != nil {
		t.Fatal(err)
	}
	want := "# approved images\napiVersion: plumbline.dev/v1alpha1\nkind: ImageLock\nimages:\n  - image: nginx:1.21.0\n    digest: sha256:bbb\n    approvedAt: \"2026-12-02T01:00:00Z\"\n  - image: redis:7\n    digest: sha256:ccc\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("updated lock (-want +got):\n%s", diff)
	}
	got, err = UpsertListEntry("plumbline.lock.yaml", []byte(lock), "images", "image", "busybox:1.36",
		map[string]string{"digest": "sha256:ddd", "approvedAt": "2026-12-02T01:00:00Z"}, order, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), lock) && !strings.Contains(string(got), "  - image: busybox:1.36\n    digest: sha256:ddd\n    approvedAt: \"2026-12-02T01:00:00Z\"\n") {
		t.Errorf("added entry:\n%s", got)
	}
}
