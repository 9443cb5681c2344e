package policy

import (
	"sync"
	"sync/atomic"
)

// maxCachedRefs bounds the parsed-reference cache of one Engine. Rendered
// repositories hold few distinct images for many workloads; past the bound
// new references are parsed each time instead of cached.
const maxCachedRefs = 4096

// refCache memoises parseImageRef, safely for concurrent Evaluate calls.
type refCache struct {
	m sync.Map // image string -> refResult
	n atomic.Int64
}

type refResult struct {
	ref imageRef
	err error
}

func (c *refCache) parse(image string) (imageRef, error) {
	if v, ok := c.m.Load(image); ok {
		r := v.(refResult)
		return r.ref, r.err
	}
	ref, err := parseImageRef(image)
	if c.n.Load() < maxCachedRefs {
		if _, loaded := c.m.LoadOrStore(image, refResult{ref, err}); !loaded {
			c.n.Add(1)
		}
	}
	return ref, err
}
