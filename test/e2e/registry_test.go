package e2e

import (
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testRegistry is go-containerregistry's registry over HTTP, behind a handler that counts
// manifest requests per repository and can demand credentials or answer 429 first.
type testRegistry struct {
	*httptest.Server
	host string
	base v1.Image

	mu        sync.Mutex
	manifests map[string]int // "HEAD /v2/team/nginx/manifests/1.21.0" → count
	user      string         // when set, Basic auth with user:password is required
	password  string
	throttle  int // answer this many manifest requests with 429 first
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	r := &testRegistry{manifests: map[string]int{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		user, password, throttle := r.user, r.password, r.throttle
		isManifest := strings.Contains(req.URL.Path, "/manifests/")
		if isManifest {
			r.manifests[req.Method+" "+req.URL.Path]++
			if throttle > 0 {
				r.throttle--
			}
		}
		r.mu.Unlock()
		if user != "" {
			if u, p, ok := req.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test registry"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		if isManifest && throttle > 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	r.host = strings.TrimPrefix(r.URL, "http://")
	var err error
	if r.base, err = random.Image(1024, 2); err != nil {
		t.Fatal(err)
	}
	return r
}

// requests returns how many manifest requests the registry answered for a repository.
func (r *testRegistry) requests(repo string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k, v := range r.manifests {
		if strings.Contains(k, "/v2/"+repo+"/manifests/") {
			n += v
		}
	}
	return n
}

func (r *testRegistry) resetCounts() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.manifests)
}

// image returns host/repoTag.
func (r *testRegistry) image(repoTag string) string { return r.host + "/" + repoTag }

// pushImage pushes a build of the shared base plus one fresh layer under ref and returns its
// digest: two builds differ in exactly one layer.
func (r *testRegistry) pushImage(t *testing.T, ref string) string {
	t.Helper()
	layer, err := random.Layer(512, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(r.base, layer)
	if err != nil {
		t.Fatal(err)
	}
	r.write(t, ref, img)
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// pushIndex pushes a linux/amd64 + linux/arm64 index and returns its digest and its children's.
func (r *testRegistry) pushIndex(t *testing.T, ref string) (string, map[string]string) {
	t.Helper()
	idx := v1.ImageIndex(empty.Index)
	children := map[string]string{}
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(512, 1)
		if err != nil {
			t.Fatal(err)
		}
		p := &v1.Platform{OS: "linux", Architecture: arch}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
		d, _ := img.Digest()
		children[arch] = d.String()
	}
	tag, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String(), children
}

func (r *testRegistry) write(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	tag, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	user, password := r.user, r.password
	r.mu.Unlock()
	opts := []remote.Option{}
	if user != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: user, Password: password}))
	}
	if err := remote.Write(tag, img, opts...); err != nil {
		t.Fatal(err)
	}
}

// dockerConfig writes a Docker config dir that logs in to the registry, for DOCKER_CONFIG.
func (r *testRegistry) dockerConfig(t *testing.T, user, password string) string {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, r.host, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runPod creates a pod of a workload and writes the status a kubelet would: the imageID it
// pulled. No kubelet runs on the test control plane.
func runPod(t *testing.T, ns, podName string, labels map[string]string, image, imageID string) {
	t.Helper()
	ctx := t.Context()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
	}
	pods := env.Clientset.CoreV1().Pods(ns)
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", Image: image, ImageID: imageID, Ready: true}}
	if _, err := pods.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
