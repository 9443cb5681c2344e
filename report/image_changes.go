package report

import (
	"fmt"
	"strings"
)

// maxListed bounds the packages and vulnerabilities named on one line; the rest are counted.
const maxListed = 10

// ImageChangeLines renders what a rebuild changed inside an image, one line per aspect, as
// `diff`, `run` and Slack show it under the "Image: … was rebuilt" message:
//
//	Packages: openssl 3.0.11-1~deb12u1 → 3.0.13-1~deb12u1; added netcat-openbsd 1.219-1; removed 0
//	Config: User changed from 'nginx' to '' (root)
//	Vulnerabilities new in this digest: CVE-2023-XXXX (High) in openssl 3.0.13-1~deb12u1, fixed in 3.0.13-1~deb12u2
//
// Untrusted strings are made printable. A nil c renders nothing.
func ImageChangeLines(c *ImageChanges) []string {
	if c == nil {
		return nil
	}
	var out []string
	// With a note and nothing compared (the approved digest could not be scanned), there is no
	// package or config diff to show, only the served digest's vulnerabilities.
	compared := c.Note == "" || len(c.PackagesAdded)+len(c.PackagesRemoved)+len(c.PackagesChanged)+len(c.Config) > 0
	if !compared {
		return appendVulnsAndNote(out, c)
	}
	var pk []string
	for _, p := range c.PackagesChanged {
		pk = append(pk, fmt.Sprintf("%s %s → %s", p.Name, p.From, p.To))
	}
	pk = capList(pk)
	pk = append(pk, packagesPart("added", c.PackagesAdded), packagesPart("removed", c.PackagesRemoved))
	out = append(out, "Packages: "+Printable(strings.Join(pk, "; ")))
	if len(c.Config) > 0 {
		var cs []string
		for _, ch := range c.Config {
			s := fmt.Sprintf("%s changed from '%s' to '%s'", ch.Field, ch.From, ch.To)
			if ch.Field == "User" && isRootUser(ch.To) {
				s += " (root)"
			}
			cs = append(cs, s)
		}
		out = append(out, "Config: "+Printable(strings.Join(cs, "; ")))
	} else {
		out = append(out, "Config: unchanged")
	}
	return appendVulnsAndNote(out, c)
}

func appendVulnsAndNote(out []string, c *ImageChanges) []string {
	if len(c.NewVulnerabilities) > 0 {
		var vs []string
		for _, v := range c.NewVulnerabilities {
			vs = append(vs, VulnerabilityText(v))
		}
		out = append(out, "Vulnerabilities new in this digest: "+Printable(strings.Join(capList(vs), "; ")))
	}
	if c.Note != "" {
		out = append(out, "Note: "+Printable(c.Note))
	}
	return out
}

// VulnerabilityText names one vulnerability: "CVE-2023-XXXX (High) in openssl 3.0.13-1~deb12u1,
// fixed in 3.0.13-1~deb12u2". A record whose id is not a CVE is named by its CVE alias, with
// the id after it.
func VulnerabilityText(v Vulnerability) string {
	name := v.ID
	for _, a := range v.Aliases {
		if strings.HasPrefix(a, "CVE-") && !strings.Contains(v.ID, a) {
			name = a + " [" + v.ID + "]"
			break
		}
	}
	s := fmt.Sprintf("%s (%s) in %s %s", name, v.Severity, v.Package, v.Version)
	if v.Fixed != "" {
		s += ", fixed in " + v.Fixed
	} else {
		s += ", no fix known"
	}
	return s
}

func packagesPart(verb string, ps []Package) string {
	if len(ps) == 0 {
		return verb + " 0"
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name+" "+p.Version)
	}
	return verb + " " + strings.Join(capList(names), ", ")
}

func capList(s []string) []string {
	if len(s) <= maxListed {
		return s
	}
	return append(s[:maxListed:maxListed], fmt.Sprintf("and %d more", len(s)-maxListed))
}

func isRootUser(u string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(u), ":")
	return name == "" || name == "0" || name == "root"
}
