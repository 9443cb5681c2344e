package images

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// savedCache is the serialised form of a Resolver's tag resolutions, so that short-lived
// processes (one `plumbline diff` after another) share them within the TTL. It holds
// references, digests and expiry times, and per entry the same truncated hash of the
// credentials that keys the in-memory cache: never a credential.
type savedCache struct {
	Version int          `json:"version"`
	Entries []savedEntry `json:"entries"`
}

type savedEntry struct {
	Ref        string     `json:"ref"`
	Identity   string     `json:"identity"`
	Resolution Resolution `json:"resolution"`
	// Resolved is when the registry gave the resolution (an entry expires one TTL after it, or
	// earlier when it was loaded from a file), so that a reader with another TTL judges the
	// entry's age by its own; zero in files of older releases.
	Resolved time.Time `json:"resolved,omitzero"`
	Expires  time.Time `json:"expires"`
}

const savedCacheVersion = 1

// SaveCache writes the resolutions that have not expired to w, as JSON.
func (r *Resolver) SaveCache(w io.Writer) error {
	c := r.cache
	out := savedCache{Version: savedCacheVersion}
	now := c.now()
	for k, e := range c.all() {
		if now.Before(e.expires) {
			out.Entries = append(out.Entries, savedEntry{Ref: k.ref, Identity: k.identity, Resolution: e.res, Resolved: e.expires.Add(-c.ttl), Expires: e.expires})
		}
	}
	return json.NewEncoder(w).Encode(out)
}

// LoadCache adds the resolutions that SaveCache wrote and that have not expired. An entry
// never lives longer than this Resolver's TTL from when the registry gave it (from now, for a
// file that does not say when), whatever TTL the process that saved it had. A file of another
// version is ignored; one that does not parse is an error.
func (r *Resolver) LoadCache(rd io.Reader) error {
	var in savedCache
	if err := json.NewDecoder(rd).Decode(&in); err != nil {
		return fmt.Errorf("image digest cache: %w", err)
	}
	if in.Version != savedCacheVersion || r.cache.ttl <= 0 {
		return nil
	}
	c := r.cache
	now := c.now()
	for _, e := range in.Entries {
		if !now.Before(e.Expires) || ValidateDigest(e.Resolution.Digest) != nil {
			continue
		}
		resolved := e.Resolved
		if resolved.IsZero() || resolved.After(now) {
			resolved = now
		}
		if limit := resolved.Add(c.ttl); e.Expires.After(limit) {
			e.Expires = limit
		}
		c.set(cacheKey{ref: e.Ref, identity: e.Identity}, cacheEntry{res: e.Resolution, expires: e.Expires})
	}
	return nil
}
