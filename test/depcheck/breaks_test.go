package depcheck

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRoomsCatchBreaks adds files to a copy of the module's view (an overlay: nothing is written
// to the tree) that break the rules in the ways that matter, and expects each break named.
func TestRoomsCatchBreaks(t *testing.T) {
	root := moduleRoot(t)
	files := map[string]string{
		// A nested package of a leaf that imports a sibling leaf, imported by no one.
		"gitsource/github/github.go": "package github\n\nimport _ \"" + module + "/manifests\"\n",
		// A leaf that reaches a sibling only through its own sub-package.
		"images/zz_depcheck.go":         "package images\n\nimport _ \"" + module + "/images/inventory\"\n",
		"images/inventory/inventory.go": "package inventory\n\nimport _ \"" + module + "/policy\"\n",
		// A leaf's tests that import a sibling.
		"diff/zz_depcheck_test.go": "package diff_test\n\nimport _ \"" + module + "/policy\"\n",
		// Product code that reaches envtest through a package of its own.
		"manifests/zz_depcheck.go":       "package manifests\n\nimport _ \"" + module + "/manifests/fixtures\"\n",
		"manifests/fixtures/fixtures.go": "package fixtures\n\nimport _ \"sigs.k8s.io/controller-runtime/pkg/envtest\"\n",
		// A new room nobody wrote a rule for.
		"notary/notary.go": "package notary\n",
		// A folder with two package names (go/build gave up on it silently), an import clause
		// that does not parse, and an import that does not exist.
		"policy/zz_depcheck.go":       "package rules\n",
		"api/v1alpha1/zz_depcheck.go": "package v1alpha1\n\nimport (\n",
		"report/zz_depcheck.go":       "package report\n\nimport _ \"" + module + "/nosuchpackage\"\n",
	}
	overlay := map[string][]byte{}
	for name, body := range files {
		overlay[filepath.Join(root, filepath.FromSlash(name))] = []byte(body)
	}
	g, err := load(root, overlay)
	if err != nil {
		t.Fatal(err)
	}
	got := append(g.loadErrors(), g.problems()...)
	for _, want := range []string{
		"gitsource/github reaches manifests (gitsource/github → manifests): room gitsource may reach only gitsource",
		"images reaches policy (images → images/inventory → policy): room images may reach only images",
		"tests of diff reaches policy (diff → policy): room diff may reach only diff, test/cluster, test/gitserver",
		"manifests reaches sigs.k8s.io/controller-runtime/pkg/envtest (manifests → manifests/fixtures → sigs.k8s.io/controller-runtime/pkg/envtest): envtest is for tests only",
		"manifests/fixtures reaches sigs.k8s.io/controller-runtime/pkg/envtest (manifests/fixtures → sigs.k8s.io/controller-runtime/pkg/envtest): envtest is for tests only",
		"room notary (package notary) has no rule in depcheck",
		module + "/policy does not load: ",
		module + "/api/v1alpha1 does not load: ",
		module + "/nosuchpackage does not load: report/zz_depcheck.go:3:8: ",
	} {
		if !containsPrefix(got, want) {
			t.Errorf("no problem starts with %q; got:\n%s", want, strings.Join(got, "\n"))
		}
	}
}

func containsPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
