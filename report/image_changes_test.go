package report

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestImageChangeLines(t *testing.T) {
	c := &ImageChanges{
		PackagesChanged: []PackageChange{{Name: "openssl", From: "3.0.11-1~deb12u1", To: "3.0.13-1~deb12u1", Ecosystem: "Debian:12"}},
		PackagesAdded:   []Package{{Name: "netcat-openbsd", Version: "1.219-1", Ecosystem: "Debian:12"}},
		Config:          []ConfigChange{{Field: "User", From: "nginx", To: ""}},
		NewVulnerabilities: []Vulnerability{{ID: "DSA-9999-1", Aliases: []string{"CVE-2023-XXXX"}, Package: "openssl",
			Version: "3.0.13-1~deb12u1", Fixed: "3.0.13-1~deb12u2", Severity: "High"}},
	}
	want := []string{
		"Packages: openssl 3.0.11-1~deb12u1 → 3.0.13-1~deb12u1; added netcat-openbsd 1.219-1; removed 0",
		"Config: User changed from 'nginx' to '' (root)",
		"Vulnerabilities new in this digest: CVE-2023-XXXX [DSA-9999-1] (High) in openssl 3.0.13-1~deb12u1, fixed in 3.0.13-1~deb12u2",
	}
	if diff := cmp.Diff(want, ImageChangeLines(c)); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	r := &Report{Findings: []Finding{{Type: ImageTagMutated, Object: ObjectRef{Kind: "Deployment", Namespace: "shop", Name: "web"},
		Message: "Image: registry.example.com/team/nginx:1.21.0 was rebuilt under the same tag", Image: &Image{Changes: c}}},
		Warnings: []string{"OSV database /var/lib/osv is stale"}}
	var b strings.Builder
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, l := range want {
		if !strings.Contains(b.String(), "\n    "+l+"\n") {
			t.Errorf("text report lacks %q:\n%s", l, b.String())
		}
	}
	if !strings.Contains(b.String(), "Warning: OSV database /var/lib/osv is stale\n") {
		t.Errorf("text report lacks the warning:\n%s", b.String())
	}
}

func TestImageChangeLinesNote(t *testing.T) {
	got := ImageChangeLines(&ImageChanges{Note: "the approved digest sha256:aaa… can no longer be pulled"})
	want := []string{"Note: the approved digest sha256:aaa… can no longer be pulled"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}
