package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/report"
)

// checkFlags select the image and policy checks that diff and check run.
type checkFlags struct {
	policyFile string
	failOn     string
	skipImages bool
	offline    bool
	cacheDir   string
	cacheTTL   time.Duration
	inside     insideFlags

	resolver *images.Resolver
}

func (f *checkFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.policyFile, "policy", "", "PolicySet file of rule settings and CEL rules (default: the built-in baseline)")
	fs.StringVar(&f.failOn, "fail-on", "high", "lowest policy severity that makes the exit status 1: low, medium, high or critical")
	fs.BoolVar(&f.skipImages, "skip-images", false, "do not check images at all")
	fs.BoolVar(&f.offline, "offline", false, "check image approvals without asking registries (a rebuilt tag goes unseen)")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "reuse the image digests of earlier runs kept in this folder, for --cache-ttl: fewer registry requests, but a tag rebuilt inside the TTL goes unseen until it ends (default: none, every run asks the registry)")
	fs.DurationVar(&f.cacheTTL, "cache-ttl", images.DefaultCacheTTL, "with --cache-dir, how long a resolved digest is reused")
	f.inside.register(fs)
}

// resolverTTL is how long a resolution is reused. Without --cache-dir it is reused only inside
// this run (every tag is still asked once per run), so the TTL needs only to outlast the run.
func (f *checkFlags) resolverTTL() time.Duration {
	if f.cacheDir == "" {
		return images.DefaultCacheTTL
	}
	return f.cacheTTL
}

// digestCacheFile is where resolved digests are kept between runs.
func (f *checkFlags) digestCacheFile() string {
	if f.cacheDir == "" {
		return ""
	}
	return filepath.Join(f.cacheDir, "image-digests.json")
}

// failOnSeverity parses --fail-on.
func (f *checkFlags) failOnSeverity() (policy.Severity, error) {
	s, err := policy.ParseSeverity(f.failOn)
	if err != nil {
		return "", fmt.Errorf("--fail-on: %w", err)
	}
	return s, nil
}

// engine compiles the policy file, or the built-in baseline without one. The file is read
// through the guarded reader: a regular file, size-capped, never blocking.
func (f *checkFlags) engine(ctx context.Context) (*policy.Engine, error) {
	if f.policyFile == "" {
		return policy.NewEngine(nil)
	}
	data, err := manifests.ReadLocalFile(ctx, f.policyFile)
	if err != nil {
		return nil, err
	}
	ps, err := policy.ParsePolicySet(data, f.policyFile)
	if err != nil {
		return nil, err
	}
	return policy.NewEngine(ps)
}

// imageOptions returns the image checks for a rendered source, reading its lock file; nil with
// --skip-images.
func (f *checkFlags) imageOptions(ctx context.Context, state *desiredState) (*reconciler.ImageOptions, error) {
	if f.skipImages {
		return nil, nil
	}
	lock, err := reconciler.ReadLock(ctx, state.root, state.dir)
	if err != nil {
		return nil, err
	}
	opts := &reconciler.ImageOptions{Lock: lock, Keychain: images.DockerKeychain()}
	if !f.offline {
		if f.cacheTTL < 0 {
			return nil, fmt.Errorf("--cache-ttl %s: want 0 (no reuse) or a positive duration", f.cacheTTL)
		}
		if opts.Resolver, err = images.NewResolver(images.WithUserAgent("plumbline/"+version), images.WithCacheTTL(f.resolverTTL())); err != nil {
			return nil, err
		}
		f.resolver = opts.Resolver
		f.loadDigestCache()
	}
	if opts.Inspector, err = f.inside.inspector(opts.Resolver, 0); err != nil {
		return nil, err
	}
	return opts, nil
}

// loadDigestCache reads the digests earlier runs resolved. A missing or unreadable cache only
// costs registry requests.
func (f *checkFlags) loadDigestCache() {
	file := f.digestCacheFile()
	if file == "" {
		return
	}
	in, err := os.Open(file)
	if err != nil {
		return
	}
	defer in.Close()
	_ = f.resolver.LoadCache(in) // a corrupt cache is replaced on save
}

// saveDigestCache keeps what this run resolved for the next runs; it is best effort.
func (f *checkFlags) saveDigestCache() error {
	file := f.digestCacheFile()
	if file == "" || f.resolver == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".image-digests-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := f.resolver.SaveCache(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// exitFor maps a report to the exit code: errors first, then findings. A policy violation
// counts when its severity is failOn or above; every other finding counts.
func exitFor(r *report.Report, failOn policy.Severity) error {
	if r.HasErrors() {
		return exitCodeError{exitError}
	}
	for _, f := range r.Findings {
		if f.Type != report.PolicyViolation {
			return exitCodeError{exitFinding}
		}
		if s, err := policy.ParseSeverity(f.Severity); err == nil && s.AtLeast(failOn) {
			return exitCodeError{exitFinding}
		}
	}
	return nil
}
