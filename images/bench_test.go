package images

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// push500 pushes 500 distinct tags (10 repositories × 50 tags), each a
// distinct image (same layer, own config), and returns one Request per tag.
func push500(tb testing.TB) (*testRegistry, []Request) {
	tb.Helper()
	reg := newTestRegistry(tb)
	base := imageOf(tb, randomLayers(tb, 1)...)
	var reqs []Request
	for repo := range 10 {
		for tag := range 50 {
			img, err := mutate.Config(base, v1.Config{Env: []string{fmt.Sprintf("BUILD=%d-%d", repo, tag)}})
			if err != nil {
				tb.Fatal(err)
			}
			rt := fmt.Sprintf("bench/app%d:v%d", repo, tag)
			reg.pushImage(tb, rt, img)
			reqs = append(reqs, Request{Ref: reg.ref(tb, rt)})
		}
	}
	reg.reset()
	return reg, reqs
}

func resolveAllOK(tb testing.TB, r *Resolver, reqs []Request) {
	tb.Helper()
	outs, err := r.ResolveAll(context.Background(), reqs)
	if err != nil {
		tb.Fatal(err)
	}
	seen := map[string]bool{}
	for i, o := range outs {
		if o.Err != nil {
			tb.Fatalf("request %d: %v", i, o.Err)
		}
		seen[o.Resolution.Digest] = true
	}
	if len(seen) != len(reqs) {
		tb.Fatalf("%d distinct digests for %d distinct images", len(seen), len(reqs))
	}
}

// TestResolve500Tags: 500 tags resolve with the default concurrency, one
// HEAD each, and a second pass inside the TTL makes no registry request.
func TestResolve500Tags(t *testing.T) {
	reg, reqs := push500(t)
	r := newResolver(t)
	start := time.Now()
	resolveAllOK(t, r, reqs)
	cold := time.Since(start)
	all, heads, gets := reg.counts()
	if heads != 500 || gets != 0 {
		t.Fatalf("cold pass: %d HEADs %d GETs, want 500 HEADs", heads, gets)
	}
	reg.reset()
	resolveAllOK(t, r, reqs)
	if warm, _, _ := reg.counts(); warm != 0 {
		t.Fatalf("warm pass made %d registry requests, want 0", warm)
	}
	t.Logf("cold pass: %s, %d requests (%d manifest HEADs, %d pings)", cold, all, heads, all-heads)
}

// BenchmarkResolve500Tags measures a cold pass over 500 tags with the
// default concurrency (ns/op), and counts the requests of the cold and of a
// warm pass inside the TTL.
func BenchmarkResolve500Tags(b *testing.B) {
	reg, reqs := push500(b)
	var coldReqs, warmReqs int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := newResolver(b)
		reg.reset()
		b.StartTimer()
		resolveAllOK(b, r, reqs)
		b.StopTimer()
		all, _, _ := reg.counts()
		coldReqs += all
		reg.reset()
		resolveAllOK(b, r, reqs)
		all, _, _ = reg.counts()
		warmReqs += all
		b.StartTimer()
	}
	b.ReportMetric(float64(coldReqs)/float64(b.N), "cold-requests/op")
	b.ReportMetric(float64(warmReqs)/float64(b.N), "warm-requests/op")
}
