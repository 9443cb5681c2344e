package main

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/plumbline/plumbline/gitsource"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/report"
)

type proposeFlags struct {
	source      sourceFlags
	kube        kubeFlags
	checks      checkFlags
	sourceName  string
	forge       string
	apiURL      string
	tokenFile   string
	base        string
	authorName  string
	authorEmail string
	types       []string
	timeout     time.Duration
}

func newProposeCommand(g *globalFlags) *cobra.Command {
	f := &proposeFlags{}
	cmd := &cobra.Command{
		Use:   "propose --repo URL --path DIR --forge gitea|github --token-file FILE",
		Short: "Open pull requests that write the live cluster's drift into Git, once",
		Long: `propose does once what the controller's mode propose does: it compares the folder of --repo with
the cluster (as diff does), and for each drifted object (and each image rebuilt under its tag, or
not pinned) pushes a branch plumbline/<type>-<short hash> that makes Git declare what runs, and
opens a pull request on the forge, or updates the one already open for that branch. Merging
approves the change; closing it rejects it. Secret values are never written to Git.

The token is read from --token-file, never from a flag's value; it pushes the branch over HTTPS
too, unless Git credentials are given.

Exit status: 0 every proposal opened (or nothing drifted), 2 an error or a refused proposal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd, g) },
	}
	f.source.register(cmd.Flags())
	f.kube.register(cmd.Flags())
	f.checks.register(cmd.Flags())
	cmd.Flags().StringVar(&f.sourceName, "source-name", "", "value of the plumbline.dev/source label of this source's objects (default: derived from the repository URL and path)")
	cmd.Flags().StringVar(&f.forge, "forge", "", "forge API: gitea, github or gitlab")
	cmd.Flags().StringVar(&f.apiURL, "api-url", "", "forge API root (default: https://api.github.com/ for github; the scheme and host of --repo for gitea, and that followed by /api/v4 for gitlab)")
	cmd.Flags().StringVar(&f.tokenFile, "token-file", "", "file holding the forge API token")
	cmd.Flags().StringVar(&f.base, "base", "", "branch the pull requests merge into (default: --ref, else the remote's default branch)")
	cmd.Flags().StringVar(&f.authorName, "author-name", "Plumbline", "author of the proposal commits")
	cmd.Flags().StringVar(&f.authorEmail, "author-email", "plumbline@localhost", "author e-mail of the proposal commits")
	cmd.Flags().StringSliceVar(&f.types, "types", []string{"Modified", "Missing", "Extra", "ImageTagMutated", "ImageUnpinned"}, "finding types to propose")
	registerTimeout(cmd.Flags(), &f.timeout)
	return cmd
}

func (f *proposeFlags) run(cmd *cobra.Command, g *globalFlags) error {
	if f.source.repo == "" {
		return fmt.Errorf("--repo is required: a proposal is pushed to a remote repository")
	}
	switch gitsource.ForgeKind(f.forge) {
	case gitsource.ForgeGitea, gitsource.ForgeGitHub, gitsource.ForgeGitLab:
	default:
		return fmt.Errorf("--forge %q: want gitea, github or gitlab", f.forge)
	}
	if f.tokenFile == "" {
		return fmt.Errorf("--token-file is required")
	}
	ctx, cancel, err := withTimeout(cmd.Context(), f.timeout)
	if err != nil {
		return err
	}
	defer cancel()
	tok, err := manifests.ReadLocalFile(ctx, f.tokenFile)
	if err != nil {
		return fmt.Errorf("--token-file: %w", err)
	}
	token := string(bytes.TrimSpace(tok))
	forge, err := gitsource.NewForge(gitsource.ForgeOptions{Kind: gitsource.ForgeKind(f.forge), APIURL: f.apiURL, RepoURL: f.source.repo, Token: token})
	if err != nil {
		return err
	}
	engine, err := f.checks.engine(ctx)
	if err != nil {
		return err
	}
	cfg, ns, err := f.kube.config()
	if err != nil {
		return err
	}
	cluster, err := reconciler.NewCluster(cfg)
	if err != nil {
		return err
	}
	state, err := f.source.load(ctx, f.kube.secretReader())
	if err != nil {
		return err
	}
	defer func() {
		if err := state.close(); err != nil {
			g.log.Warn("remove fetched tree", "err", err)
		}
	}()
	opts := reconciler.DefaultDiffOptions()
	opts.Policy = engine
	if opts.Images, err = f.checks.imageOptions(ctx, state); err != nil {
		return err
	}
	opts.Source, opts.DefaultNamespace = state.source, ns
	opts.SourceName = f.sourceName
	if opts.SourceName == "" {
		opts.SourceName = sourceName(state.identity)
	}
	rep, err := cluster.Diff(ctx, state.objects, opts)
	if err != nil {
		return err
	}
	auth, err := f.source.auth(ctx, f.kube.secretReader())
	if err != nil {
		return err
	}
	if auth == nil || (auth.Password == "" && auth.BearerToken == "" && len(auth.SSHPrivateKey) == 0) {
		auth = &gitsource.Auth{Username: "x-access-token", Password: token}
		if f.source.gitUsername != "" {
			auth.Username = f.source.gitUsername
		}
	}
	base := f.base
	if base == "" {
		base = f.source.ref
	}
	popts := reconciler.ProposeOptions{
		Repo: f.source.repo, Base: base, Path: state.dir, Auth: auth, InsecureHTTP: f.source.insecureHTTP, Forge: forge,
		Author: gitsource.Signature{Name: f.authorName, Email: f.authorEmail}, Policy: engine,
		BlockSeverity: f.checks.failOn, DefaultNamespace: ns, SourceName: opts.SourceName,
	}
	out := cmd.OutOrStdout()
	incs := incidentsOfReport(opts.SourceName, rep, f.types)
	if len(incs) == 0 {
		fmt.Fprintln(out, "No drift to propose.")
		return nil
	}
	failed := 0
	for _, inc := range incs {
		p, err := cluster.Propose(ctx, inc, popts, time.Now())
		if err != nil {
			failed++
			fmt.Fprintf(out, "%s %s: not proposed: %s\n", inc.Type, report.Printable(inc.Object.String()), report.Printable(err.Error()))
			continue
		}
		fmt.Fprintf(out, "%s %s: pull request %s (branch %s)\n", inc.Type, report.Printable(inc.Object.String()), p.URL, p.Branch)
	}
	if failed > 0 {
		return exitCodeError{code: exitError}
	}
	return nil
}

// incidentsOfReport groups a report's findings of the given types by fingerprint, in report
// order, as the controller's incidents.
func incidentsOfReport(source string, rep *report.Report, types []string) []*report.Incident {
	var out []*report.Incident
	by := map[string]*report.Incident{}
	for _, f := range rep.Findings {
		if !slices.Contains(types, string(f.Type)) {
			continue
		}
		fp := report.Fingerprint(source, f)
		if inc, ok := by[fp]; ok {
			inc.Findings = append(inc.Findings, f)
			continue
		}
		inc := &report.Incident{Fingerprint: fp, Source: source, Type: f.Type, Object: f.Object, Paths: report.FieldPaths(f),
			State: report.IncidentOpen, Findings: []report.Finding{f}}
		by[fp] = inc
		out = append(out, inc)
	}
	return out
}
