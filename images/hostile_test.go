package images

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// hostileRegistry is go-containerregistry's registry behind a handler that, for the
// repositories below "endless/", answers every manifest HEAD without a digest (so the client
// falls back to GET) and every GET with a manifest that never ends, for those below "hang/"
// never answers at all, and for those below "busy/" asks to retry in 10 s.
type hostileRegistry struct {
	srv  *httptest.Server
	host string
	sent atomic.Int64 // bytes of endless manifests written
}

func newHostileRegistry(t testing.TB) *hostileRegistry {
	t.Helper()
	h := &hostileRegistry{}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case strings.HasPrefix(req.URL.Path, "/v2/hang/"):
			<-req.Context().Done()
		case strings.HasPrefix(req.URL.Path, "/v2/busy/"):
			w.Header().Set("Retry-After", "10")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case strings.HasPrefix(req.URL.Path, "/v2/endless/") && strings.Contains(req.URL.Path, "/manifests/"):
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.WriteHeader(http.StatusOK)
			if req.Method == http.MethodHead {
				return
			}
			chunk := []byte(`{"schemaVersion":2,"layers":[` + strings.Repeat(`{"size":1},`, 3000))
			for req.Context().Err() == nil {
				n, err := w.Write(chunk)
				h.sent.Add(int64(n))
				if err != nil {
					return
				}
			}
		default:
			inner.ServeHTTP(w, req)
		}
	}))
	t.Cleanup(h.srv.Close)
	h.host = strings.TrimPrefix(h.srv.URL, "http://")
	return h
}

func (h *hostileRegistry) requests(t testing.TB, repo string, n int) []Request {
	t.Helper()
	reqs := make([]Request, n)
	for i := range reqs {
		ref, err := ParseReference(fmt.Sprintf("%s/%s:v%d", h.host, repo, i))
		if err != nil {
			t.Fatal(err)
		}
		reqs[i] = Request{Ref: ref}
	}
	return reqs
}

// childEnv selects, in a re-executed test binary, the case to run under a memory limit.
const childEnv = "PLUMBLINE_IMAGES_HOSTILE_CHILD"

// runChild runs test in a child process of this test binary with GOMEMLIMIT set and returns
// its output and peak resident memory (VmHWM) in bytes, as the child printed it.
func runChild(t *testing.T, test string) (string, int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1", "GOMEMLIMIT=256MiB")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", test, err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if _, v, ok := strings.Cut(sc.Text(), "child VmHWM bytes: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return string(out), n
		}
	}
	t.Fatalf("child %s printed no VmHWM:\n%s", test, out)
	return "", 0
}

// logHWM prints this process's peak resident memory for runChild.
func logHWM(t *testing.T) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Printf("child VmHWM bytes: %d\n", kb<<10)
		}
	}
}

// TestEndlessManifestsAreBoundedPerRun resolves 200 images on a registry that streams
// endless manifests, in a child process: every image fails with a TooLarge error naming it
// and the host, the run reads at most its budget from the registry, it ends in seconds, and
// its memory stays far below the controller's 512 MiB.
func TestEndlessManifestsAreBoundedPerRun(t *testing.T) {
	out, hwm := runChild(t, "TestEndlessManifestsChild")
	t.Logf("child peak memory %d MiB\n%s", hwm>>20, lastLines(out, 6))
	if hwm > 200<<20 {
		t.Errorf("child peak memory %d MiB; want under 200 MiB", hwm>>20)
	}
}

func TestEndlessManifestsChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("run by TestEndlessManifestsAreBoundedPerRun")
	}
	h := newHostileRegistry(t)
	r := newResolver(t, WithRetry(RetryPolicy{MaxAttempts: 1}))
	reqs := h.requests(t, "endless/app", 200)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	outs, err := r.ResolveAll(ctx, reqs)
	d := time.Since(start)
	if err != nil {
		t.Fatalf("ResolveAll: %v", err)
	}
	budgetSpent := 0
	for i, o := range outs {
		var re *RegistryError
		if !errors.As(o.Err, &re) || re.Kind != TooLarge || re.Host != h.host || !strings.HasPrefix(o.Err.Error(), reqs[i].Ref.String()+": registry "+h.host+": TooLarge: ") {
			t.Fatalf("image %d: err = %v, want a TooLarge RegistryError naming the image and host", i, o.Err)
		}
		if strings.Contains(o.Err.Error(), "this run already read the 67108864 bytes") {
			budgetSpent++
		}
	}
	if budgetSpent < 150 {
		t.Errorf("%d images failed on the run's budget; want most of the 200 (each response alone is capped at 4 MiB)", budgetSpent)
	}
	t.Logf("200 images in %s; the registry wrote %d MiB; %d images stopped by the run budget", d, h.sent.Load()>>20, budgetSpent)
	if d > 20*time.Second {
		t.Errorf("ResolveAll took %s; want well under 20s", d)
	}
	logHWM(t)
}

