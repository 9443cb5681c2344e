package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/plumbline/plumbline/images"
)

// runInsideFlags are the flags of `run` that look inside images.
type runInsideFlags struct {
	insideFlags
	wait time.Duration
}

func (f *runInsideFlags) register(fs *pflag.FlagSet) {
	f.insideFlags.register(fs)
	fs.DurationVar(&f.wait, "scan-wait", 5*time.Second, "with --vuln-db or --scan-images, how long a reconcile waits for an image scan that is not cached; a longer scan finishes in the background and the next pass reports it")
}

// wire returns the Inspector of the flags, nil when they ask for none.
func (f *runInsideFlags) wire(resolver *images.Resolver) (*images.Inspector, error) {
	return f.inspector(resolver, max(f.wait, time.Millisecond))
}
