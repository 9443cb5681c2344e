// Package depcheck keeps DESIGN.md's rooms honest: leaf packages never import one another, not
// even through a sub-package or a third party (the reconciler wires them); only the command and
// the end-to-end suites reach every room. It follows every import transitively, with the go
// command's own view of the module (golang.org/x/tools/go/packages), tests included.
package depcheck

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

const module = "github.com/plumbline/plumbline"

// may lists, for each room (a top-level folder, or a folder below test/), the other rooms its
// code may reach, directly or through any chain of imports. A room always reaches itself, its
// sub-packages included. "*" means every room. A room outside test/ with no line here fails.
var may = map[string][]string{
	"api":        nil,
	"gitsource":  nil,
	"manifests":  nil,
	"images":     nil,
	"policy":     nil,
	"diff":       nil,
	"report":     nil,
	"activity":   {"report"},
	"notify":     {"report"},
	"reconciler": {"activity", "api", "diff", "gitsource", "images", "manifests", "notify", "policy", "report"},
	"cmd":        {"*"},
	// The harness that any package's tests may use reaches no room of the product, so that
	// a leaf's tests stay leaf tests.
	"test/cluster":   nil,
	"test/gitserver": nil,
	"test/vapeval":   nil,
}

// harness lists the test rooms that the tests of every room may import.
var harness = []string{"test/cluster", "test/gitserver", "test/vapeval"}

// forbidden are packages that no product code (outside test/) may reach, with the reason.
var forbidden = map[string]string{
	"github.com/google/go-containerregistry/pkg/authn/k8schain": "it drags in the cloud SDKs; use pkg/authn/kubernetes",
	"sigs.k8s.io/controller-runtime/pkg/envtest":                "envtest is for tests only",
}

// rule returns the rooms that room may reach. Suites below test/ other than the harness may
// reach every room.
func rule(room string) (rooms []string, ok bool) {
	if rooms, ok := may[room]; ok {
		return rooms, true
	}
	if strings.HasPrefix(room, "test/") {
		return []string{"*"}, true
	}
	return nil, false
}

// problems returns every break of the rules in g, one line each, sorted.
func (g *graph) problems() []string {
	reported := map[string]bool{}
	var out []string
	add := func(key, msg string) {
		if !reported[key] {
			reported[key] = true
			out = append(out, msg)
		}
	}
	// Packages first, then their tests, so that a break of a package is not reported again
	// for its test variant.
	ordered := slices.Clone(g.pkgs)
	slices.SortStableFunc(ordered, func(a, b *packages.Package) int {
		return boolInt(isTest(a)) - boolInt(isTest(b))
	})
	for _, p := range ordered {
		room := roomOf(p.PkgPath)
		rooms, ok := rule(room)
		if !ok {
			add("norule "+room, fmt.Sprintf("room %s (package %s) has no rule in depcheck: say what it may import", room, rel(p.PkgPath)))
			continue
		}
		who := rel(p.PkgPath)
		if isTest(p) {
			who = "tests of " + who
		}
		chains := reach(p)
		targets := make([]string, 0, len(chains))
		for path := range chains {
			targets = append(targets, path)
		}
		slices.Sort(targets)
		for _, path := range targets {
			chain := chains[path]
			// A break is reported where it happens: by the room whose package makes the last
			// project step of the chain. What a sibling imports is the sibling's concern.
			if !brokenIn(room, chain) {
				continue
			}
			if why := forbidden[path]; why != "" && !isTest(p) && !strings.HasPrefix(room, "test/") {
				add(rel(p.PkgPath)+" "+path, fmt.Sprintf("%s reaches %s (%s): %s", who, path, arrows(chain), why))
			}
			if isProject(path) && !allowedTarget(room, rooms, path, isTest(p)) {
				add(rel(p.PkgPath)+" "+path, fmt.Sprintf("%s reaches %s (%s): room %s may reach only %s", who, rel(path), arrows(chain), room, describe(room, rooms, isTest(p))))
			}
		}
	}
	slices.Sort(out)
	return out
}

// brokenIn reports whether the last project package before the end of chain is in room.
func brokenIn(room string, chain []string) bool {
	for i := len(chain) - 2; i >= 0; i-- {
		if isProject(chain[i]) {
			return roomOf(chain[i]) == room
		}
	}
	return false
}

func allowedTarget(room string, rooms []string, path string, test bool) bool {
	target := roomOf(path)
	return target == room || slices.Contains(rooms, "*") || slices.Contains(rooms, target) ||
		(test && slices.Contains(harness, target))
}

func describe(room string, rooms []string, test bool) string {
	all := append([]string{room}, rooms...)
	if test {
		all = append(all, harness...)
	}
	return strings.Join(all, ", ")
}

func arrows(chain []string) string {
	short := make([]string, len(chain))
	for i, c := range chain {
		if isProject(c) {
			c = rel(c)
		}
		short[i] = c
	}
	return strings.Join(short, " → ")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestRooms fails when any package of the module, or its tests, reaches a room it may not, when
// a package does not load, or when a new room appears without a rule.
func TestRooms(t *testing.T) {
	root := moduleRoot(t)
	g, err := load(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range g.loadErrors() {
		t.Error(e)
	}
	// Nothing escapes the check: every folder with Go code was loaded.
	dirs, err := goDirs(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		if !slices.ContainsFunc(g.pkgs, func(p *packages.Package) bool { return p.PkgPath == dir }) {
			t.Errorf("package %s was not loaded, so its imports were not checked", dir)
		}
	}
	for _, p := range g.problems() {
		t.Error(p)
	}
}
