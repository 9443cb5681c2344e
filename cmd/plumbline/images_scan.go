package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/images/inventory"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/report"
)

type scanFlags struct {
	inside  insideFlags
	output  string
	failOn  string
	timeout time.Duration
}

func newImagesScanCommand(_ *globalFlags) *cobra.Command {
	f := &scanFlags{}
	cmd := &cobra.Command{
		Use:   "scan REF",
		Short: "Show what is inside one image: packages, config and vulnerabilities",
		Long: `scan reads one image (a tag is resolved to the digest the registry serves now; for a
multi-arch tag, linux/amd64) and lists its installed packages (dpkg, apk, rpm, Go binaries,
lockfiles, through osv-scalibr), its config (User, Entrypoint, Cmd, ports, labels, the names of
environment variables) and, with --vuln-db, its known vulnerabilities from an OSV database on disk.
Inventories are cached by digest in --scan-cache-dir: a digest is never pulled twice.

Exit status: 0 nothing at or above --fail-on; 1 a vulnerability at or above --fail-on; 2 error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
	f.inside.register(cmd.Flags())
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&f.failOn, "fail-on", "high", "lowest vulnerability severity that makes the exit status 1: low, medium, high or critical")
	registerTimeout(cmd.Flags(), &f.timeout)
	return cmd
}

// scanResult is the JSON form of `images scan`.
type scanResult struct {
	Image           string                 `json:"image"`
	Digest          string                 `json:"digest"`
	Config          any                    `json:"config"`
	Packages        []report.Package       `json:"packages"`
	Vulnerabilities []report.Vulnerability `json:"vulnerabilities"`
	Checked         bool                   `json:"vulnerabilitiesChecked"`
	Warnings        []string               `json:"warnings,omitempty"`
}

func (f *scanFlags) run(ctx context.Context, out io.Writer, raw string) error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("--output %q: want text or json", f.output)
	}
	failOn, err := policy.ParseSeverity(f.failOn)
	if err != nil {
		return fmt.Errorf("--fail-on: %w", err)
	}
	ctx, cancel, err := withTimeout(ctx, f.timeout)
	if err != nil {
		return err
	}
	defer cancel()
	ref, err := images.ParseReference(raw)
	if err != nil {
		return err
	}
	resolver, err := images.NewResolver(images.WithUserAgent("plumbline/" + version))
	if err != nil {
		return err
	}
	f.inside.scanImages = true
	in, err := f.inside.inspector(resolver, 0)
	if err != nil {
		return err
	}
	kc := images.DockerKeychain()
	digest := ref.Digest
	if digest == "" {
		res, err := resolver.Resolve(ctx, ref, kc)
		if err != nil {
			return err
		}
		digest = res.Digest
	}
	insp, err := in.Inspect(ctx, ref, digest, kc)
	if err != nil {
		return err
	}
	res := scanResult{Image: ref.WithoutDigest().String(), Digest: digest, Config: insp.Inventory.Config, Checked: insp.Checked, Warnings: insp.Warnings}
	for _, p := range insp.Inventory.Packages {
		res.Packages = append(res.Packages, report.Package{Name: p.Name, Version: p.Version, Ecosystem: p.Ecosystem})
	}
	for _, v := range insp.Vulnerabilities {
		res.Vulnerabilities = append(res.Vulnerabilities, reconciler.ReportVulnerability(v))
	}
	if f.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		writeScanText(out, res, insp.Inventory.Config)
	}
	for _, v := range insp.Vulnerabilities {
		if s, err := policy.ParseSeverity(v.Severity); err == nil && s.AtLeast(failOn) {
			return exitCodeError{exitFinding}
		}
	}
	return nil
}

func writeScanText(w io.Writer, r scanResult, c inventory.Config) {
	var b strings.Builder
	fmt.Fprintf(&b, "Image: %s@%s\n", report.Printable(r.Image), r.Digest)
	user := "'" + c.User + "'"
	if c.RunsAsRoot() {
		user += " (root)"
	}
	fmt.Fprintf(&b, "  User: %s\n", report.Printable(user))
	fmt.Fprintf(&b, "  Entrypoint: %s  Cmd: %s\n", report.Printable(fmt.Sprintf("%q", c.Entrypoint)), report.Printable(fmt.Sprintf("%q", c.Cmd)))
	if len(c.ExposedPorts) > 0 {
		fmt.Fprintf(&b, "  Ports: %s\n", report.Printable(strings.Join(c.ExposedPorts, ", ")))
	}
	if len(c.EnvNames) > 0 {
		fmt.Fprintf(&b, "  Env (names only): %s\n", report.Printable(strings.Join(c.EnvNames, ", ")))
	}
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		fmt.Fprintf(&b, "  Label %s: %s\n", report.Printable(k), report.Printable(c.Labels[k]))
	}
	fmt.Fprintf(&b, "Packages: %d\n", len(r.Packages))
	for _, p := range r.Packages {
		fmt.Fprintf(&b, "  %-14s %s %s\n", report.Printable(p.Ecosystem), report.Printable(p.Name), report.Printable(p.Version))
	}
	if r.Checked {
		fmt.Fprintf(&b, "Vulnerabilities: %d\n", len(r.Vulnerabilities))
		for _, v := range r.Vulnerabilities {
			fmt.Fprintf(&b, "  %s\n", report.Printable(report.VulnerabilityText(v)))
		}
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "Warning: %s\n", report.Printable(warn))
	}
	_, _ = io.WriteString(w, b.String())
}
