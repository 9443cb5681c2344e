// Package depcheck keeps DESIGN.md's rooms honest: leaf packages never import one another (the
// reconciler wires them), and only the command and the reconciler import every room.
package depcheck

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/plumbline/plumbline/"

// allowed lists, for each package of the project, the project packages its non-test code may
// import. Packages not listed may not exist without a line here.
var allowed = map[string][]string{
	"gitsource":  nil,
	"manifests":  nil,
	"images":     nil,
	"policy":     nil,
	"diff":       nil,
	"report":     nil,
	"reconciler": {"diff", "images", "manifests", "policy", "report"},
}

// forbidden are imports no package may have, with the reason.
var forbidden = map[string]string{
	"github.com/google/go-containerregistry/pkg/authn/k8schain": "it drags in the cloud SDKs; use pkg/authn/kubernetes",
	"sigs.k8s.io/controller-runtime/pkg/envtest":                "envtest is for tests only",
}

// TestRooms fails when a package imports a project package it may not, or when a new top-level
// package appears without a rule here.
func TestRooms(t *testing.T) {
	root := filepath.Join("..", "..")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	leaves := []string{"gitsource", "manifests", "images", "policy", "diff", "notify"}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") || name == "cmd" || name == "test" || name == "deploy" || name == "bin" || name == "hack" {
			continue
		}
		pkg, err := build.ImportDir(filepath.Join(root, name), 0)
		if err != nil {
			continue // not a Go package
		}
		rules, ok := allowed[name]
		if !ok {
			t.Errorf("package %s has no rule in depcheck: say what it may import", name)
			continue
		}
		for _, imp := range pkg.Imports {
			if forbidden[imp] != "" {
				t.Errorf("%s imports %s: %s", name, imp, forbidden[imp])
			}
			if !strings.HasPrefix(imp, module) {
				continue
			}
			target := strings.TrimPrefix(imp, module)
			if !slices.Contains(rules, target) {
				t.Errorf("%s imports %s; it may import only %v", name, target, rules)
			}
		}
		if !slices.Contains(leaves, name) {
			continue
		}
		// A leaf's tests may use the shared test harness, but no other room.
		for _, imp := range append(pkg.TestImports, pkg.XTestImports...) {
			target := strings.TrimPrefix(imp, module)
			if strings.HasPrefix(imp, module) && target != name && !strings.HasPrefix(target, "test/") {
				t.Errorf("tests of leaf %s import %s", name, target)
			}
		}
	}
}
