package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/report"
)

type checkCmdFlags struct {
	source    sourceFlags
	checks    checkFlags
	output    string
	namespace string
	timeout   time.Duration
}

func newCheckCommand(g *globalFlags) *cobra.Command {
	f := &checkCmdFlags{}
	cmd := &cobra.Command{
		Use:   "check --path DIR [--policy FILE]",
		Short: "Check what Git declares against the policy and the image approvals, without a cluster",
		Long: `check renders the manifests of a folder and checks them, with no cluster: every policy rule
(the built-in baseline, or --policy), and every image against the digest approved in Git
(plumbline.lock.yaml, or a digest in the manifest) and, unless --offline, the digest the registry
serves. It is meant for CI on pull requests.

Exit status: 0 nothing found; 1 a policy violation at or above --fail-on, or an image finding;
2 error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, g)
		},
	}
	f.source.register(cmd.Flags())
	f.checks.register(cmd.Flags())
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "default", "namespace for namespaced objects that declare none, as diff and kubectl apply -n give it; policy rules match on it")
	registerTimeout(cmd.Flags(), &f.timeout)
	return cmd
}

func (f *checkCmdFlags) run(cmd *cobra.Command, g *globalFlags) error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("--output %q: want text or json", f.output)
	}
	failOn, err := f.checks.failOnSeverity()
	if err != nil {
		return err
	}
	engine, err := f.checks.engine(cmd.Context())
	if err != nil {
		return err
	}
	ctx, cancel, err := withTimeout(cmd.Context(), f.timeout)
	if err != nil {
		return err
	}
	defer cancel()
	state, err := f.source.load(ctx, noSecrets)
	if err != nil {
		return err
	}
	defer func() {
		if err := state.close(); err != nil {
			g.log.Warn("remove fetched tree", "err", err)
		}
	}()
	imgs, err := f.checks.imageOptions(ctx, state)
	if err != nil {
		return err
	}
	r, err := reconciler.Check(ctx, state.objects, reconciler.CheckOptions{
		Source: state.source, Images: imgs, Policy: engine, DefaultNamespace: f.namespace,
	})
	if err != nil {
		return err
	}
	if err := f.checks.saveDigestCache(); err != nil {
		g.log.Warn("keep resolved image digests", "err", err)
	}
	write := report.WriteCheckText
	if f.output == "json" {
		write = report.WriteJSON
	}
	if err := write(cmd.OutOrStdout(), r); err != nil {
		return err
	}
	return exitFor(r, failOn)
}

// noSecrets refuses --git-secret where there is no cluster to read it from.
func noSecrets(context.Context, string, string) (map[string][]byte, error) {
	return nil, fmt.Errorf("check runs without a cluster: give Git credentials as files")
}
