package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// debianImage is an image whose one layer carries the real Debian 12 dpkg slice of
// images/inventory/testdata (status or status-rebuild), run as user.
func debianImage(t *testing.T, status, user string) v1.Image {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, f := range []struct{ name, src string }{
		{"etc/os-release", "os-release"},
		{"var/lib/dpkg/status", status},
	} {
		body, err := os.ReadFile(filepath.Join("..", "..", "images", "inventory", "testdata", "debian12", f.src))
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	b := gz.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.User = user
	cf.Config.Env = []string{"PATH=/usr/bin", "API_TOKEN=do-not-print-me"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func pushImage(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

func newRegistryHost(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

const insidePolicy = `apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
metadata: {name: ci}
spec:
  builtins:
    run-as-non-root: {enabled: false}
  params:
    vulnerabilities:
      minSeverity: high
%s
`

func writePolicy(t *testing.T, dir, ignore string) string {
	t.Helper()
	p := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(p, []byte(strings.Replace(insidePolicy, "%s", ignore, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := execute(t.Context(), args, &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

// TestCheckVulnDB: check --vuln-db exits 1 on a High vulnerability, 0 with a valid ignore
// entry, and 1 again once that entry has expired, saying so.
func TestCheckVulnDB(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	image := newRegistryHost(t) + "/team/nginx:1.21.0"
	pushImage(t, image, debianImage(t, "status-rebuild", "nginx"))
	dir := webFolder(t, image)
	if code, out := run(t, "images", "lock", "--path", dir); code != exitOK {
		t.Fatalf("lock: exit %d\n%s", code, out)
	}
	work := t.TempDir()
	cache := filepath.Join(work, "scans")
	db := filepath.Join("..", "..", "images", "vulns", "testdata", "osv")
	check := func(ignore string) (int, string) {
		return run(t, "check", "--path", dir, "--policy", writePolicy(t, work, ignore), "--vuln-db", db, "--vuln-db-max-age", "-1s", "--scan-cache-dir", cache)
	}
	code, out := check("")
	if code != exitFinding {
		t.Fatalf("exit %d, want %d\n%s", code, exitFinding, out)
	}
	for _, want := range []string{
		"Policy Violation: DSA-9999-1 / CVE-2026-0001 (High) - In package 'openssl' 3.0.20-1~deb12u1, fixed in 3.0.20-1~deb12u2 (container web) [block-vulnerabilities, high]",
		"Policy Violation: DSA-9999-1 / CVE-2026-0001 (High) - In package 'libssl3' 3.0.20-1~deb12u1, fixed in 3.0.20-1~deb12u2 (container web) [block-vulnerabilities, high]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "DEBIAN-CVE-2026-0004") {
		t.Errorf("a Low vulnerability is reported at minSeverity high:\n%s", out)
	}
	valid := "      ignore:\n        - {id: CVE-2026-0001, reason: 'DoS only, behind the proxy', expires: 2099-01-31}"
	if code, out := check(valid); code != exitOK {
		t.Fatalf("with a valid ignore entry: exit %d, want 0\n%s", code, out)
	}
	expired := "      ignore:\n        - {id: CVE-2026-0001, reason: 'DoS only, behind the proxy', expires: 2026-01-31}"
	code, out = check(expired)
	if code != exitFinding {
		t.Fatalf("with an expired ignore entry: exit %d, want 1\n%s", code, out)
	}
	if !strings.Contains(out, "the ignore entry for CVE-2026-0001 expired on 2026-01-31 and no longer applies (reason was: DoS only, behind the proxy)") {
		t.Errorf("check does not say the ignore entry expired:\n%s", out)
	}
	if strings.Contains(out, "do-not-print-me") {
		t.Errorf("an environment value leaked:\n%s", out)
	}
}

// TestCheckRebuiltTagShowsInside: a tag rebuilt after approval shows what changed inside it,
// and a root user in the rebuild is the mission's misconfiguration.
func TestCheckRebuiltTagShowsInside(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	image := newRegistryHost(t) + "/team/nginx:1.21.0"
	pushImage(t, image, debianImage(t, "status", "nginx"))
	dir := webFolder(t, image)
	if code, out := run(t, "images", "lock", "--path", dir); code != exitOK {
		t.Fatalf("lock: exit %d\n%s", code, out)
	}
	pushImage(t, image, debianImage(t, "status-rebuild", ""))
	work := t.TempDir()
	code, out := run(t, "check", "--path", dir, "--policy", writePolicy(t, work, ""), "--vuln-db", filepath.Join("..", "..", "images", "vulns", "testdata", "osv"),
		"--vuln-db-max-age", "-1s", "--scan-cache-dir", filepath.Join(work, "scans"))
	if code != exitFinding {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		"was rebuilt under the same tag",
		"    Packages: libssl3 3.0.19-1~deb12u2 → 3.0.20-1~deb12u1; openssl 3.0.19-1~deb12u2 → 3.0.20-1~deb12u1; added netcat-openbsd 1.219-1; removed 0\n",
		"    Config: User changed from 'nginx' to '' (root)\n",
		"    Vulnerabilities new in this digest: CVE-2026-0001 [DSA-9999-1] (High) in libssl3 3.0.20-1~deb12u1, fixed in 3.0.20-1~deb12u2; CVE-2026-0001 [DSA-9999-1] (High) in openssl 3.0.20-1~deb12u1, fixed in 3.0.20-1~deb12u2\n",
		"Policy Violation: Misconfiguration: 'root' user allowed to run container (container web) [image-runs-as-root, high]",
		"(new in this digest)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "DEBIAN-CVE-2026-0004 (Low) in") {
		t.Errorf("a vulnerability of both digests is called new:\n%s", out)
	}
}

// TestCheckWithoutVulnDBWarns: scanning without a database warns; it never says "no vulnerabilities".
func TestCheckWithoutVulnDBWarns(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	image := newRegistryHost(t) + "/team/nginx:1.21.0"
	pushImage(t, image, debianImage(t, "status-rebuild", "nginx"))
	dir := webFolder(t, image)
	if code, out := run(t, "images", "lock", "--path", dir); code != exitOK {
		t.Fatalf("lock: exit %d\n%s", code, out)
	}
	work := t.TempDir()
	code, out := run(t, "check", "--path", dir, "--policy", writePolicy(t, work, ""), "--scan-images", "--scan-cache-dir", filepath.Join(work, "scans"))
	if code != exitOK {
		t.Fatalf("exit %d, want 0\n%s", code, out)
	}
	if !strings.Contains(out, "Warning: vulnerabilities not checked: no OSV database given (--vuln-db DIR)") {
		t.Errorf("no warning that vulnerabilities were not checked:\n%s", out)
	}
}

func TestImagesScan(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	image := newRegistryHost(t) + "/team/nginx:1.21.0"
	pushImage(t, image, debianImage(t, "status-rebuild", ""))
	code, out := run(t, "images", "scan", image, "--vuln-db", filepath.Join("..", "..", "images", "vulns", "testdata", "osv"), "--vuln-db-max-age", "-1s",
		"--scan-cache-dir", t.TempDir())
	if code != exitFinding {
		t.Fatalf("exit %d, want 1 (a High vulnerability)\n%s", code, out)
	}
	for _, want := range []string{
		"  User: '' (root)\n",
		"  Env (names only): API_TOKEN, PATH\n",
		"Packages: 6\n",
		"  Debian:12      netcat-openbsd 1.219-1\n",
		"Vulnerabilities: 5\n",
		"  CVE-2026-0001 [DSA-9999-1] (High) in openssl 3.0.20-1~deb12u1, fixed in 3.0.20-1~deb12u2\n",
		"  DEBIAN-CVE-2026-0003 (Medium) in zlib1g 1:1.2.13.dfsg-1, fixed in 1:1.2.13.dfsg-2\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scan output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "do-not-print-me") {
		t.Errorf("an environment value leaked:\n%s", out)
	}
}