// TestSilentRegistryDoesNotLoseTheRun resolves images on a registry that never answers next
// to images on one that does, under a run deadline of 3 s: the silent images fail with a
// Timeout error naming image and host before the run's deadline, and the others resolve.
func TestSilentRegistryDoesNotLoseTheRun(t *testing.T) {
	h := newHostileRegistry(t)
	good := newTestRegistry(t)
	digest := good.pushImage(t, "team/web:1.0", imageOf(t, randomLayers(t, 1)...))
	reqs := append(h.requests(t, "hang/app", 40), Request{Ref: good.ref(t, "team/web:1.0")})
	r := newResolver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	outs, err := r.ResolveAll(ctx, reqs)
	d := time.Since(start)
	if err != nil {
		t.Fatalf("ResolveAll: %v (the run's context must still be alive)", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the run's deadline passed during ResolveAll (%s)", d)
	}
	for i, o := range outs[:40] {
		var re *RegistryError
		if !errors.As(o.Err, &re) || re.Kind != Timeout || !strings.HasPrefix(o.Err.Error(), reqs[i].Ref.String()+": registry "+h.host+": Timeout: ") {
			t.Fatalf("image %d: err = %v, want a Timeout naming the image and host", i, o.Err)
		}
	}
	if last := outs[40]; last.Err != nil || last.Resolution.Digest != digest {
		t.Errorf("the answering registry's image: %+v, %v; want digest %s", last.Resolution, last.Err, digest)
	}
	t.Logf("returned after %s of the run's 3s: %v", d, outs[0].Err)
	if d > 2400*time.Millisecond {
		t.Errorf("ResolveAll took %s; want it done by three quarters of the run's 3s", d)
	}
}

// TestImageTimeoutWithoutRunDeadline shows the image timeout alone bounds an image.
func TestImageTimeoutWithoutRunDeadline(t *testing.T) {
	h := newHostileRegistry(t)
	r := newResolver(t, WithImageTimeout(300*time.Millisecond))
	start := time.Now()
	outs, err := r.ResolveAll(context.Background(), h.requests(t, "hang/app", 1))
	if err != nil {
		t.Fatal(err)
	}
	var re *RegistryError
	if !errors.As(outs[0].Err, &re) || re.Kind != Timeout || !re.Transient() {
		t.Fatalf("err = %v, want a transient Timeout", outs[0].Err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s; want about 300ms", d)
	}
}

// TestBusyRegistryPastTheImageDeadlineIsATimeout: a registry that asks for a retry later
// than the image's deadline fails the image at once with a Timeout, not a cancellation.
func TestBusyRegistryPastTheImageDeadlineIsATimeout(t *testing.T) {
	h := newHostileRegistry(t)
	r := newResolver(t, WithImageTimeout(time.Second))
	start := time.Now()
	outs, err := r.ResolveAll(context.Background(), h.requests(t, "busy/app", 1))
	if err != nil {
		t.Fatal(err)
	}
	var re *RegistryError
	if !errors.As(outs[0].Err, &re) || re.Kind != Timeout || re.Host != h.host || !strings.Contains(outs[0].Err.Error(), "would pass the deadline") {
		t.Fatalf("err = %v, want a Timeout naming the host and the retry", outs[0].Err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("took %s; the retry it cannot wait for is not waited for", d)
	}
}

// TestLayerChangesOnASilentRegistryEndEarly: comparing layers on a registry that never
// answers GET takes a quarter of the run's time left, not all of it.
func TestLayerChangesOnASilentRegistryEndEarly(t *testing.T) {
	h := newHostileRegistry(t)
	ref, err := ParseReference(h.host + "/hang/app:1.0")
	if err != nil {
		t.Fatal(err)
	}
	r := newResolver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	start := time.Now()
	_, err = r.LayerChanges(ctx, ref, "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64), nil)
	d := time.Since(start)
	if err == nil {
		t.Fatal("LayerChanges succeeded on a registry that never answers")
	}
	if d > 1500*time.Millisecond || ctx.Err() != nil {
		t.Errorf("LayerChanges took %s of the run's 4s; want about 1s", d)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
