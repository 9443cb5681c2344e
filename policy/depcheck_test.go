package policy

import (
	"go/build"
	"strings"
	"testing"
)

// TestImportsNoSibling keeps policy a leaf: it imports no other package of
// the module, and nothing that does I/O on its behalf.
func TestImportsNoSibling(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"github.com/plumbline/plumbline/", "os", "net", "net/http", "log", "log/slog", "k8s.io/client-go/"}
	for _, imp := range pkg.Imports {
		for _, f := range forbidden {
			if imp == f || (strings.HasSuffix(f, "/") && strings.HasPrefix(imp, f)) {
				t.Errorf("policy imports %s; it must stay a pure leaf package", imp)
			}
		}
	}
}
