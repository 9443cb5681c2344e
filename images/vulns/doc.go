// Package vulns matches an image inventory against an OSV database kept on
// disk: osv.dev's per-ecosystem export (<dir>/<Ecosystem>/all.zip), any other
// zip of OSV JSON records, or a folder of OSV JSON files.
//
// Matching and version order are osv-scalibr's (its osvlocal matcher and its
// per-ecosystem semantic versions): dpkg versions with epochs and '~', Alpine,
// RPM, Go, PyPI, npm and the rest. This package only indexes the records by
// package name so that 2,000 packages are matched against 200,000 records in
// well under a second. Severity comes from the record's CVSS vector, scored
// with github.com/pandatix/go-cvss, else from its ecosystem's own grade
// (Debian urgency, GitHub's database severity).
//
// A missing or stale database is a warning the caller must show, never "no
// vulnerabilities". A record that is not valid OSV JSON is an error naming
// the file. It never downloads anything and never logs.
package vulns
