package depcheck

import (
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"
)

// graph is the import graph of the module's packages, their tests and everything they import.
type graph struct {
	pkgs []*packages.Package // the module's own packages and test variants, in load order
}

// load lists every package of the module at root (its tests included) with its whole import
// graph, through `go list` as the go command sees it. overlay maps absolute file paths to
// contents that replace or add files, as packages.Config.Overlay does.
func load(root string, overlay map[string][]byte) (*graph, error) {
	cfg := &packages.Config{
		Mode:    packages.NeedName | packages.NeedImports | packages.NeedDeps | packages.NeedModule,
		Dir:     root,
		Tests:   true,
		Overlay: overlay,
	}
	roots, err := packages.Load(cfg, "./...")
	if err != nil {
		return nil, fmt.Errorf("load packages under %s: %w", root, err)
	}
	g := &graph{}
	for _, p := range roots {
		if isProject(p.PkgPath) && !isTestMain(p) {
			g.pkgs = append(g.pkgs, p)
		}
	}
	return g, nil
}

// loadErrors returns one line for each error of each package in the graph: a package that does
// not parse, type-check's import errors, an import that cannot be found.
func (g *graph) loadErrors() []string {
	var out []string
	seen := map[string]bool{}
	var visit func(p *packages.Package)
	visit = func(p *packages.Package) {
		if seen[p.ID] {
			return
		}
		seen[p.ID] = true
		for _, e := range p.Errors {
			out = append(out, fmt.Sprintf("%s does not load: %s", p.ID, e))
		}
		for _, imp := range sortedImports(p) {
			visit(imp)
		}
	}
	for _, p := range g.pkgs {
		visit(p)
	}
	return out
}

// reach returns, for each package that p imports directly or through others, the shortest chain
// of package paths from p to it.
func reach(p *packages.Package) map[string][]string {
	chains := map[string][]string{}
	type step struct {
		pkg   *packages.Package
		chain []string
	}
	seen := map[string]bool{p.ID: true}
	queue := []step{{p, []string{p.PkgPath}}}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, imp := range sortedImports(s.pkg) {
			if seen[imp.ID] {
				continue
			}
			seen[imp.ID] = true
			chain := append(slices.Clone(s.chain), imp.PkgPath)
			if _, ok := chains[imp.PkgPath]; !ok {
				chains[imp.PkgPath] = chain
			}
			queue = append(queue, step{imp, chain})
		}
	}
	return chains
}

func sortedImports(p *packages.Package) []*packages.Package {
	paths := make([]string, 0, len(p.Imports))
	for path := range p.Imports {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	out := make([]*packages.Package, 0, len(paths))
	for _, path := range paths {
		out = append(out, p.Imports[path])
	}
	return out
}

// isTestMain reports whether p is the generated main package of a test binary.
func isTestMain(p *packages.Package) bool {
	return p.Name == "main" && strings.HasSuffix(p.PkgPath, ".test")
}

// isTest reports whether p is compiled with test files: the package's own test variant or its
// external _test package.
func isTest(p *packages.Package) bool {
	return p.ID != p.PkgPath || strings.HasSuffix(p.PkgPath, "_test")
}

func isProject(path string) bool {
	return strings.HasPrefix(path, module+"/")
}

// rel returns a project package path below the module, without an external test's _test suffix.
func rel(path string) string {
	return strings.TrimSuffix(strings.TrimPrefix(path, module+"/"), "_test")
}

// roomOf returns the room a project package belongs to: its first folder, or its first two
// below test/, where each folder is a harness or a suite of its own.
func roomOf(path string) string {
	parts := strings.Split(rel(path), "/")
	if parts[0] == "test" && len(parts) > 1 {
		return parts[0] + "/" + parts[1]
	}
	return parts[0]
}

// goDirs returns the module's folders below root that hold Go files the go command builds, as
// package paths, skipping testdata, hidden folders and nested modules: what `./...` must have
// loaded.
func goDirs(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		name := d.Name()
		if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
			return filepath.SkipDir
		}
		// Any other trouble with the folder is for the load to report.
		var none *build.NoGoError
		if _, err := build.ImportDir(path, 0); errors.As(err, &none) {
			return nil
		}
		dir, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		pkg := module
		if dir != "." {
			pkg += "/" + filepath.ToSlash(dir)
		}
		dirs = append(dirs, pkg)
		return nil
	})
	return dirs, err
}
