package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParsePolicySet feeds arbitrary bytes to the policy-file parser, and
// what parses to NewEngine and Evaluate. None may panic; every parse error
// names the file; a parsed set round-trips its invariants.
func FuzzParsePolicySet(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*/policy.yaml")
	if err != nil {
		f.Fatal(err)
	}
	more, err := filepath.Glob("testdata/policyset-errors/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range append(seeds, more...) {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	obj := mustObject(f, deploymentProd)
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := ParsePolicySet(data, "fuzz.yaml")
		if err != nil {
			if ps != nil {
				t.Fatalf("non-nil PolicySet with error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			if strings.Contains(err.Error(), "policy.") {
				t.Fatalf("error quotes the decoder's Go types: %v", err)
			}
			return
		}
		for _, p := range ps.Policies {
			if p.Name == "" || len(p.Validations) == 0 {
				t.Fatalf("parsed an invalid policy: %+v", p)
			}
		}
		engine, err := NewEngine(ps)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("NewEngine error does not name the file: %v", err)
			}
			return
		}
		// Evaluation errors are fine (a policy may read a missing field);
		// panics are not.
		if _, err := engine.Evaluate(context.Background(), Input{Object: obj}); err != nil {
			return
		}
	})
}
