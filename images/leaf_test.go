package images

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLeafPackage keeps images a leaf: no import of another Plumbline package.
func TestLeafPackage(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(path, "github.com/plumbline/plumbline") {
				t.Errorf("%s imports %s: images must not import other Plumbline packages", f, path)
			}
			if path == "github.com/google/go-containerregistry/pkg/authn/k8schain" {
				t.Errorf("%s imports k8schain (cloud SDKs)", f)
			}
		}
	}
}
