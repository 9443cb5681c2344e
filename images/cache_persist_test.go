package images

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestSavedCacheSpansProcesses: a Resolver that loads what another one saved answers inside the
// TTL with no registry request, asks again after it, and never keeps an entry longer than its
// own TTL.
func TestSavedCacheSpansProcesses(t *testing.T) {
	ctx := context.Background()
	reg, ref, digest := pushed(t)
	clock := newFakeClock()
	first := newResolver(t, WithClock(clock.Now))
	if _, err := first.Resolve(ctx, ref, nil); err != nil {
		t.Fatal(err)
	}
	var saved bytes.Buffer
	if err := first.SaveCache(&saved); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(saved.String(), "password") {
		t.Fatalf("saved cache holds more than digests: %s", saved.String())
	}
	reg.reset()

	clock.Advance(time.Minute)
	second := newResolver(t, WithClock(clock.Now))
	if err := second.LoadCache(bytes.NewReader(saved.Bytes())); err != nil {
		t.Fatal(err)
	}
	res, err := second.Resolve(ctx, ref, nil)
	if err != nil || res.Digest != digest {
		t.Fatalf("Resolve from the saved cache = %v, %v", res.Digest, err)
	}
	if all, _, _ := reg.counts(); all != 0 {
		t.Fatalf("inside the TTL: %d registry requests, want 0", all)
	}

	clock.Advance(DefaultCacheTTL)
	third := newResolver(t, WithClock(clock.Now))
	if err := third.LoadCache(bytes.NewReader(saved.Bytes())); err != nil {
		t.Fatal(err)
	}
	if _, err := third.Resolve(ctx, ref, nil); err != nil {
		t.Fatal(err)
	}
	if _, heads, _ := reg.counts(); heads != 1 {
		t.Fatalf("after the TTL: %d HEADs, want 1", heads)
	}

	short := newResolver(t, WithClock(clock.Now), WithCacheTTL(time.Second))
	reg.reset()
	var fresh bytes.Buffer
	if err := third.SaveCache(&fresh); err != nil {
		t.Fatal(err)
	}
	if err := short.LoadCache(&fresh); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	if _, err := short.Resolve(ctx, ref, nil); err != nil {
		t.Fatal(err)
	}
	if _, heads, _ := reg.counts(); heads != 1 {
		t.Fatalf("a loaded entry outlived the resolver's own TTL: %d HEADs, want 1", heads)
	}
	if err := short.LoadCache(strings.NewReader("{not json")); err == nil {
		t.Error("a corrupt cache file loaded without error")
	}
}

// TestSavedEntryAgesFromItsResolution: a Resolver with a shorter TTL than the one that saved a
// cache (a controller whose TTL is its Source's interval, a run with a shorter --cache-ttl)
// judges a saved digest by when the registry gave it, not by when the file was read.
func TestSavedEntryAgesFromItsResolution(t *testing.T) {
	ctx := context.Background()
	reg, ref, _ := pushed(t)
	clock := newFakeClock()
	long := newResolver(t, WithClock(clock.Now), WithCacheTTL(time.Hour))
	if _, err := long.Resolve(ctx, ref, nil); err != nil {
		t.Fatal(err)
	}
	var saved bytes.Buffer
	if err := long.SaveCache(&saved); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name      string
		age, ttl  time.Duration
		wantHeads int
	}{
		{name: "younger than the reader's TTL", age: 10 * time.Second, ttl: 30 * time.Second, wantHeads: 0},
		{name: "older than the reader's TTL", age: time.Minute, ttl: 30 * time.Second, wantHeads: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			at := newFakeClock()
			at.Advance(tt.age)
			reader := newResolver(t, WithClock(at.Now), WithCacheTTL(tt.ttl))
			if err := reader.LoadCache(bytes.NewReader(saved.Bytes())); err != nil {
				t.Fatal(err)
			}
			reg.reset()
			if _, err := reader.Resolve(ctx, ref, nil); err != nil {
				t.Fatal(err)
			}
			if _, heads, _ := reg.counts(); heads != tt.wantHeads {
				t.Errorf("a digest resolved %s ago, read with a %s TTL: %d HEADs, want %d", tt.age, tt.ttl, heads, tt.wantHeads)
			}
		})
	}
}
