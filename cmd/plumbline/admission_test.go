package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"
)

// TestAdmissionRender: render prints every rendered policy and binding as YAML, bound to the
// declared namespaces only, and lists what it did not render on top and on stderr.
func TestAdmissionRender(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("web.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {template: {spec: {containers: [{name: web, image: nginx:1.27}]}}}\n")
	write("job.yaml", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: once}\nspec: {template: {spec: {containers: [{name: job, image: nginx:1.27}]}}}\n")
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(`apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
metadata: {name: p}
spec:
  builtins: {require-read-only-root-fs: {enabled: false}}
  policies:
  - name: approved-digest
    validations: [{expression: "images.all(i, i.resolved == i.approved)"}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := execute(context.Background(), []string{"admission", "render", "--path", dir, "--policy", policyFile, "-n", "jobs"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	// The built-ins that look inside images, and the CEL rule that reads the images variable,
	// cannot be enforced by the API server: each is named, with why.
	contents := ": it needs image facts (digests, image contents) from Git or a registry, which the API server does not have"
	reasons := []string{
		"block-vulnerabilities" + contents,
		"image-runs-as-root" + contents,
		"approved-digest: it reads images: approved, resolved and running digests come from Git and the registry, which the API server does not have",
	}
	head, wantErr := "# Rendered by plumbline admission render.\n", ""
	for _, r := range reasons {
		head += "# Not rendered: " + r + "\n"
		wantErr += "not rendered: " + r + "\n"
	}
	if !strings.HasPrefix(out.String(), head+"---\n") {
		t.Errorf("stdout does not start with the rules not rendered:\n%.600s", out.String())
	}
	if errOut.String() != wantErr {
		t.Errorf("stderr %q, want %q", errOut.String(), wantErr)
	}
	var policies, namespaces []string
	for _, doc := range strings.Split(out.String(), "\n---\n")[1:] {
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatal(err)
		}
		switch head.Kind {
		case "ValidatingAdmissionPolicy":
			var p admv1.ValidatingAdmissionPolicy
			if err := yaml.UnmarshalStrict([]byte(doc), &p); err != nil {
				t.Fatal(err)
			}
			policies = append(policies, p.Annotations["plumbline.dev/rule"])
		case "ValidatingAdmissionPolicyBinding":
			var b admv1.ValidatingAdmissionPolicyBinding
			if err := yaml.UnmarshalStrict([]byte(doc), &b); err != nil {
				t.Fatal(err)
			}
			if got := b.Spec.ValidationActions; len(got) != 1 || got[0] != admv1.Deny {
				t.Errorf("binding %s actions %v", b.Name, got)
			}
			namespaces = append(namespaces, strings.Join(b.Spec.MatchResources.NamespaceSelector.MatchExpressions[0].Values, ","))
		default:
			t.Fatalf("unexpected document %q", doc)
		}
	}
	want := []string{"disallow-latest-tag", "run-as-non-root", "disallow-privileged", "require-resource-limits", "disallow-host-namespaces-and-paths"}
	if diff := cmp.Diff(want, policies); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	for _, ns := range namespaces {
		if ns != "jobs,shop" {
			t.Errorf("a binding selects %q, want the declared namespaces jobs,shop", ns)
		}
	}

	errOut.Reset()
	if code := execute(context.Background(), []string{"admission", "render", "--path", dir, "--guard"}, &out, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), "--guard needs --source NAME") {
		t.Errorf("--guard without --source: exit %d, stderr %q", code, errOut.String())
	}
}
