package inventory

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/osv-scalibr/extractor/filesystem"
)

// FuzzLayer feeds arbitrary bytes to the flattener as a layer: it must fail or succeed
// without panicking, and never write outside its folder.
func FuzzLayer(f *testing.F) {
	f.Add(tarBytes(f, []entry{file("var/lib/dpkg/status", []byte("Package: x\n"))}))
	f.Add(tarBytes(f, []entry{{name: "../../x", body: []byte("x"), mode: 0o644}}))
	f.Add(tarBytes(f, []entry{{name: "a/b", typeflag: tar.TypeSymlink, link: "../../../x"}, {name: "var/lib/.wh.dpkg", mode: 0o644}}))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		work := filepath.Join(parent, "work")
		if err := os.Mkdir(work, 0o700); err != nil {
			t.Fatal(err)
		}
		fl, err := newFlattener(work, Limits{MaxLayerBytes: 1 << 20, MaxFileBytes: 1 << 16, MaxExtractedBytes: 1 << 18, MaxLayers: 4},
			func(filesystem.FileAPI) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		defer fl.close()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			return
		}
		_ = fl.layer(0, l) // errors are fine; escaping is not
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != "work" {
				t.Fatalf("wrote %s outside the scan folder", e.Name())
			}
		}
		_ = filepath.WalkDir(work, func(p string, d os.DirEntry, err error) error {
			if err == nil && !strings.HasPrefix(p, work) {
				t.Fatalf("wrote %s outside the scan folder", p)
			}
			if err == nil && d.Type()&os.ModeSymlink != 0 {
				t.Fatalf("wrote a symbolic link %s", p)
			}
			return nil
		})
	})
}
