package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/plumbline/plumbline/report"
)

// Exit codes, as kubectl diff has them.
const (
	exitOK      = 0 // no drift
	exitFinding = 1 // drift, or a violation at or above --fail-on
	exitError   = 2 // the run could not be made, or some object or image could not be decided
)

// exitCodeError carries an exit code out of a command without printing anything more.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// execute runs the command line and returns the process exit code.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ec exitCodeError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ec):
		return ec.code
	default:
		fmt.Fprintln(stderr, "Error:", report.Printable(err.Error())) // names and messages from Git are untrusted
		return exitError
	}
}

// globalFlags are shared by every command.
type globalFlags struct {
	verbose bool
	log     *slog.Logger
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "plumbline",
		Short: "Report and correct drift between Git, the cluster and image registries",
		Long: `Plumbline compares a desired-state Git repository with a live Kubernetes cluster and with the
digests that registries serve for each image tag, checks policy, and reports what drifted, who
changed it and when.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			level := slog.LevelWarn
			if g.verbose {
				level = slog.LevelDebug
			}
			g.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			// client-go and kustomize log through klog: send it through the one logger.
			klog.SetSlogLogger(g.log)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail to stderr")
	root.AddCommand(
		newRunCommand(g),
		newDiffCommand(g),
		newCheckCommand(g),
		newImagesCommand(g),
		newProposeCommand(g),
		newAdmissionCommand(g),
		newDemoCommand(g),
		newVersionCommand(),
	)
	return root
}
