package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/plumbline/plumbline/images/inventory"
	"github.com/plumbline/plumbline/images/vulns"
)

// debianImage has one layer with the real Debian 12 dpkg slice of inventory's testdata.
func debianImage(t *testing.T, status, user string) v1.Image {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, f := range [][2]string{{"etc/os-release", "os-release"}, {"var/lib/dpkg/status", status}} {
		body, err := os.ReadFile(filepath.Join("inventory", "testdata", "debian12", f[1]))
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
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
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func newInspector(t *testing.T, r *Resolver, dir string) *Inspector {
	t.Helper()
	s, err := inventory.NewScanner(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := vulns.Load(filepath.Join("vulns", "testdata", "osv"), vulns.Options{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	return NewInspector(r, s, db, "", 0)
}

func TestInspectorComparesRebuild(t *testing.T) {
	reg := newTestRegistry(t)
	ctx := context.Background()
	approved := reg.pushImage(t, "team/nginx:1.21.0", debianImage(t, "status", "nginx"))
	served := reg.pushImage(t, "team/nginx:1.21.0", debianImage(t, "status-rebuild", ""))
	ref := reg.ref(t, "team/nginx:1.21.0")
	dir := t.TempDir()
	rb, err := newInspector(t, newResolver(t), dir).CompareDigests(ctx, ref, approved, served, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Note != "" {
		t.Errorf("note %q, want none", rb.Note)
	}
	var got []string
	for _, p := range rb.Changes.Added {
		got = append(got, "added "+p.Name+" "+p.Version)
	}
	for _, p := range rb.Changes.Changed {
		got = append(got, "changed "+p.Name+" "+p.From+" -> "+p.To)
	}
	for _, c := range rb.Changes.Config {
		got = append(got, "config "+c.Field+" '"+c.From+"' -> '"+c.To+"'")
	}
	for _, v := range rb.NewVulnerabilities {
		got = append(got, "new "+v.ID+" "+v.Severity+" "+v.Package+" "+v.Version+" fixed "+v.Fixed)
	}
	want := []string{
		"added netcat-openbsd 1.219-1",
		"changed libssl3 3.0.19-1~deb12u2 -> 3.0.20-1~deb12u1",
		"changed openssl 3.0.19-1~deb12u2 -> 3.0.20-1~deb12u1",
		"config User 'nginx' -> ''",
		"new DSA-9999-1 High libssl3 3.0.20-1~deb12u1 fixed 3.0.20-1~deb12u2",
		"new DSA-9999-1 High openssl 3.0.20-1~deb12u1 fixed 3.0.20-1~deb12u2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rebuild (-want +got):\n%s", diff)
	}

	// A second Inspector over the same cache folder asks the registry nothing for either digest.
	reg.reset()
	again, err := newInspector(t, newResolver(t), dir).CompareDigests(ctx, ref, approved, served, nil)
	if err != nil {
		t.Fatal(err)
	}
	if all, _, _ := reg.counts(); all != 0 {
		t.Errorf("the cached comparison made %d registry requests, want 0", all)
	}
	if diff := cmp.Diff(rb.Changes, again.Changes); diff != "" {
		t.Errorf("cached comparison differs (-first +again):\n%s", diff)
	}
}

func TestInspectorApprovedDigestGone(t *testing.T) {
	reg := newTestRegistry(t)
	ctx := context.Background()
	approved := reg.pushImage(t, "team/nginx:1.21.0", debianImage(t, "status", "nginx"))
	served := reg.pushImage(t, "team/nginx:1.21.0", debianImage(t, "status-rebuild", ""))
	req, err := http.NewRequest(http.MethodDelete, reg.srv.URL+"/v2/team/nginx/manifests/"+approved, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE manifest: %s", resp.Status)
	}
	rb, err := newInspector(t, newResolver(t), t.TempDir()).CompareDigests(ctx, reg.ref(t, "team/nginx:1.21.0"), approved, served, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rb.Note, "the approved digest "+Short(approved)+" can no longer be pulled from the registry; only the served one was scanned") {
		t.Errorf("note %q", rb.Note)
	}
	if rb.Served == nil || len(rb.Served.Inventory.Packages) != 6 || len(rb.NewVulnerabilities) == 0 {
		t.Errorf("served digest not scanned: %+v", rb.Served)
	}
}
