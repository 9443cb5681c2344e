package inventory

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func debianBase(t testing.TB, status string) []entry {
	return []entry{
		{name: "etc/", typeflag: tar.TypeDir, mode: 0o755},
		file("usr/lib/os-release", readTestdata(t, "debian12/os-release")),
		{name: "etc/os-release", typeflag: tar.TypeSymlink, link: "../usr/lib/os-release"},
		file("var/lib/dpkg/status", readTestdata(t, "debian12/"+status)),
		file("usr/share/doc/readme", []byte("not needed by any extractor")),
	}
}

func names(ps []Package) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Ecosystem+" "+p.Name+" "+p.Version)
	}
	return out
}

func TestScanApprovedAgainstRebuild(t *testing.T) {
	reg := newRegistry(t)
	s, _ := newTestScanner(t)
	ctx := context.Background()
	base := layer(t, debianBase(t, "status")...)
	app := layer(t, file("usr/share/nginx/html/index.html", []byte("hi")))
	_, approvedImg := reg.push(t, "team/nginx:1.21.0", image(t, "nginx", []string{"PATH=/usr/bin", "NGINX_VERSION=1.21.0"}, base, app))
	rebuiltBase := layer(t, debianBase(t, "status-rebuild")...)
	_, servedImg := reg.push(t, "team/nginx:1.21.0", image(t, "", []string{"PATH=/usr/bin", "NGINX_VERSION=1.21.0", "SECRET_TOKEN=hunter2"}, rebuiltBase, app))

	approved, err := s.Scan(ctx, "team/nginx:1.21.0", approvedImg)
	if err != nil {
		t.Fatal(err)
	}
	wantApproved := []string{
		"Debian:12 base-files 12.4+deb12u11", "Debian:12 bash 5.2.15-2+b8", "Debian:12 libssl3 3.0.19-1~deb12u2",
		"Debian:12 openssl 3.0.19-1~deb12u2", "Debian:12 zlib1g 1:1.2.13.dfsg-1",
	}
	if diff := cmp.Diff(wantApproved, names(approved.Packages)); diff != "" {
		t.Errorf("approved packages (-want +got):\n%s", diff)
	}
	served, err := s.Scan(ctx, "team/nginx:1.21.0", servedImg)
	if err != nil {
		t.Fatal(err)
	}
	got := Compare(approved, served)
	want := Changes{
		Added: []Package{{Name: "netcat-openbsd", Version: "1.219-1", Ecosystem: "Debian:12", Location: "var/lib/dpkg/status", PURLType: "deb",
			OS: &OSPackage{Kind: "dpkg", SourceName: "", OSID: "debian", OSVersionID: "12", OSCodename: "bookworm", Status: "install ok installed"}}},
		Changed: []PackageChange{
			{Name: "libssl3", Ecosystem: "Debian:12", Location: "var/lib/dpkg/status", From: "3.0.19-1~deb12u2", To: "3.0.20-1~deb12u1"},
			{Name: "openssl", Ecosystem: "Debian:12", Location: "var/lib/dpkg/status", From: "3.0.19-1~deb12u2", To: "3.0.20-1~deb12u1"},
		},
		Config: []ConfigChange{
			{Field: "User", From: "nginx", To: ""},
			{Field: "Env", From: "NGINX_VERSION, PATH", To: "NGINX_VERSION, PATH, SECRET_TOKEN"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if !served.Config.RunsAsRoot() || approved.Config.RunsAsRoot() {
		t.Errorf("RunsAsRoot: approved %v served %v, want false and true", approved.Config.RunsAsRoot(), served.Config.RunsAsRoot())
	}
	for _, c := range got.Config {
		if strings.Contains(c.From+c.To, "hunter2") {
			t.Errorf("config change %+v carries an environment value", c)
		}
	}
}

func TestScanAlpineAndGoBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go binary")
	}
	bin := buildGoBinary(t)
	reg := newRegistry(t)
	s, _ := newTestScanner(t)
	l := layer(t,
		file("etc/os-release", readTestdata(t, "alpine/os-release")),
		file("lib/apk/db/installed", readTestdata(t, "alpine/installed")),
		entry{name: "usr/local/bin/hello", body: bin, mode: 0o755},
	)
	_, img := reg.push(t, "team/hello:1", image(t, "65532", nil, l))
	inv, err := s.Scan(context.Background(), "team/hello:1", img)
	if err != nil {
		t.Fatal(err)
	}
	got := names(inv.Packages)
	for _, want := range []string{"Alpine:v3.20 libcrypto3 3.3.1-r0", "Alpine:v3.20 musl 1.2.5-r0", "Go example.com/hello (devel)", "Go go " + goVersion()} {
		found := false
		for _, g := range got {
			if g == want {
				found = true
			}
		}
		if !found {
			t.Errorf("packages %q lack %q", got, want)
		}
	}
	for _, p := range inv.Packages {
		if p.Ecosystem == "Go" && p.Location != "usr/local/bin/hello" {
			t.Errorf("Go package %+v not located in the binary", p)
		}
	}
}

func buildGoBinary(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/hello\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"hello\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", "hello", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestScanWhiteoutRemovesPackages(t *testing.T) {
	reg := newRegistry(t)
	s, _ := newTestScanner(t)
	ctx := context.Background()
	base := layer(t, debianBase(t, "status")...)
	for _, tc := range []struct {
		name  string
		upper []entry
	}{
		{"whiteout of the database", []entry{{name: "var/lib/dpkg/.wh.status", mode: 0o644}}},
		{"opaque database folder", []entry{{name: "var/lib/dpkg/", typeflag: tar.TypeDir, mode: 0o755}, {name: "var/lib/dpkg/.wh..wh..opq", mode: 0o644}}},
		{"whiteout of a parent folder", []entry{{name: "var/lib/.wh.dpkg", mode: 0o644}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, img := reg.push(t, "team/gone:"+tagOf(tc.name), image(t, "app", nil, base, layer(t, tc.upper...)))
			inv, err := s.Scan(ctx, "team/gone", img)
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.Packages) != 0 {
				t.Errorf("packages after the whiteout: %q, want none", names(inv.Packages))
			}
		})
	}
}

func TestScanCacheMakesNoBlobRequests(t *testing.T) {
	reg := newRegistry(t)
	s, dir := newTestScanner(t)
	ctx := context.Background()
	digest, img := reg.push(t, "team/nginx:1", image(t, "nginx", nil, layer(t, debianBase(t, "status")...)))
	before := reg.blobs.Load()
	first, err := s.Scan(ctx, "team/nginx:1", img)
	if err != nil {
		t.Fatal(err)
	}
	if reg.blobs.Load() == before {
		t.Fatal("first scan made no blob requests")
	}
	// A new Scanner over the same folder: the cache is on disk.
	s2, err := NewScanner(dir)
	if err != nil {
		t.Fatal(err)
	}
	again := reg.pull(t, "team/nginx:1", digest)
	before = reg.blobs.Load()
	second, err := s2.Scan(ctx, "team/nginx:1", again)
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.blobs.Load() - before; n != 0 {
		t.Errorf("second scan of %s made %d blob requests, want 0", digest, n)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("cached inventory differs (-first +second):\n%s", diff)
	}
	left, err := os.ReadDir(filepath.Join(dir, workSubdir))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("scan left %d temporary folders", len(left))
	}
}

