package manifests

import (
	"fmt"
	"time"
)

// Options caps what one Render may read, produce and spend. A zero field takes its default
// (see DefaultOptions); a negative field is an error. There is no way to switch a cap off.
type Options struct {
	// MaxFileBytes caps the size of any one file that is read. Default 4 MiB.
	MaxFileBytes int64
	// MaxTotalBytes caps the bytes of all files read, each file counted once. Default 64 MiB.
	MaxTotalBytes int64
	// MaxOutputBytes caps the size of the rendered objects as JSON. It is checked against an
	// estimate before kustomize runs and against the real output after. Default 128 MiB.
	MaxOutputBytes int64
	// MaxObjects caps the number of rendered objects. It is checked against an estimate of
	// the kustomization graph before kustomize runs and against the real output after.
	// Default 20,000.
	MaxObjects int
	// MaxKustomizations caps how many kustomizations kustomize would load, counting a base
	// once per reference to it (kustomize loads it again each time). Default 1,000.
	MaxKustomizations int
	// MaxNodes caps the YAML nodes one Render may build, over every file it parses, each
	// file checked against an upper bound before it is parsed. It is what bounds memory:
	// a node costs about 170 bytes held and YAML can make one of every 1.5 bytes, so bytes
	// alone do not. Default 500,000: through kustomize a node costs about 600 bytes at the peak,
	// so the default keeps a render near 300 MiB, inside a 512 MiB controller.
	MaxNodes int
	// Timeout caps the wall time of one Render, preflight and build together. Default 30 s.
	Timeout time.Duration

	nodes *nodeBudget // shared by one Render's reads; set by withDefaults
}

// DefaultOptions returns the caps Plumbline renders with unless configured otherwise.
func DefaultOptions() Options {
	return Options{
		MaxFileBytes:      4 << 20,
		MaxTotalBytes:     64 << 20,
		MaxOutputBytes:    128 << 20,
		MaxObjects:        20_000,
		MaxKustomizations: 1_000,
		MaxNodes:          500_000,
		Timeout:           30 * time.Second,
	}
}

// withDefaults fills zero fields with their defaults and rejects negative ones. It gives
// the result a fresh node budget: call it once per Render.
func (o Options) withDefaults() (Options, error) {
	d := DefaultOptions()
	if o.MaxFileBytes < 0 || o.MaxTotalBytes < 0 || o.MaxOutputBytes < 0 ||
		o.MaxObjects < 0 || o.MaxKustomizations < 0 || o.MaxNodes < 0 || o.Timeout < 0 {
		return o, fmt.Errorf("manifests: options must not be negative: %+v", o)
	}
	if o.MaxFileBytes == 0 {
		o.MaxFileBytes = d.MaxFileBytes
	}
	if o.MaxTotalBytes == 0 {
		o.MaxTotalBytes = d.MaxTotalBytes
	}
	if o.MaxOutputBytes == 0 {
		o.MaxOutputBytes = d.MaxOutputBytes
	}
	if o.MaxObjects == 0 {
		o.MaxObjects = d.MaxObjects
	}
	if o.MaxKustomizations == 0 {
		o.MaxKustomizations = d.MaxKustomizations
	}
	if o.MaxNodes == 0 {
		o.MaxNodes = d.MaxNodes
	}
	if o.Timeout == 0 {
		o.Timeout = d.Timeout
	}
	o.nodes = &nodeBudget{limit: int64(o.MaxNodes)}
	return o, nil
}
