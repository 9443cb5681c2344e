package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"

	"github.com/spf13/pflag"

	"github.com/plumbline/plumbline/images"
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
}

func (f *checkFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.policyFile, "policy", "", "PolicySet file of rule settings and CEL rules (default: the built-in baseline)")
	fs.StringVar(&f.failOn, "fail-on", "high", "lowest policy severity that makes the exit status 1: low, medium, high or critical")
	fs.BoolVar(&f.skipImages, "skip-images", false, "do not check images at all")
	fs.BoolVar(&f.offline, "offline", false, "check image approvals without asking registries (a rebuilt tag goes unseen)")
}

// failOnSeverity parses --fail-on.
func (f *checkFlags) failOnSeverity() (policy.Severity, error) {
	s, err := policy.ParseSeverity(f.failOn)
	if err != nil {
		return "", fmt.Errorf("--fail-on: %w", err)
	}
	return s, nil
}

// engine compiles the policy file, or the built-in baseline without one.
func (f *checkFlags) engine() (*policy.Engine, error) {
	if f.policyFile == "" {
		return policy.NewEngine(nil)
	}
	data, err := os.ReadFile(f.policyFile)
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
func (f *checkFlags) imageOptions(state *desiredState) (*reconciler.ImageOptions, error) {
	if f.skipImages {
		return nil, nil
	}
	lock, err := images.ReadLock(os.DirFS(state.root), state.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	opts := &reconciler.ImageOptions{Lock: lock, Keychain: images.DockerKeychain()}
	if !f.offline {
		if opts.Resolver, err = images.NewResolver(images.WithUserAgent("plumbline/" + version)); err != nil {
			return nil, err
		}
	}
	return opts, nil
}

// lockPath is where the lock file of a source folder lives, relative to the repository root.
func lockPath(dir string) string { return path.Join(dir, images.LockFileName) }

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
