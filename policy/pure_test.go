package policy

import (
	"go/build"
	"strings"
	"testing"
)

// TestPurePackage keeps rules pure: policy imports nothing that does I/O on
// its behalf. (test/depcheck keeps it a leaf.)
func TestPurePackage(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"os", "net", "net/http", "log", "log/slog", "k8s.io/client-go/"}
	for _, imp := range pkg.Imports {
		for _, f := range forbidden {
			if imp == f || (strings.HasSuffix(f, "/") && strings.HasPrefix(imp, f)) {
				t.Errorf("policy imports %s; rules must stay pure", imp)
			}
		}
	}
}
