package images

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

func TestCacheTTL(t *testing.T) {
	ctx := context.Background()
	reg, ref, digest := pushed(t)
	clock := newFakeClock()
	r := newResolver(t, WithClock(clock.Now))

	if _, err := r.Resolve(ctx, ref, nil); err != nil {
		t.Fatal(err)
	}
	if _, heads, _ := reg.counts(); heads != 1 {
		t.Fatalf("first resolution: %d HEADs, want 1", heads)
	}
	reg.reset()
	clock.Advance(DefaultCacheTTL - time.Second)
	res, err := r.Resolve(ctx, ref, nil)
	if err != nil || res.Digest != digest {
		t.Fatalf("cached Resolve = %v, %v", res.Digest, err)
	}
	if all, _, _ := reg.counts(); all != 0 {
		t.Fatalf("inside the TTL: %d registry requests, want 0", all)
	}
	clock.Advance(2 * time.Second)
	if _, err := r.Resolve(ctx, ref, nil); err != nil {
		t.Fatal(err)
	}
	if _, heads, gets := reg.counts(); heads != 1 || gets != 0 {
		t.Fatalf("after the TTL: %d HEADs %d GETs, want 1 HEAD", heads, gets)
	}
}

func TestCacheOffWithZeroTTL(t *testing.T) {
	reg, ref, _ := pushed(t)
	r := newResolver(t, WithCacheTTL(0))
	for range 3 {
		if _, err := r.Resolve(context.Background(), ref, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, heads, _ := reg.counts(); heads != 3 {
		t.Fatalf("HEADs = %d, want 3 with the cache off", heads)
	}
}

func TestPinnedReferenceMakesNoRequest(t *testing.T) {
	var hits int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	digest := "sha256:" + strings.Repeat("d", 64)
	r := newResolver(t, WithCacheTTL(0))
	for _, s := range []string{"/team/nginx:1.21.0@" + digest, "/team/nginx@" + digest} {
		ref, err := ParseReference(strings.TrimPrefix(srv.URL, "http://") + s)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			res, err := r.Resolve(context.Background(), ref, DockerKeychain())
			if err != nil || res.Digest != digest || !res.Pinned {
				t.Fatalf("Resolve(%s) = %+v, %v", ref, res, err)
			}
		}
	}
	if hits != 0 {
		t.Fatalf("pinned references made %d requests, want 0", hits)
	}
}

func TestHeadWithoutDigestFallsBackToGet(t *testing.T) {
	reg, ref, digest := pushed(t)
	reg.set(func(r *testRegistry) { r.stripDigest = true })
	res, err := newResolver(t).Resolve(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != digest || res.MediaType != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Fatalf("Resolve = %+v, want digest %s", res, digest)
	}
	if _, heads, gets := reg.counts(); heads != 1 || gets != 1 {
		t.Fatalf("HEADs %d GETs %d, want 1 and 1", heads, gets)
	}
}

func TestConcurrentCallersShareOneRequest(t *testing.T) {
	reg, ref, digest := pushed(t)
	reg.set(func(r *testRegistry) { r.manifestWait = 50 * time.Millisecond })
	r := newResolver(t)
	reqs := make([]Request, 40)
	for i := range reqs {
		reqs[i] = Request{Ref: ref}
	}
	outs, err := r.ResolveAll(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range outs {
		if o.Err != nil || o.Resolution.Digest != digest {
			t.Fatalf("outcome %d = %+v", i, o)
		}
	}
	if _, heads, _ := reg.counts(); heads != 1 {
		t.Fatalf("HEADs = %d, want 1 shared by 40 callers", heads)
	}
}

func TestConcurrencyCap(t *testing.T) {
	reg := newTestRegistry(t)
	img := imageOf(t, randomLayers(t, 1)...)
	var reqs []Request
	for i := range 12 {
		tag := "team/app:v" + string(rune('a'+i))
		reg.pushImage(t, tag, img)
		reqs = append(reqs, Request{Ref: reg.ref(t, tag)})
	}
	reg.reset()
	reg.set(func(r *testRegistry) { r.manifestWait = 30 * time.Millisecond })
	outs, err := newResolver(t, WithConcurrency(3)).ResolveAll(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
	}
	reg.mu.Lock()
	peak := reg.maxInFlight
	reg.mu.Unlock()
	if peak > 3 || peak < 2 {
		t.Fatalf("peak requests in flight = %d, want at most 3 (and some parallelism)", peak)
	}
}

func TestCacheIsPerCredentialIdentity(t *testing.T) {
	reg, ref, _ := pushed(t)
	r := newResolver(t)
	alice := authn.NewMultiKeychain(staticKeychain{authn.FromConfig(authn.AuthConfig{Username: "alice", Password: "a"})})
	bob := authn.NewMultiKeychain(staticKeychain{authn.FromConfig(authn.AuthConfig{Username: "bob", Password: "b"})})
	for _, kc := range []authn.Keychain{alice, bob, alice, bob, nil, nil} {
		if _, err := r.Resolve(context.Background(), ref, kc); err != nil {
			t.Fatal(err)
		}
	}
	if _, heads, _ := reg.counts(); heads != 3 {
		t.Fatalf("HEADs = %d, want 3 (alice, bob, anonymous)", heads)
	}
}

func TestNewResolverValidates(t *testing.T) {
	_, err := NewResolver(WithConcurrency(0), WithCacheTTL(-time.Second), WithClock(nil), WithTransport(nil), WithRetry(RetryPolicy{}))
	if err == nil {
		t.Fatal("invalid options accepted")
	}
	for _, want := range []string{"concurrency", "TTL", "clock", "transport", "MaxAttempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestCheckWithoutResolutionIsAnError(t *testing.T) {
	ref, err := ParseReference("nginx:1.21.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Check(Input{Ref: ref, Approval: &Approval{Digest: "sha256:" + strings.Repeat("a", 64)}}); !errors.Is(err, errNotResolved) {
		t.Fatalf("err = %v, want errNotResolved", err)
	}
}

type staticKeychain struct{ auth authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.auth, nil }

func TestHeadNotAllowedFallsBackToGet(t *testing.T) {
	reg, ref, digest := pushed(t)
	reg.set(func(r *testRegistry) { r.faults = []fault{{status: http.StatusMethodNotAllowed}} })
	res, err := newResolver(t).Resolve(context.Background(), ref, nil)
	if err != nil || res.Digest != digest {
		t.Fatalf("Resolve = %v, %v", res.Digest, err)
	}
	if _, heads, gets := reg.counts(); heads != 1 || gets != 1 {
		t.Fatalf("HEADs %d GETs %d, want 1 and 1", heads, gets)
	}
}
