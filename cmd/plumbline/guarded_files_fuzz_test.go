package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbline/plumbline/diff"
	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/policy"
)

// FuzzOwnFileKinds: any bytes on disk, as a lock file, a PolicySet or ignore rules, go through
// the guarded reader and the kind's parser as the commands read them. Nothing panics; the
// reader gives back exactly the bytes on disk, or refuses over the cap; every error names the
// file.
func FuzzOwnFileKinds(f *testing.F) {
	f.Add([]byte("apiVersion: plumbline.dev/v1alpha1\nkind: ImageLock\nimages: []\n"))
	f.Add([]byte("apiVersion: plumbline.dev/v1alpha1\nkind: PolicySet\nspec:\n  policies:\n  - name: p\n    validations: [{expression: \"true\"}]\n"))
	f.Add([]byte("apiVersion: plumbline.dev/v1alpha1\nkind: IgnoreRules\nrules:\n- paths: [.spec.replicas]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("\x00\xff\t- :"))
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		const rel = "apps/web/plumbline.lock.yaml"
		file := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := manifests.ReadConfigFile(t.Context(), root, rel)
		if err != nil {
			if len(data) <= manifests.MaxConfigFileBytes || !strings.HasPrefix(err.Error(), rel+":") {
				t.Fatalf("read %d bytes: %v", len(data), err)
			}
			return
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("the reader gave %d bytes, the file holds %d", len(got), len(data))
		}
		local, err := manifests.ReadLocalFile(t.Context(), file)
		if err != nil || !bytes.Equal(local, data) {
			t.Fatalf("ReadLocalFile: %d bytes, %v", len(local), err)
		}
		if _, err := images.ParseLock(rel, got); err != nil && !strings.HasPrefix(err.Error(), rel) {
			t.Fatalf("lock error does not name the file: %v", err)
		}
		if _, err := policy.ParsePolicySet(got, rel); err != nil && !strings.HasPrefix(err.Error(), rel) {
			t.Fatalf("policy error does not name the file: %v", err)
		}
		if _, err := diff.ParseIgnoreRules(got, rel); err != nil && !strings.HasPrefix(err.Error(), rel) {
			t.Fatalf("ignore-rules error does not name the file: %v", err)
		}
	})
}
