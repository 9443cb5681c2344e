package vulns

import (
	"sort"

	"github.com/google/osv-scalibr/enricher/vulnmatch/osvlocal"
	"github.com/google/osv-scalibr/extractor"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"
	"github.com/google/osv-scalibr/semantic"
	osvpb "github.com/ossf/osv-schema/bindings/go/osvschema"

	"github.com/plumbline/plumbline/images/inventory"
)

// Finding is one vulnerability of one installed package.
type Finding struct {
	// ID is the record's id (CVE-…, DSA-…, GHSA-…, GO-…).
	ID string
	// Aliases are the record's other ids (often the CVE), sorted.
	Aliases []string
	// Package, Version and Ecosystem name the installed package.
	Package, Version, Ecosystem string
	// Fixed is the first fixed version above the installed one; "" when none is known.
	Fixed string
	// Severity is "Critical", "High", "Medium", "Low" or "Unknown".
	Severity string
	// Vector is the CVSS vector the severity was computed from, "" when it
	// came from the ecosystem's grade.
	Vector string
	// Summary is the record's one-line summary.
	Summary string
}

// Match returns the vulnerabilities of pkgs, sorted by severity (worst
// first), package, then id. One record matching a package twice counts once.
func (db *DB) Match(pkgs []inventory.Package) []Finding {
	var out []Finding
	for _, p := range pkgs {
		cands := db.candidates(p)
		if len(cands) == 0 {
			continue
		}
		ep := toExtractor(p)
		for _, v := range osvlocal.VulnerabilitiesAffectingPackage(cands, ep) {
			sev, vec := severityOf(v, p)
			out = append(out, Finding{
				ID: v.GetId(), Aliases: sortedCopy(v.GetAliases()),
				Package: p.Name, Version: p.Version, Ecosystem: p.Ecosystem,
				Fixed: fixedVersion(v, p), Severity: sev, Vector: vec, Summary: v.GetSummary(),
			})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ra, rb := Rank(a.Severity), Rank(b.Severity); ra != rb {
			return ra > rb
		}
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		return a.ID < b.ID
	})
	return out
}

// candidates are the records filed under the package's binary or source name.
func (db *DB) candidates(p inventory.Package) []*osvpb.Vulnerability {
	names := []string{p.Name, normalName(p.Name)}
	if p.OS != nil && p.OS.SourceName != "" {
		names = append(names, p.OS.SourceName)
	}
	var out []*osvpb.Vulnerability
	seen := map[*osvpb.Vulnerability]bool{}
	for _, n := range names {
		for _, v := range db.byName[n] {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// toExtractor rebuilds the osv-scalibr package the extractor produced, with
// the metadata its matcher reads (source name, distribution).
func toExtractor(p inventory.Package) *extractor.Package {
	ep := &extractor.Package{Name: p.Name, Version: p.Version, PURLType: p.PURLType}
	if p.OS == nil {
		return ep
	}
	switch p.OS.Kind {
	case "dpkg":
		ep.Metadata = &dpkgmeta.Metadata{PackageName: p.Name, PackageVersion: p.Version, SourceName: p.OS.SourceName,
			SourceVersion: p.OS.SourceVersion, OSID: p.OS.OSID, OSVersionID: p.OS.OSVersionID, OSVersionCodename: p.OS.OSCodename, Status: p.OS.Status}
	case "apk":
		ep.Metadata = &apkmeta.Metadata{PackageName: p.Name, OriginName: p.OS.SourceName, OSID: p.OS.OSID, OSVersionID: p.OS.OSVersionID}
	case "rpm":
		ep.Metadata = &rpmmeta.Metadata{PackageName: p.Name, SourceRPM: p.OS.SourceName, OSID: p.OS.OSID, OSVersionID: p.OS.OSVersionID, Epoch: p.OS.Epoch}
	}
	return ep
}

// affectedOf are the record's entries for the package's ecosystem family and name.
func affectedOf(v *osvpb.Vulnerability, p inventory.Package) []*osvpb.Affected {
	var out []*osvpb.Affected
	for _, a := range v.GetAffected() {
		n := a.GetPackage().GetName()
		if n != p.Name && (p.OS == nil || n != p.OS.SourceName) && normalName(n) != normalName(p.Name) {
			continue
		}
		if ecosystemBase(a.GetPackage().GetEcosystem()) != ecosystemBase(p.Ecosystem) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// fixedVersion is the lowest "fixed" event above the installed version, in
// the ecosystem's version order (osv-scalibr's semantic package).
func fixedVersion(v *osvpb.Vulnerability, p inventory.Package) string {
	eco := ecosystemBase(p.Ecosystem)
	installed, err := semantic.Parse(p.Version, eco)
	if err != nil {
		return ""
	}
	best := ""
	var bestV semantic.Version
	for _, a := range affectedOf(v, p) {
		for _, r := range a.GetRanges() {
			for _, e := range r.GetEvents() {
				f := e.GetFixed()
				if f == "" {
					continue
				}
				if c, err := installed.CompareStr(f); err != nil || c >= 0 {
					continue
				}
				if best != "" {
					if c, err := bestV.CompareStr(f); err != nil || c <= 0 {
						continue
					}
				}
				fv, err := semantic.Parse(f, eco)
				if err != nil {
					continue
				}
				best, bestV = f, fv
			}
		}
	}
	return best
}

// ecosystemBase drops the release suffix: "Debian:12" is "Debian".
func ecosystemBase(eco string) string {
	for i := range len(eco) {
		if eco[i] == ':' {
			return eco[:i]
		}
	}
	return eco
}

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
