package images

import (
	"time"

	"k8s.io/apimachinery/pkg/util/cache"
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

// maxResolutions bounds the resolution cache: past it the least recently used
// resolution goes first.
const maxResolutions = 16384

// resolutionCache holds tag resolutions for a TTL, in apimachinery's expiring
// LRU cache, so that its size is bounded whatever the working set.
type resolutionCache struct {
	ttl     time.Duration
	now     func() time.Time
	entries *cache.LRUExpireCache
}

// clockFunc gives the LRU cache the Resolver's clock.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

func newResolutionCache(ttl time.Duration, now func() time.Time) *resolutionCache {
	return &resolutionCache{ttl: ttl, now: now, entries: cache.NewLRUExpireCacheWithClock(maxResolutions, clockFunc(now))}
}

func (c *resolutionCache) get(k cacheKey) (Resolution, bool) {
	if c.ttl <= 0 {
		return Resolution{}, false
	}
	v, ok := c.entries.Get(k)
	if !ok {
		return Resolution{}, false
	}
	e := v.(cacheEntry)
	if !c.now().Before(e.expires) {
		return Resolution{}, false
	}
	return e.res, true
}

func (c *resolutionCache) put(k cacheKey, res Resolution) {
	if c.ttl <= 0 {
		return
	}
	c.set(k, cacheEntry{res: res, expires: c.now().Add(c.ttl)})
}

// set keeps e until e.expires.
func (c *resolutionCache) set(k cacheKey, e cacheEntry) {
	if ttl := e.expires.Sub(c.now()); ttl > 0 {
		c.entries.Add(k, e, ttl)
	}
}

// all returns the entries that have not expired.
func (c *resolutionCache) all() map[cacheKey]cacheEntry {
	out := map[cacheKey]cacheEntry{}
	for _, k := range c.entries.Keys() {
		if v, ok := c.entries.Get(k); ok {
			out[k.(cacheKey)] = v.(cacheEntry)
		}
	}
	return out
}

// manifestTTL is how long a raw manifest is kept. A digest names its
// content, so a manifest never goes stale; the TTL only frees memory.
const manifestTTL = 24 * time.Hour

// manifestCache keeps raw manifests by digest, the least recently used going
// first when it is full.
type manifestCache struct {
	items *cache.LRUExpireCache
}

// manifest is a raw manifest and its media type.
type manifest struct {
	mediaType string
	raw       []byte
}

func newManifestCache(max int) *manifestCache {
	return &manifestCache{items: cache.NewLRUExpireCache(max)}
}

func (c *manifestCache) get(digest string) (manifest, bool) {
	v, ok := c.items.Get(digest)
	if !ok {
		return manifest{}, false
	}
	return v.(manifest), true
}

func (c *manifestCache) put(digest string, m manifest) {
	c.items.Add(digest, m, manifestTTL)
}
