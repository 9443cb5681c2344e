package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/plumbline/plumbline/diff"
	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/report"
)

type diffFlags struct {
	source      sourceFlags
	kube        kubeFlags
	checks      checkFlags
	output      string
	sourceName  string
	ignoreFile  string
	interactive []string
	pullSecrets bool
	timeout     time.Duration
}

func newDiffCommand(g *globalFlags) *cobra.Command {
	f := &diffFlags{}
	cmd := &cobra.Command{
		Use:   "diff --path DIR [--repo URL|PATH] [--ref REF]",
		Short: "Report how the live cluster differs from Git",
		Long: `diff renders the manifests of a folder (kustomize, or plain YAML), compares each object with its
live twin, and reports drift: Modified fields (with who changed them and when), Missing objects,
and Extra objects that Git does not declare. It checks images (the digest approved in Git, the
one the registry serves, the ones pods run) and reports live objects that drifted into a policy
violation (the built-in baseline, or --policy).

Exit status: 0 no drift, 1 drift, 2 error (as kubectl diff).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, g)
		},
	}
	f.source.register(cmd.Flags())
	f.kube.register(cmd.Flags())
	f.checks.register(cmd.Flags())
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&f.sourceName, "source-name", "", "value of the plumbline.dev/source label that marks this source's objects (default: derived from the repository URL and path)")
	cmd.Flags().StringVar(&f.ignoreFile, "ignore-file", "", "YAML file of ignore rules (kind IgnoreRules)")
	cmd.Flags().StringSliceVar(&f.interactive, "interactive-managers", diff.DefaultOptions().InteractiveManagers, "field managers (globs) that are people: what they add where Git is silent is drift")
	cmd.Flags().BoolVar(&f.pullSecrets, "pull-secrets", false, "resolve each workload's images with its imagePullSecrets and its ServiceAccount's, as the kubelet pulls them (needs get on secrets and serviceaccounts), then the Docker config")
	registerTimeout(cmd.Flags(), &f.timeout)
	return cmd
}

func (f *diffFlags) run(cmd *cobra.Command, g *globalFlags) error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("--output %q: want text or json", f.output)
	}
	ctx, cancel, err := withTimeout(cmd.Context(), f.timeout)
	if err != nil {
		return err
	}
	defer cancel()
	failOn, err := f.checks.failOnSeverity()
	if err != nil {
		return err
	}
	opts := reconciler.DefaultDiffOptions()
	opts.Diff.InteractiveManagers = f.interactive
	if opts.Policy, err = f.checks.engine(ctx); err != nil {
		return err
	}
	if f.ignoreFile != "" {
		rules, err := readIgnoreRules(ctx, f.ignoreFile)
		if err != nil {
			return err
		}
		opts.Diff.Ignore = rules
	}
	cfg, ns, err := f.kube.config()
	if err != nil {
		return err
	}
	cluster, err := reconciler.NewCluster(cfg)
	if err != nil {
		return err
	}
	warm := make(chan struct{})
	go func() { // discovery and schemas while the source is fetched and rendered
		defer close(warm)
		cluster.Warm(ctx)
	}()
	state, err := f.source.load(ctx, f.kube.secretReader())
	<-warm
	if err != nil {
		return err
	}
	defer func() {
		if err := state.close(); err != nil {
			g.log.Warn("remove fetched tree", "err", err)
		}
	}()
	g.log.Debug("rendered", "objects", len(state.objects), "root", state.root, "path", state.dir)
	if opts.Images, err = f.checks.imageOptions(ctx, state); err != nil {
		return err
	}
	if opts.Images != nil && f.pullSecrets {
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		opts.Images.PullSecrets = func(ctx context.Context, namespace string, spec *corev1.PodSpec) (authn.Keychain, error) {
			return images.WorkloadKeychain(ctx, cs, namespace, spec)
		}
	}
	opts.Source, opts.DefaultNamespace = state.source, ns
	opts.SourceName = f.sourceName
	if opts.SourceName == "" {
		opts.SourceName = sourceName(state.identity)
	}
	r, err := cluster.Diff(ctx, state.objects, opts)
	if err != nil {
		return err
	}
	if err := f.checks.saveDigestCache(); err != nil {
		g.log.Warn("keep resolved image digests", "err", err)
	}
	if err := writeReport(cmd.OutOrStdout(), f.output, r); err != nil {
		return err
	}
	return exitFor(r, failOn)
}

func writeReport(w io.Writer, format string, r *report.Report) error {
	if format == "json" {
		return report.WriteJSON(w, r)
	}
	return report.WriteText(w, r)
}

// readIgnoreRules reads --ignore-file through the guarded reader (a regular file, size-capped,
// never blocking) and parses it.
func readIgnoreRules(ctx context.Context, path string) ([]diff.IgnoreRule, error) {
	b, err := manifests.ReadLocalFile(ctx, path)
	if err != nil {
		return nil, err
	}
	return diff.ParseIgnoreRules(b, path)
}
