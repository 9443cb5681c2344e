package policy

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the want.txt golden files of testdata scenarios")

// TestFixtures runs every scenario in testdata/<scenario>/ that has a
// manifest.yaml: its objects are evaluated with the scenario's policy.yaml
// (or the built-in baseline) and the violations, rendered as a report line
// each, must equal want.txt. Run with -update to rewrite want.txt, then read
// the diff.
func TestFixtures(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 5 {
		t.Fatalf("found %d scenarios, want at least 5", len(dirs))
	}
	for _, manifest := range dirs {
		dir := filepath.Dir(manifest)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var ps *PolicySet
			if data, err := os.ReadFile(filepath.Join(dir, "policy.yaml")); err == nil {
				if ps, err = ParsePolicySet(data, "policy.yaml"); err != nil {
					t.Fatal(err)
				}
			} else if !os.IsNotExist(err) {
				t.Fatal(err)
			}
			engine, err := NewEngine(ps)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, obj := range decodeObjects(t, readFile(t, manifest)) {
				vs, err := engine.Evaluate(context.Background(), Input{Object: obj})
				if err != nil {
					fmt.Fprintf(&b, "%s: error: %v\n", objectRef(obj), err)
				}
				for _, v := range vs {
					fmt.Fprintf(&b, "%s: Policy Violation: %s [%s, %s]", objectRef(obj), v.Message, v.Rule, v.Severity)
					if v.Container != "" {
						fmt.Fprintf(&b, " container=%s", v.Container)
					}
					if v.Path != "" {
						fmt.Fprintf(&b, " at %s", v.Path)
					}
					b.WriteString("\n")
				}
			}
			golden := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(string(readFile(t, golden)), b.String()); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}
