package images

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"nginx", "docker.io/library/nginx:1.21.0", "localhost:5000/a/b:c",
		"registry.example/team/nginx:1.21.0@sha256:" + strings.Repeat("ab", 32),
		"nginx@sha256:" + strings.Repeat("0", 64), "[::1]:5000/app:1", "A/b", "a:b:c", "@", ":", "a//b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseReference(s)
		if err != nil {
			return
		}
		if ref.Registry == "" || ref.Repository == "" || (ref.Tag == "" && ref.Digest == "") {
			t.Fatalf("%q parsed to an incomplete %+v", s, ref)
		}
		again, err := ParseReference(ref.String())
		if err != nil || again != ref {
			t.Fatalf("%q: String() %q parses to %+v, %v", s, ref.String(), again, err)
		}
		if _, err := ref.ggcr(); err != nil {
			t.Fatalf("%q: go-containerregistry rejects %q: %v", s, ref.String(), err)
		}
	})
}

func FuzzParseLock(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "lock-*", LockFileName))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apiVersion: plumbline.dev/v1alpha1\nkind: ImageLock\nimages: []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "apps/web/plumbline.lock.yaml"
		lock, err := ParseLock(file, data)
		if err != nil {
			var lfe *LockFileError
			if !errors.As(err, &lfe) || lfe.File != file || !strings.HasPrefix(err.Error(), file) {
				t.Fatalf("error does not name the file: %v", err)
			}
			if strings.Contains(err.Error(), "lockDoc") {
				t.Fatalf("error quotes the decoder's Go types: %v", err)
			}
			return
		}
		out, err := MarshalLock(lock)
		if err != nil {
			t.Fatalf("a parsed lock does not marshal: %v", err)
		}
		again, err := ParseLock(file, out)
		if err != nil {
			t.Fatalf("marshalled lock does not parse: %v\n%s", err, out)
		}
		if d := cmp.Diff(lock, again); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}
