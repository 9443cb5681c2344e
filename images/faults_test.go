package images

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pushed is a registry with one image under team/nginx:1.21.0.
func pushed(t *testing.T) (*testRegistry, Reference, string) {
	t.Helper()
	reg := newTestRegistry(t)
	d := reg.pushImage(t, "team/nginx:1.21.0", imageOf(t, randomLayers(t, 2)...))
	reg.reset()
	return reg, reg.ref(t, "team/nginx:1.21.0"), d
}

// assertNoFalseFinding checks that a failed resolution never turns into a
// finding or into "no drift": Check returns the error and no TagMutated.
func assertNoFalseFinding(t *testing.T, ref Reference, approved string, resolveErr error) {
	t.Helper()
	got, err := Check(Input{Ref: ref, Approval: &Approval{Digest: approved}, ResolveErr: resolveErr})
	if !errors.Is(err, resolveErr) {
		t.Fatalf("Check dropped the resolution error: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("Check made findings from a failed resolution: %+v", got)
	}
}

func TestUnauthorizedThenDockerConfig(t *testing.T) {
	ctx := context.Background()
	reg, ref, digest := pushed(t)
	reg.set(func(r *testRegistry) { r.user, r.pass = "robot", "s3cret-pass" })
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // empty: anonymous
	r := newResolver(t)

	_, err := r.Resolve(ctx, ref, DockerKeychain())
	var re *RegistryError
	if !errors.As(err, &re) || re.Kind != Unauthorized || re.StatusCode != http.StatusUnauthorized || re.Host != reg.host {
		t.Fatalf("err = %#v, want Unauthorized RegistryError for %s", err, reg.host)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, ref.String()+": registry "+reg.host+": ") {
		t.Fatalf("error must start with reference and host: %s", msg)
	}
	assertNoFalseFinding(t, ref, digest, err)

	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("robot:s3cret-pass"))
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.host, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	res, err := r.Resolve(ctx, ref, DockerKeychain())
	if err != nil {
		t.Fatalf("with credentials: %v", err)
	}
	if res.Digest != digest {
		t.Fatalf("digest %s, want %s", res.Digest, digest)
	}

	// Wrong credentials: still an error, and the password is not in it.
	cfg = fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.host, base64.StdEncoding.EncodeToString([]byte("robot:wrong-pass")))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = r.Resolve(ctx, ref, DockerKeychain())
	if !errors.As(err, &re) || re.Kind != Unauthorized {
		t.Fatalf("wrong password: err = %v", err)
	}
	if strings.Contains(err.Error(), "wrong-pass") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("credentials leaked into the error: %s", err)
	}
}

func TestRateLimitedHonoursRetryAfter(t *testing.T) {
	reg, ref, digest := pushed(t)
	reg.set(func(r *testRegistry) {
		r.faults = []fault{{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "1"}}}
	})
	r := newResolver(t)
	start := time.Now()
	res, err := r.Resolve(context.Background(), ref, nil)
	elapsed := time.Since(start)
	if err != nil || res.Digest != digest {
		t.Fatalf("Resolve = %v, %v", res.Digest, err)
	}
	if _, heads, _ := reg.counts(); heads != 2 {
		t.Fatalf("manifest HEADs = %d, want 2 (429, then success)", heads)
	}
	if elapsed < time.Second {
		t.Fatalf("retried after %s, want at least the Retry-After of 1s", elapsed)
	}
}

func TestRetryAfterHTTPDateAndTooLong(t *testing.T) {
	reg, ref, digest := pushed(t)
	when := time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)
	reg.set(func(r *testRegistry) {
		r.faults = []fault{{status: http.StatusServiceUnavailable, header: map[string]string{"Retry-After": when}}}
	})
	r := newResolver(t)
	start := time.Now()
	res, err := r.Resolve(context.Background(), ref, nil)
	if err != nil || res.Digest != digest {
		t.Fatalf("Resolve = %v, %v", res.Digest, err)
	}
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond {
		t.Fatalf("HTTP-date Retry-After not waited for: %s", elapsed)
	}

	// A Retry-After beyond MaxRetryAfter fails at once as RateLimited.
	reg.reset()
	reg.set(func(r *testRegistry) {
		r.faults = []fault{{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "3600"}}}
	})
	r = newResolver(t)
	start = time.Now()
	_, err = r.Resolve(context.Background(), ref, nil)
	var re *RegistryError
	if !errors.As(err, &re) || re.Kind != RateLimited || !re.Transient() {
		t.Fatalf("err = %v, want RateLimited", err)
	}
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Fatalf("waited %s for a Retry-After beyond the cap", elapsed)
	}
	assertNoFalseFinding(t, ref, digest, err)
}

func TestServerErrorThenSuccessAndExhausted(t *testing.T) {
	reg, ref, digest := pushed(t)
	reg.set(func(r *testRegistry) { r.faults = []fault{{status: http.StatusBadGateway}} })
	r := newResolver(t, WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond, MaxRetryAfter: time.Second}))
	res, err := r.Resolve(context.Background(), ref, nil)
	if err != nil || res.Digest != digest {
		t.Fatalf("Resolve = %v, %v", res.Digest, err)
	}
	if _, heads, _ := reg.counts(); heads != 2 {
		t.Fatalf("HEADs = %d, want 2", heads)
	}

	// Every attempt fails: a ServerError after exactly MaxAttempts tries.
	reg.reset()
	reg.set(func(r *testRegistry) {
		r.faults = []fault{{status: 500}, {status: 503}, {status: 500}, {status: 500}}
	})
	r = newResolver(t, WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond, MaxRetryAfter: time.Second}))
	_, err = r.Resolve(context.Background(), ref, nil)
	var re *RegistryError
	if !errors.As(err, &re) || re.Kind != ServerError || re.StatusCode != 500 {
		t.Fatalf("err = %v, want ServerError 500", err)
	}
	if _, heads, _ := reg.counts(); heads != 3 {
		t.Fatalf("HEADs = %d, want 3 attempts", heads)
	}
	assertNoFalseFinding(t, ref, digest, err)
}

func TestRetryWaitStopsOnCancel(t *testing.T) {
	reg, ref, _ := pushed(t)
	reg.set(func(r *testRegistry) {
		r.faults = []fault{{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "20"}}}
	})
	r := newResolver(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := r.Resolve(ctx, ref, nil)
	var re *RegistryError
	if !errors.As(err, &re) || re.Kind != Canceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("cancel took %s", elapsed)
	}
}

func TestRegistryDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	ref, err := ParseReference(host + "/team/nginx:1.21.0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = newResolver(t).Resolve(context.Background(), ref, nil)
	var re *RegistryError
	if !errors.As(err, &re) || re.Kind != Unreachable || re.Host != host || re.Ref != ref.String() {
		t.Fatalf("err = %#v, want Unreachable naming %s", err, host)
	}
	if !strings.Contains(err.Error(), host) {
		t.Fatalf("error does not name the host: %s", err)
	}
	assertNoFalseFinding(t, ref, "sha256:"+strings.Repeat("a", 64), err)
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"1", time.Second, true},
		{"0", 0, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"99999999999", 24 * time.Hour, true},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestBrokenDockerConfigIsACredentialsError(t *testing.T) {
	_, ref, _ := pushed(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	_, err := newResolver(t).Resolve(context.Background(), ref, DockerKeychain())
	var re *RegistryError
	if !errors.As(err, &re) || re.Kind != Credentials || re.Transient() {
		t.Fatalf("err = %v, want a Credentials RegistryError", err)
	}
	t.Logf("%v", err)
}
