package images

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fault is one canned answer to a manifest request, used once.
type fault struct {
	status int
	header map[string]string
}

// testRegistry is go-containerregistry's registry over HTTP, wrapped to count
// requests and to inject 401 challenges, 429s, 5xx and a missing
// Docker-Content-Digest header.
type testRegistry struct {
	srv  *httptest.Server
	host string

	mu           sync.Mutex
	all          int // every request that reached the handler
	heads, gets  int // manifest HEAD / GET
	inFlight     int
	maxInFlight  int
	faults       []fault
	user, pass   string
	stripDigest  bool
	manifestWait time.Duration
}

func newTestRegistry(t testing.TB) *testRegistry {
	t.Helper()
	r := &testRegistry{}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.serve(inner, w, req)
	}))
	t.Cleanup(r.srv.Close)
	r.host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

func (r *testRegistry) serve(inner http.Handler, w http.ResponseWriter, req *http.Request) {
	isManifest := strings.Contains(req.URL.Path, "/manifests/")
	r.mu.Lock()
	r.all++
	if isManifest {
		switch req.Method {
		case http.MethodHead:
			r.heads++
		case http.MethodGet:
			r.gets++
		}
	}
	r.inFlight++
	r.maxInFlight = max(r.maxInFlight, r.inFlight)
	user, pass, strip, wait := r.user, r.pass, r.stripDigest, r.manifestWait
	var f *fault
	if isManifest && len(r.faults) > 0 {
		f = &r.faults[0]
		r.faults = r.faults[1:]
	}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inFlight--
		r.mu.Unlock()
	}()

	if user != "" {
		if u, p, ok := req.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="plumbline-test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
	}
	if f != nil {
		for k, v := range f.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(f.status)
		return
	}
	if isManifest && wait > 0 {
		time.Sleep(wait)
	}
	if strip && req.Method == http.MethodHead {
		w = &stripDigestWriter{ResponseWriter: w}
	}
	inner.ServeHTTP(w, req)
}

type stripDigestWriter struct{ http.ResponseWriter }

func (s *stripDigestWriter) WriteHeader(code int) {
	s.Header().Del("Docker-Content-Digest")
	s.ResponseWriter.WriteHeader(code)
}

// counts returns (all requests, manifest HEADs, manifest GETs).
func (r *testRegistry) counts() (int, int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.all, r.heads, r.gets
}

func (r *testRegistry) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all, r.heads, r.gets, r.maxInFlight = 0, 0, 0, 0
}

func (r *testRegistry) set(f func(r *testRegistry)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

// ref parses "repo:tag" on this registry.
func (r *testRegistry) ref(t testing.TB, s string) Reference {
	t.Helper()
	ref, err := ParseReference(r.host + "/" + s)
	if err != nil {
		t.Fatalf("ParseReference: %v", err)
	}
	return ref
}

// pushImage writes img under repo:tag and returns its digest.
func (r *testRegistry) pushImage(t testing.TB, repoTag string, img v1.Image) string {
	t.Helper()
	tag, err := name.NewTag(r.host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("push %s: %v", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// pushIndex writes idx under repo:tag and returns its digest.
func (r *testRegistry) pushIndex(t testing.TB, repoTag string, idx v1.ImageIndex) string {
	t.Helper()
	tag, err := name.NewTag(r.host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatalf("push %s: %v", tag, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// randomLayers returns n random layers.
func randomLayers(t testing.TB, n int) []v1.Layer {
	t.Helper()
	out := make([]v1.Layer, n)
	for i := range out {
		l, err := random.Layer(512, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = l
	}
	return out
}

// imageOf builds an image from layers.
func imageOf(t testing.TB, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// platformIndex builds an index with one random image per platform and
// returns it with the children's digests by platform.
func platformIndex(t testing.TB, platforms ...v1.Platform) (v1.ImageIndex, map[string]string) {
	t.Helper()
	var adds []mutate.IndexAddendum
	children := map[string]string{}
	for _, p := range platforms {
		img, err := random.Image(512, 2)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		children[p.String()] = d.String()
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return mutate.AppendManifests(empty.Index, adds...), children
}

// fakeClock is a settable clock for cache expiry.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newResolver(t testing.TB, opts ...Option) *Resolver {
	t.Helper()
	r, err := NewResolver(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
