package vulns

import (
	"archive/zip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plumbline/plumbline/images/inventory"
)

// exportDB zips each testdata/osv/<Ecosystem> folder into dir/<Ecosystem>/all.zip,
// the layout of osv.dev's per-ecosystem export.
func exportDB(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	ecos, err := os.ReadDir("testdata/osv")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ecos {
		if err := os.MkdirAll(filepath.Join(dir, e.Name()), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dir, e.Name(), "all.zip"))
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(out)
		files, _ := filepath.Glob(filepath.Join("testdata/osv", e.Name(), "*.json"))
		for _, f := range files {
			w, err := zw.Create(filepath.Base(f))
			if err != nil {
				t.Fatal(err)
			}
			in, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(w, in); err != nil {
				t.Fatal(err)
			}
			in.Close()
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func deb(name, source, version string) inventory.Package {
	return inventory.Package{Name: name, Version: version, Ecosystem: "Debian:12", PURLType: "deb", Location: "var/lib/dpkg/status",
		OS: &inventory.OSPackage{Kind: "dpkg", SourceName: source, OSID: "debian", OSVersionID: "12", OSCodename: "bookworm", Status: "install ok installed"}}
}

func apk(name, origin, version string) inventory.Package {
	return inventory.Package{Name: name, Version: version, Ecosystem: "Alpine:v3.20", PURLType: "apk", Location: "lib/apk/db/installed",
		OS: &inventory.OSPackage{Kind: "apk", SourceName: origin, OSID: "alpine", OSVersionID: "3.20.1"}}
}

type hit struct{ ID, Package, Version, Fixed, Severity string }

func hits(fs []Finding) []hit {
	var out []hit
	for _, f := range fs {
		out = append(out, hit{f.ID, f.Package, f.Version, f.Fixed, f.Severity})
	}
	return out
}

func TestMatchEcosystemOrder(t *testing.T) {
	for _, layout := range []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{"osv.dev export (Ecosystem/all.zip)", func(t *testing.T) string { return exportDB(t) }},
		{"folder of OSV JSON", func(*testing.T) string { return "testdata/osv" }},
	} {
		t.Run(layout.name, func(t *testing.T) {
			db, err := Load(layout.dir(t), Options{MaxAge: -1})
			if err != nil {
				t.Fatal(err)
			}
			if db.Records != 7 || len(db.Warnings) != 0 {
				t.Fatalf("loaded %d records with warnings %q, want 7 and none", db.Records, db.Warnings)
			}
			for _, tc := range []struct {
				name string
				pkgs []inventory.Package
				want []hit
			}{
				{"approved openssl: before DSA-9999-1's introduced, before 3.0.20-1", []inventory.Package{deb("openssl", "", "3.0.19-1~deb12u2")},
					[]hit{{"DEBIAN-CVE-2026-0004", "openssl", "3.0.19-1~deb12u2", "3.0.20-1", "Low"}}},
				{"rebuilt openssl: inside DSA-9999-1, and ~deb12u1 sorts before the 3.0.20-1 release", []inventory.Package{deb("openssl", "", "3.0.20-1~deb12u1")},
					[]hit{{"DSA-9999-1", "openssl", "3.0.20-1~deb12u1", "3.0.20-1~deb12u2", "High"}, {"DEBIAN-CVE-2026-0004", "openssl", "3.0.20-1~deb12u1", "3.0.20-1", "Low"}}},
				{"fixed openssl", []inventory.Package{deb("openssl", "", "3.0.20-1~deb12u2")},
					[]hit{{"DEBIAN-CVE-2026-0004", "openssl", "3.0.20-1~deb12u2", "3.0.20-1", "Low"}}},
				{"released openssl is past every fix", []inventory.Package{deb("openssl", "", "3.0.20-1")}, nil},
				{"binary package matched by its source name", []inventory.Package{deb("libssl3", "openssl", "3.0.20-1~deb12u1")},
					[]hit{{"DSA-9999-1", "libssl3", "3.0.20-1~deb12u1", "3.0.20-1~deb12u2", "High"}, {"DEBIAN-CVE-2026-0004", "libssl3", "3.0.20-1~deb12u1", "3.0.20-1", "Low"}}},
				{"epoch 1: 1:1.2.13 is above 1.3, below 1:1.2.13.dfsg-2", []inventory.Package{deb("zlib1g", "zlib", "1:1.2.13.dfsg-1")},
					[]hit{{"DEBIAN-CVE-2026-0003", "zlib1g", "1:1.2.13.dfsg-1", "1:1.2.13.dfsg-2", "Medium"}}},
				{"a Debian 11 record does not match Debian 12", []inventory.Package{deb("bash", "bash", "5.2.15-2+b8")}, nil},
				{"alpine: r-releases in order, CVSS 4.0 scored", []inventory.Package{apk("libcrypto3", "openssl", "3.3.1-r0")},
					[]hit{{"ALPINE-CVE-2026-0006", "libcrypto3", "3.3.1-r0", "3.3.2-r0", "Critical"}}},
				{"alpine fixed", []inventory.Package{apk("libcrypto3", "openssl", "3.3.2-r0")}, nil},
			} {
				t.Run(tc.name, func(t *testing.T) {
					got := db.Match(tc.pkgs)
					if diff := cmp.Diff(tc.want, hits(got)); diff != "" {
						t.Errorf("findings (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

func TestMatchNamesAliases(t *testing.T) {
	db, err := Load("testdata/osv", Options{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	got := db.Match([]inventory.Package{deb("openssl", "", "3.0.20-1~deb12u1")})
	if len(got) == 0 || got[0].ID != "DSA-9999-1" {
		t.Fatalf("findings %+v, want DSA-9999-1 first", got)
	}
	if diff := cmp.Diff([]string{"CVE-2026-0001"}, got[0].Aliases); diff != "" {
		t.Errorf("aliases (-want +got):\n%s", diff)
	}
	if got[0].Vector != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H" {
		t.Errorf("vector %q", got[0].Vector)
	}
}

func TestLoadWarnsAndRefuses(t *testing.T) {
	t.Run("stale", func(t *testing.T) {
		dir := exportDB(t)
		old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, eco := range []string{"Debian", "Alpine"} {
			if err := os.Chtimes(filepath.Join(dir, eco, "all.zip"), old, old); err != nil {
				t.Fatal(err)
			}
		}
		db, err := Load(dir, Options{MaxAge: 48 * time.Hour, Now: func() time.Time { return old.Add(72 * time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		want := "OSV database " + dir + " is stale: last updated 2026-01-01T00:00:00Z (72h0m0s ago, more than 48h0m0s): newer vulnerabilities are missing"
		if diff := cmp.Diff([]string{want}, db.Warnings); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
	})
	t.Run("empty", func(t *testing.T) {
		dir := t.TempDir()
		db, err := Load(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(db.Warnings) != 1 || !strings.Contains(db.Warnings[0], "holds no records: vulnerabilities not checked") {
			t.Errorf("warnings %q", db.Warnings)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope"), Options{})
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("error %v, want not exist", err)
		}
		if got := Missing(""); got != "vulnerabilities not checked: no OSV database given (--vuln-db DIR)" {
			t.Errorf("Missing: %q", got)
		}
	})
	for _, tc := range []struct {
		name, body, want string
	}{
		{"not JSON", `{"id": "DSA-1", "affected": [`, "DSA-1.json: malformed OSV record"},
		{"wrong type", `{"id": "DSA-1", "affected": "openssl"}`, "DSA-1.json: malformed OSV record"},
		{"no id", `{"affected": []}`, "DSA-1.json: malformed OSV record: no id"},
	} {
		t.Run("malformed record: "+tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "DSA-1.json"), []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir, Options{})
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("error %v, want %q naming %s", err, tc.want, dir)
			}
		})
	}
}
