package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// insideStory: a rebuilt tag whose contents changed. check shows the package diff, the root
// user the rebuild dropped to, and the High CVE it brought, and blocks it before deploy.
func (d *demo) insideStory(ctx context.Context) error {
	d.section("Story: what is inside the rebuilt image")
	api := d.registry.image("team/shop-api:2.4.0")
	approved, err := pushDebianImage(ctx, api, demoDpkgStatus, "app")
	if err != nil {
		return err
	}
	dir := filepath.Join(d.dir, "inside")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"deployment.yaml": strings.ReplaceAll(demoInsideDeployment, "IMAGE", api),
		"policy.yaml":     demoInsidePolicy,
	}
	for n, body := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644); err != nil {
			return err
		}
	}
	db, err := writeDemoOSV(d.dir)
	if err != nil {
		return err
	}
	d.say("The shop's API image %s (%s) runs as user 'app' on Debian 12 with openssl 3.0.19-1~deb12u2.", api, shortDigest(approved))
	d.say("The team approves it; CI checks it against an offline OSV database (osv.dev's export layout, in %s):", db)
	d.plumbline(ctx, exitOK, "images", "lock", "--path", dir)
	check := []string{"check", "--path", dir, "--policy", filepath.Join(dir, "policy.yaml"), "--vuln-db", db,
		"--vuln-db-max-age", "-1s", "--scan-cache-dir", filepath.Join(d.dir, "scans")}
	d.expect(d.plumbline(ctx, exitOK, check...), "Passed")

	rebuilt := strings.Replace(demoDpkgStatus, "Version: 3.0.19-1~deb12u2", "Version: 3.0.20-1~deb12u1", -1) + "\n" + demoNetcatStanza
	served, err := pushDebianImage(ctx, api, rebuilt, "")
	if err != nil {
		return err
	}
	d.say("\nSomeone rebuilds the image under the same tag (%s): a newer openssl, netcat added, and no USER.", shortDigest(served))
	d.say("The next pull request's CI run looks inside both digests and blocks it:")
	out := d.plumbline(ctx, exitFinding, check...)
	d.expect(out, "Packages: libssl3 3.0.19-1~deb12u2 → 3.0.20-1~deb12u1; openssl 3.0.19-1~deb12u2 → 3.0.20-1~deb12u1; added netcat-openbsd 1.219-1; removed 0")
	d.expect(out, "Config: User changed from 'app' to '' (root)")
	d.expect(out, "Vulnerabilities new in this digest: CVE-2026-0001 [DSA-9999-1] (High) in libssl3 3.0.20-1~deb12u1")
	d.expect(out, "Policy Violation: Misconfiguration: 'root' user allowed to run container (container api) [image-runs-as-root, high]")
	d.expect(out, "Policy Violation: DSA-9999-1 / CVE-2026-0001 (High) - In package 'openssl' 3.0.20-1~deb12u1, fixed in 3.0.20-1~deb12u2 (new in this digest)")
	d.say("\nWhat is inside the served image, on its own (a second scan reads the cache, not the registry):")
	d.expect(d.plumbline(ctx, exitFinding, "images", "scan", api, "--vuln-db", db, "--vuln-db-max-age", "-1s", "--scan-cache-dir", filepath.Join(d.dir, "scans")),
		"  User: '' (root)")
	return nil
}

// pushDebianImage pushes an image whose one layer holds a Debian 12 dpkg database.
func pushDebianImage(ctx context.Context, ref, status, user string) (string, error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, f := range [][2]string{{"etc/os-release", demoOSRelease}, {"var/lib/dpkg/status", status}} {
		if err := tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg}); err != nil {
			return "", err
		}
		if _, err := io.WriteString(tw, f[1]); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	b := gz.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.Config.User = user
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	var cimg v1.Image
	if cimg, err = mutate.ConfigFile(img, cf); err != nil {
		return "", err
	}
	tag, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	if err := remote.Write(tag, cimg, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	digest, err := cimg.Digest()
	return digest.String(), err
}

// writeDemoOSV writes a one-record OSV database in osv.dev's export layout (Debian/all.zip).
func writeDemoOSV(dir string) (string, error) {
	db := filepath.Join(dir, "osv")
	if err := os.MkdirAll(filepath.Join(db, "Debian"), 0o755); err != nil {
		return "", err
	}
	f, err := os.Create(filepath.Join(db, "Debian", "all.zip"))
	if err != nil {
		return "", err
	}
	zw := zip.NewWriter(f)
	w, err := zw.Create("DSA-9999-1.json")
	if err == nil {
		_, err = io.WriteString(w, demoAdvisory)
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return db, err
}

const demoInsideDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: shop-api, namespace: shop}
spec:
  selector: {matchLabels: {app: shop-api}}
  template:
    metadata: {labels: {app: shop-api}}
    spec:
      containers:
      - name: api
        image: IMAGE
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
        resources: {limits: {memory: 256Mi}, requests: {memory: 256Mi, cpu: 100m}}
`

// The platform's CI policy: the image's own user decides (run-as-non-root off), and High and
// Critical CVEs block.
const demoInsidePolicy = `apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
metadata: {name: ci}
spec:
  builtins:
    run-as-non-root: {enabled: false}
  params:
    vulnerabilities: {minSeverity: high}
