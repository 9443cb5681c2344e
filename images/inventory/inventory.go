package inventory

import (
	"sort"
	"strings"
)

// Inventory is what one image digest contains.
type Inventory struct {
	// Image is the reference the scan was asked for (for messages).
	Image string `json:"image"`
	// Digest is the manifest digest scanned ("sha256:…").
	Digest string `json:"digest"`
	// Layers is the number of layers read.
	Layers int `json:"layers"`
	// Packages are the installed packages, sorted by ecosystem, name, version.
	Packages []Package `json:"packages"`
	// Config is the image configuration that matters to policy.
	Config Config `json:"config"`
}

// Package is one installed package.
type Package struct {
	// Name is the package name as installed ("openssl", "golang.org/x/net").
	Name string `json:"name"`
	// Version is the installed version, in the ecosystem's own syntax.
	Version string `json:"version"`
	// Ecosystem is the OSV ecosystem ("Debian:12", "Alpine:v3.20", "Go"); empty when unknown.
	Ecosystem string `json:"ecosystem,omitempty"`
	// Location is the file the package was found in, relative to the image root.
	Location string `json:"location,omitempty"`
	// PURLType is the package-URL type the extractor gave ("deb", "apk", "golang").
	PURLType string `json:"purlType,omitempty"`
	// OS holds the OS package metadata vulnerability matching needs (source
	// package, distribution); nil for language packages.
	OS *OSPackage `json:"os,omitempty"`
}

// OSPackage is the metadata of a package from an OS package database.
type OSPackage struct {
	// Kind is "dpkg", "apk" or "rpm".
	Kind string `json:"kind"`
	// SourceName is the source package (dpkg Source, apk origin, rpm source RPM).
	SourceName    string `json:"sourceName,omitempty"`
	SourceVersion string `json:"sourceVersion,omitempty"`
	OSID          string `json:"osID,omitempty"`
	OSVersionID   string `json:"osVersionID,omitempty"`
	OSCodename    string `json:"osCodename,omitempty"`
	Epoch         int    `json:"epoch,omitempty"`
	Status        string `json:"status,omitempty"`
}

// Config is the part of an image's configuration that policy and people read.
type Config struct {
	// User is the image's USER ("" means root).
	User       string   `json:"user"`
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	// ExposedPorts are sorted ("80/tcp").
	ExposedPorts []string          `json:"exposedPorts,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	// EnvNames are the names of the environment variables, sorted; never their values.
	EnvNames []string `json:"envNames,omitempty"`
}

// RunsAsRoot reports whether the image's user is root: empty, "root" or UID 0,
// with or without a group ("0:0", "root:root").
func (c Config) RunsAsRoot() bool {
	u, _, _ := strings.Cut(strings.TrimSpace(c.User), ":")
	return u == "" || u == "root" || u == "0"
}

func sortPackages(ps []Package) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Ecosystem != b.Ecosystem {
			return a.Ecosystem < b.Ecosystem
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Location < b.Location
	})
}
