package reconciler

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
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/images/inventory"
	"github.com/plumbline/plumbline/images/vulns"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/report"
)

// pushDebian pushes an image with the real Debian 12 dpkg slice of images/inventory/testdata.
func pushDebian(t *testing.T, ref, status, user string) string {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, f := range [][2]string{{"etc/os-release", "os-release"}, {"var/lib/dpkg/status", status}} {
		body, err := os.ReadFile(filepath.Join("..", "images", "inventory", "testdata", "debian12", f[1]))
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
	var out v1.Image
	if out, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	tag, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, out); err != nil {
		t.Fatal(err)
	}
	d, err := out.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// TestDiffLooksInsideRebuiltTag: diff on a cluster names what a rebuild changed inside the image,
// and the contents rules report what the rebuild brought as drift into a violation (Git's
// approved digest had neither the root user nor the new CVE).
func TestDiffLooksInsideRebuiltTag(t *testing.T) {
	ctx := t.Context()
	ns, err := env.NewNamespace(ctx, "inside")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	image := strings.TrimPrefix(srv.URL, "http://") + "/team/nginx:1.21.0"
	approved := pushDebian(t, image, "status", "nginx")
	served := pushDebian(t, image, "status-rebuild", "")
	ref, err := images.ParseReference(image)
	if err != nil {
		t.Fatal(err)
	}
	lock := images.Lock{Entries: []images.LockEntry{{Ref: ref, Digest: approved, ApprovedAt: time.Now().UTC().Truncate(time.Second)}}}
	deploy := toObject(t, &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: image}}},
			},
		},
	}, "deployment.yaml")
	c, err := NewCluster(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(ctx, []*unstructured.Unstructured{deploy.Object}, ApplyOptions{SourceName: "test-" + ns}); err != nil {
		t.Fatal(err)
	}
	resolver, err := images.NewResolver()
	if err != nil {
		t.Fatal(err)
	}
	scanner, err := inventory.NewScanner(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	db, err := vulns.Load(filepath.Join("..", "images", "vulns", "testdata", "osv"), vulns.Options{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.NewEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultDiffOptions()
	opts.Images = &ImageOptions{Resolver: resolver, Lock: lock, Inspector: images.NewInspector(resolver, scanner, db, "", time.Minute)}
	opts.Policy = engine
	r, err := c.Diff(ctx, []manifests.Object{deploy}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	var changes *report.ImageChanges
	var live []string
	for _, f := range r.Findings {
		switch f.Type {
		case report.ImageTagMutated:
			changes = f.Image.Changes
		case report.PolicyViolation:
			live = append(live, f.Where+" "+f.Rule+": "+f.Message)
		}
	}
	wantChanges := &report.ImageChanges{
		PackagesAdded: []report.Package{{Name: "netcat-openbsd", Version: "1.219-1", Ecosystem: "Debian:12"}},
		PackagesChanged: []report.PackageChange{
			{Name: "libssl3", From: "3.0.19-1~deb12u2", To: "3.0.20-1~deb12u1", Ecosystem: "Debian:12"},
			{Name: "openssl", From: "3.0.19-1~deb12u2", To: "3.0.20-1~deb12u1", Ecosystem: "Debian:12"},
		},
		Config: []report.ConfigChange{{Field: "User", From: "nginx", To: ""}},
		NewVulnerabilities: []report.Vulnerability{
			{ID: "DSA-9999-1", Aliases: []string{"CVE-2026-0001"}, Package: "libssl3", Version: "3.0.20-1~deb12u1", Fixed: "3.0.20-1~deb12u2", Severity: "High"},
			{ID: "DSA-9999-1", Aliases: []string{"CVE-2026-0001"}, Package: "openssl", Version: "3.0.20-1~deb12u1", Fixed: "3.0.20-1~deb12u2", Severity: "High"},
		},
	}
	if diff := cmp.Diff(wantChanges, changes); diff != "" {
		t.Errorf("changes of %s → %s (-want +got):\n%s", approved, served, diff)
	}
	wantLive := []string{
		"live block-vulnerabilities: DSA-9999-1 / CVE-2026-0001 (High) - In package 'libssl3' 3.0.20-1~deb12u1, fixed in 3.0.20-1~deb12u2 (new in this digest)",
		"live block-vulnerabilities: DSA-9999-1 / CVE-2026-0001 (High) - In package 'openssl' 3.0.20-1~deb12u1, fixed in 3.0.20-1~deb12u2 (new in this digest)",
		"live image-runs-as-root: Misconfiguration: 'root' user allowed to run container",
	}
	if diff := cmp.Diff(wantLive, live); diff != "" {
		t.Errorf("policy violations (-want +got):\n%s", diff)
	}
}