func TestScanRefusesBadInput(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	good := layer(t, debianBase(t, "status")...)
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		img     func(t *testing.T) v1Image
		limits  *Limits
		wantErr error
		want    []string
	}{
		{name: "layer is not gzip", img: func(t *testing.T) v1Image {
			return image(t, "app", nil, good, rawLayer(t, []byte("this is not a gzip stream at all")))
		}, want: []string{"team/bad", "layer 1 (sha256:", "not a valid tar (or gzip'd tar) stream"}},
		{name: "path with ../", img: func(t *testing.T) v1Image {
			return image(t, "app", nil, layer(t, file("../../"+filepath.Base(outside)+"/evil", []byte("x"))))
		}, wantErr: ErrUnsafePath, want: []string{"layer 0 (sha256:", `"../../`, "leaves the image root"}},
		{name: "symbolic link leaving the root", img: func(t *testing.T) v1Image {
			return image(t, "app", nil, good, layer(t, entry{name: "var/lib/dpkg/status.d", typeflag: tar.TypeSymlink, link: "../../../../etc"}))
		}, wantErr: ErrUnsafePath, want: []string{"layer 1 (sha256:", "symbolic link /var/lib/dpkg/status.d -> ../../../../etc"}},
		{name: "hard link leaving the root", img: func(t *testing.T) v1Image {
			return image(t, "app", nil, layer(t, entry{name: "var/lib/dpkg/status", typeflag: tar.TypeLink, link: "../../etc/shadow"}))
		}, wantErr: ErrUnsafePath, want: []string{"layer 0 (sha256:", "hard link /var/lib/dpkg/status -> ../../etc/shadow"}},
		{name: "declared 10 GiB layer", img: func(t *testing.T) v1Image {
			return reg.declareHuge(t, "team/bad:huge", image(t, "app", nil, good, layer(t, file("x", []byte("x")))), 1)
		}, wantErr: ErrTooLarge, want: []string{"layer 1 (sha256:", "declared size 10737418240 bytes is over the limit"}},
		{name: "file over the per-file limit", limits: &Limits{MaxLayerBytes: 1 << 30, MaxFileBytes: 1000, MaxExtractedBytes: 1 << 30, MaxLayers: 10},
			img: func(t *testing.T) v1Image {
				return image(t, "app", nil, good)
			}, wantErr: ErrTooLarge, want: []string{"layer 0 (sha256:", "/var/lib/dpkg/status", "over the limit of 1000 bytes per file"}},
		{name: "corrupt package database", img: func(t *testing.T) v1Image {
			return image(t, "app", nil, layer(t, file("etc/os-release", readTestdata(t, "debian12/os-release")),
				file("var/lib/dpkg/status", []byte("Package: openssl\nStatus install ok installed\n\x00\x01\x02 garbage without colons\n"))))
		}, wantErr: ErrPackageDB, want: []string{"team/bad", "layer 0 (sha256:", "/var/lib/dpkg/status"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []Option
			if tc.limits != nil {
				opts = append(opts, WithLimits(*tc.limits))
			}
			s, dir := newTestScanner(t, opts...)
			img := tc.img(t)
			if _, ok := img.(*remoteImage); !ok {
				_, img = reg.push(t, "team/bad:"+tagOf(tc.name), img)
			}
			_, err := s.Scan(ctx, "team/bad", img)
			if err == nil {
				t.Fatal("Scan succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v is not %v", err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Errorf("scan wrote %d files outside its folder", len(entries))
			}
			if left, _ := os.ReadDir(filepath.Join(dir, workSubdir)); len(left) != 0 {
				t.Errorf("scan left %d temporary folders", len(left))
			}
		})
	}
}

func tagOf(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(name))
}

func goVersion() string { return strings.TrimPrefix(runtime.Version(), "go") }
