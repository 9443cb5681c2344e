package images

import (
	"fmt"
	"testing"
	"time"
)

// TestResolutionCacheBounded: the resolution cache holds at most maxResolutions entries, the
// least recently used going first, and still expires by the TTL.
func TestResolutionCacheBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newResolutionCache(time.Minute, func() time.Time { return now })
	key := func(i int) cacheKey { return cacheKey{ref: fmt.Sprintf("registry.example/app:%d", i)} }
	for i := range maxResolutions {
		c.put(key(i), Resolution{Digest: digestOf("a")})
	}
	if _, ok := c.get(key(0)); !ok { // now the most recently used
		t.Fatal("entry 0 missing before the cache is full")
	}
	c.put(key(maxResolutions), Resolution{Digest: digestOf("b")})
	if _, ok := c.get(key(1)); ok {
		t.Error("the least recently used entry survived a full cache")
	}
	if _, ok := c.get(key(0)); !ok {
		t.Error("a recently used entry was evicted")
	}
	if n := len(c.all()); n != maxResolutions {
		t.Errorf("cache holds %d entries, want %d", n, maxResolutions)
	}
	now = now.Add(time.Minute)
	if _, ok := c.get(key(0)); ok {
		t.Error("an entry outlived its TTL")
	}
}

// TestManifestCacheLRU: a full manifest cache drops the least recently used manifest, not all
// of them.
func TestManifestCacheLRU(t *testing.T) {
	c := newManifestCache(2)
	c.put("a", manifest{raw: []byte("a")})
	c.put("b", manifest{raw: []byte("b")})
	if _, ok := c.get("a"); !ok {
		t.Fatal("a missing")
	}
	c.put("c", manifest{raw: []byte("c")})
	if _, ok := c.get("b"); ok {
		t.Error("b, the least recently used, was kept")
	}
	for _, d := range []string{"a", "c"} {
		if m, ok := c.get(d); !ok || string(m.raw) != d {
			t.Errorf("%s: got %q, %v; want it kept", d, m.raw, ok)
		}
	}
}