`

// demoAdvisory is shaped like a Debian security advisory in osv.dev's export (the id and the
// CVE are made up).
const demoAdvisory = `{"schema_version": "1.6.0", "id": "DSA-9999-1", "modified": "2026-11-20T10:00:00Z",
 "aliases": ["CVE-2026-0001"], "summary": "openssl - security update",
 "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
 "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "3.0.20-1~deb12u1"}, {"fixed": "3.0.20-1~deb12u2"}]}]}]}`

const demoNetcatStanza = `Package: netcat-openbsd
Status: install ok installed
Priority: optional
Section: net
Maintainer: Debian QA Group <packages@qa.debian.org>
Architecture: amd64
Version: 1.219-1
Description: TCP/IP swiss army knife
`

// demoOSRelease and demoDpkgStatus are a Debian 12 build machine's own /etc/os-release and a
// slice of its /var/lib/dpkg/status (the same data as images/inventory/testdata/debian12).
const demoOSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`

const demoDpkgStatus = `Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 341
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u11
Replaces: base, dpkg (<= 1.15.0), miscutils
Provides: base
Pre-Depends: awk
Breaks: debian-security-support (<< 2019.04.25), initscripts (<< 2.88dsf-13.3), sendfile (<< 2.1b.20080616-5.2~)
Conffiles:
 /etc/debian_version 8031d1483ffa9c819e6be94c6c77fd2a
 /etc/dpkg/origins/debian c47b6815f67ad1aeccb0d4529bd0b990
 /etc/host.conf 4eb63731c9f5e30903ac4fc07a7fe3d6
 /etc/issue 349d61a0e072d678e3e94923f0c3ce0e
 /etc/issue.net 3ae9b9ff69a78d614864f1957778fecb
 /etc/update-motd.d/10-uname 9e1b832b7b06f566156e7c9e0548247b
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy of a Debian system, and
 several important miscellaneous files, such as /etc/debian_version,
 /etc/host.conf, /etc/issue, /etc/motd, /etc/profile, and others,
 and the text of several common licenses in use on Debian systems.

Package: bash
Essential: yes
Status: install ok installed
Priority: required
Section: shells
Installed-Size: 7164
Maintainer: Matthias Klose <doko@debian.org>
Architecture: amd64
Multi-Arch: foreign
Source: bash (5.2.15-2)
Version: 5.2.15-2+b8
Replaces: bash-completion (<< 20060301-0), bash-doc (<= 2.05-1)
Depends: base-files (>= 2.1.12), debianutils (>= 5.6-0.1)
Pre-Depends: libc6 (>= 2.36), libtinfo6 (>= 6)
Recommends: bash-completion (>= 20060301-0)
Suggests: bash-doc
Conflicts: bash-completion (<< 20060301-0)
Conffiles:
 /etc/bash.bashrc 89269e1298235f1b12b4c16e4065ad0d
 /etc/skel/.bash_logout 22bfb8c1dd94b5f3813a2b25da67463f
 /etc/skel/.bashrc ee35a240758f374832e809ae0ea4883a
 /etc/skel/.profile f4e81ade7d6f9fb342541152d08e7a97
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter that executes
 commands read from the standard input or from a file.  Bash also
 incorporates useful features from the Korn and C shells (ksh and csh).
 .
 Bash is ultimately intended to be a conformant implementation of the
 IEEE POSIX Shell and Tools specification (IEEE Working Group 1003.2).
 .
 The Programmable Completion Code, by Ian Macdonald, is now found in
 the bash-completion package.
Homepage: http://tiswww.case.edu/php/chet/bash/bashtop.html

Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 6029
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.19-1~deb12u2
Depends: libc6 (>= 2.34)
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL
 and TLS cryptographic protocols for secure communication over the
 Internet.
 .
 It provides the libssl and libcrypto shared libraries.
Homepage: https://www.openssl.org/

Package: openssl
Status: install ok installed
Priority: optional
Section: utils
Installed-Size: 2308
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: foreign
Version: 3.0.19-1~deb12u2
Depends: libc6 (>= 2.34), libssl3 (>= 3.0.9)
Suggests: ca-certificates
Conffiles:
 /etc/ssl/openssl.cnf fe1993ec22f6b8a46cb9706acd8fc68f
Description: Secure Sockets Layer toolkit - cryptographic utility
 This package is part of the OpenSSL project's implementation of the SSL
 and TLS cryptographic protocols for secure communication over the
 Internet.
 .
 It contains the general-purpose command line binary /usr/bin/openssl,
 useful for cryptographic operations such as:
  * creating RSA, DH, and DSA key parameters;
  * creating X.509 certificates, CSRs, and CRLs;
  * calculating message digests;
  * encrypting and decrypting with ciphers;
  * testing SSL/TLS clients and servers;
  * handling S/MIME signed or encrypted mail.
Homepage: https://www.openssl.org/

Package: zlib1g
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 168
Maintainer: Mark Brown <broonie@debian.org>
Architecture: amd64
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1
Provides: libz1
Depends: libc6 (>= 2.14)
Breaks: libxml2 (<< 2.7.6.dfsg-2), texlive-binaries (<< 2009-12)
Conflicts: zlib1 (<= 1:1.0.4-7)
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found
 in gzip and PKZIP.  This package includes the shared library.
Homepage: http://zlib.net/
`
