package images

import (
	"sync"
	"time"
)

// cacheKey is one resolution: a reference as seen with one set of credentials.
// Two workloads whose pull secrets give different credentials may be served
// different digests (or none), so they never share an entry.
type cacheKey struct {
	ref      string
	identity string
}

type cacheEntry struct {
	res     Resolution
	expires time.Time
}

// resolutionCache holds tag resolutions for a TTL. It sweeps expired entries
// when it grows past sweepAt, so its size follows the working set.
type resolutionCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	now     func() time.Time
	entries map[cacheKey]cacheEntry
	sweepAt int
}

func newResolutionCache(ttl time.Duration, now func() time.Time) *resolutionCache {
	return &resolutionCache{ttl: ttl, now: now, entries: map[cacheKey]cacheEntry{}, sweepAt: 1024}
}

func (c *resolutionCache) get(k cacheKey) (Resolution, bool) {
	if c.ttl <= 0 {
		return Resolution{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || !c.now().Before(e.expires) {
		return Resolution{}, false
	}
	return e.res, true
}

func (c *resolutionCache) put(k cacheKey, res Resolution) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.entries) >= c.sweepAt {
		for key, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, key)
			}
		}
		if len(c.entries) >= c.sweepAt {
			c.sweepAt *= 2
		}
	}
	c.entries[k] = cacheEntry{res: res, expires: now.Add(c.ttl)}
}

// manifestCache keeps raw manifests by digest. A digest names its content, so
// entries never go stale; the cache is bounded and simply cleared when full.
type manifestCache struct {
	mu    sync.Mutex
	max   int
	items map[string]manifest
}

// manifest is a raw manifest and its media type.
type manifest struct {
	mediaType string
	raw       []byte
}

func newManifestCache(max int) *manifestCache {
	return &manifestCache{max: max, items: map[string]manifest{}}
}

func (c *manifestCache) get(digest string) (manifest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.items[digest]
	return m, ok
}

func (c *manifestCache) put(digest string, m manifest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) >= c.max {
		clear(c.items)
	}
	c.items[digest] = m
}
