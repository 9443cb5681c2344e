package images

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func digestOf(c string) string { return "sha256:" + strings.Repeat(c, 64) }

func mustRef(t testing.TB, s string) Reference {
	t.Helper()
	r, err := ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLockRoundTrip(t *testing.T) {
	lock, err := readTestLock(t, "lock-multiarch")
	if err != nil {
		t.Fatal(err)
	}
	want := Lock{Entries: []LockEntry{
		{
			Ref: mustRef(t, "nginx:1.27"), Digest: digestOf("b"), MediaType: "application/vnd.oci.image.index.v1+json",
			Platforms:  []PlatformDigest{{Platform: "linux/amd64", Digest: digestOf("c")}, {Platform: "linux/arm64/v8", Digest: digestOf("d")}},
			ApprovedAt: time.Date(2025, 5, 2, 9, 30, 0, 0, time.UTC),
		},
		{
			Ref: mustRef(t, "registry.example/team/nginx:1.21.0"), Digest: digestOf("a"),
			MediaType: "application/vnd.docker.distribution.manifest.v2+json", ApprovedAt: time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC),
		},
	}}
	if d := cmp.Diff(want, lock); d != "" {
		t.Fatalf("ParseLock (-want +got):\n%s", d)
	}

	data, err := MarshalLock(lock)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "lock-multiarch", "canonical.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantData, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(wantData), string(data)); d != "" {
		t.Fatalf("MarshalLock (-golden +got):\n%s", d)
	}
	again, err := ParseLock("canonical", data)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(lock, again); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
	// Deterministic whatever the order in memory.
	reversed := Lock{Entries: []LockEntry{lock.Entries[1], lock.Entries[0]}}
	reversed.Entries[1].Platforms = []PlatformDigest{lock.Entries[0].Platforms[1], lock.Entries[0].Platforms[0]}
	data2, err := MarshalLock(reversed)
	if err != nil || string(data2) != string(data) {
		t.Fatalf("MarshalLock depends on order: %v\n%s", err, data2)
	}
}

func TestParseLockErrors(t *testing.T) {
	tests := []struct {
		dir  string
		line int
		msg  string
	}{
		{"lock-unknown-field", 6, `unknown field "approvedBy"`},
		{"lock-malformed-yaml", 3, "did not find expected '-' indicator"},
		{"lock-duplicate-entry", 7, "index.docker.io/library/nginx:1.27 is already locked at line 4"},
		{"lock-pinned-image", 4, "must be a tag without digest"},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			_, err := readTestLock(t, tt.dir)
			var lfe *LockFileError
			if !errors.As(err, &lfe) {
				t.Fatalf("err = %v, want *LockFileError", err)
			}
			file := tt.dir + "/" + LockFileName
			if lfe.File != file || lfe.Line != tt.line || !strings.Contains(lfe.Msg, tt.msg) {
				t.Fatalf("got %s:%d: %s; want %s:%d containing %q", lfe.File, lfe.Line, lfe.Msg, file, tt.line, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), file+":") {
				t.Fatalf("message does not start with file:line: %s", err)
			}
		})
	}
}

func TestParseLockInline(t *testing.T) {
	head := "apiVersion: plumbline.dev/v1alpha1\nkind: ImageLock\n"
	entry := "  - image: nginx:1\n    digest: " + digestOf("a") + "\n    approvedAt: \"2025-01-01T00:00:00Z\"\n"
	tests := []struct {
		name, in, msg string
		line          int
	}{
		{"empty file", "", "empty file", 0},
		{"wrong kind", "apiVersion: plumbline.dev/v1alpha1\nkind: Lock\n", `kind must be "ImageLock"`, 2},
		{"wrong apiVersion", "apiVersion: v1\nkind: ImageLock\n", `apiVersion must be`, 1},
		{"missing kind", "apiVersion: plumbline.dev/v1alpha1\n", `missing field "kind"`, 1},
		{"top-level unknown", head + "spec: {}\n", `unknown field "spec"`, 3},
		{"images not a list", head + "images: {}\n", "want a list, got a mapping", 3},
		{"bad digest", head + "images:\n  - image: nginx:1\n    digest: sha256:abc\n    approvedAt: \"2025-01-01T00:00:00Z\"\n", "invalid digest", 5},
		{"digest not a string", head + "images:\n  - image: nginx:1\n    digest: 12\n    approvedAt: \"2025-01-01T00:00:00Z\"\n", "want a string, got int \"12\"", 5},
		{"bad time", head + "images:\n  - image: nginx:1\n    digest: " + digestOf("a") + "\n    approvedAt: yesterday\n", "RFC 3339", 6},
		{"missing approvedAt", head + "images:\n  - image: nginx:1\n    digest: " + digestOf("a") + "\n", `missing field "approvedAt"`, 4},
		{"bad platform", head + "images:\n" + entry + "    platforms:\n      - platform: linux\n        digest: " + digestOf("b") + "\n", "not os/arch", 8},
		{"duplicate key", head + "images:\n" + entry + "images: []\n", `mapping key "images" already defined at line 3`, 7},
		{"two documents", head + "---\n" + head, "more than one YAML document", 3},
		{"tabs", head + "images:\n\t- image: nginx\n", "found character that cannot start any token", 4},
		{"entry not a mapping", head + "images:\n  - nginx:1\n", `want a mapping, got str`, 4},
		{"unknown platform field", head + "images:\n" + entry + "    platforms:\n      - os: linux\n", `unknown field "os"`, 8},
		{"alias bomb", head + "images:\n  - &e {image: \"nginx:1\", digest: \"" + digestOf("a") + "\", approvedAt: \"2025-01-01T00:00:00Z\", platforms: [" +
			strings.Repeat("{digest: \""+digestOf("b")+"\"},", 60) + "]}\n" + strings.Repeat("  - *e\n", 10000), "excessive aliasing", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLock("apps/web/"+LockFileName, []byte(tt.in))
			var lfe *LockFileError
			if !errors.As(err, &lfe) {
				t.Fatalf("err = %v, want *LockFileError", err)
			}
			if lfe.Line != tt.line || !strings.Contains(lfe.Msg, tt.msg) {
				t.Fatalf("got line %d %q; want line %d containing %q", lfe.Line, lfe.Msg, tt.line, tt.msg)
			}
		})
	}
	if l, err := ParseLock("x", []byte(head+"images: []\n")); err != nil || len(l.Entries) != 0 {
		t.Fatalf("empty images: %v, %v", l, err)
	}
}

// readTestLock parses testdata/<dir>/plumbline.lock.yaml, named as dir/plumbline.lock.yaml.
func readTestLock(t *testing.T, dir string) (Lock, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", dir, LockFileName))
	if err != nil {
		t.Fatal(err)
	}
	return ParseLock(dir+"/"+LockFileName, data)
}
