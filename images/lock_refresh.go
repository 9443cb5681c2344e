package images

import (
	"fmt"
	"time"
)

// RefreshLock builds the lock that `images lock` writes: one entry per tag in
// use, approving the digest the registry serves now. resolved must hold a
// successful Resolution for every image in use (a failed one must stop the
// command: what cannot be seen cannot be approved). Pinned references are
// left out: their manifest already approves them. An entry whose digest is
// unchanged keeps its approvedAt (and gains platforms it lacked); a new or
// changed one gets approvedAt = at. Old entries for tags no longer in use
// are returned as stale and dropped. The result is sorted.
func RefreshLock(old Lock, resolved []Resolution, at time.Time) (Lock, []LockEntry, error) {
	at = at.UTC().Truncate(time.Second)
	next := map[Reference]LockEntry{}
	for _, res := range resolved {
		if res.Ref.Pinned() || res.Pinned {
			continue
		}
		key := res.Ref.WithoutDigest()
		if err := ValidateDigest(res.Digest); err != nil {
			return Lock{}, nil, fmt.Errorf("%s: resolved digest: %w", key, err)
		}
		if prev, ok := next[key]; ok {
			if prev.Digest != res.Digest {
				return Lock{}, nil, fmt.Errorf("%s: resolved to both %s and %s (credentials see different images?)", key, prev.Digest, res.Digest)
			}
			continue
		}
		e := LockEntry{Ref: key, Digest: res.Digest, MediaType: res.MediaType, Platforms: sortedPlatforms(res.Platforms), ApprovedAt: at}
		if was, ok := old.Entry(key); ok && was.Digest == res.Digest {
			e.ApprovedAt = was.ApprovedAt
			if e.MediaType == "" {
				e.MediaType = was.MediaType
			}
			if len(e.Platforms) == 0 {
				e.Platforms = was.Platforms
			}
		}
		next[key] = e
	}
	var lock Lock
	var stale []LockEntry
	for _, e := range old.Entries {
		if _, ok := next[e.Ref]; !ok {
			stale = append(stale, e)
		}
	}
	for _, e := range next {
		lock.Entries = append(lock.Entries, e)
	}
	lock.Entries = sortedEntries(lock.Entries)
	return lock, sortedEntries(stale), nil
}
