package reconciler

import (
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/manifests"
)

// TestLockImagesErrorOrder: when images cannot be resolved, `images lock` lists them in the
// order of the manifests, the same on every run.
func TestLockImagesErrorOrder(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	var containers, want strings.Builder
	for i := range 8 {
		ref := fmt.Sprintf("%s/team/app%d:1.0", host, i)
		fmt.Fprintf(&containers, "      - name: c%d\n        image: %s\n", i, ref)
		want.WriteString(ref + "\n")
	}
	dir := t.TempDir()
	deploy := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
` + containers.String()
	if err := os.WriteFile(filepath.Join(dir, "deploy.yaml"), []byte(deploy), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := manifests.Render(t.Context(), dir, ".", manifests.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	resolver, err := images.NewResolver(images.WithRetry(images.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	var first string
	for run := range 10 {
		_, err := LockImages(t.Context(), objs, images.Lock{}, ImageOptions{Resolver: resolver}, time.Now())
		if err == nil {
			t.Fatal("LockImages resolved images the registry does not have")
		}
		var order strings.Builder
		for _, line := range strings.Split(err.Error(), "\n") {
			ref, _, _ := strings.Cut(line, ": ")
			order.WriteString(ref + "\n")
		}
		if order.String() != want.String() {
			t.Fatalf("run %d: errors in the wrong order:\n%s\nwant the images in manifest order:\n%s", run, err, want.String())
		}
		if run == 0 {
			first = err.Error()
		} else if err.Error() != first {
			t.Fatalf("run %d: errors differ from the first run:\n%s\nfirst:\n%s", run, err, first)
		}
	}
}
