package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
)

func newDemoCommand(g *globalFlags) *cobra.Command {
	var keep bool
	var crdFile string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Tell Plumbline's stories end to end against the cluster of your kubeconfig",
		Long: `demo starts a local registry and a local Git repository, applies an nginx Deployment to a new
namespace of the cluster in your kubeconfig, and tells the stories: an out-of-band kubectl edit
(who changed what, and the policy it breaks), an image rebuilt under the same tag, pods running a
digest nobody approved, objects added and removed behind Git's back, and a pull request that
'plumbline check' fails. 'make demo' runs it on a local control plane that it starts and stops.

Whatever the outcome (success, a story that fails, Ctrl-C or SIGTERM), the demo deletes its
namespace, and everything in it, before it exits, and waits up to a minute for it to be gone.
Its namespace carries the label plumbline.dev/demo=true, should a killed run leave one behind.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			d, err := newDemo(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), g)
			if err != nil {
				return err
			}
			d.crdFile = crdFile
			err = d.run(ctx)
			if ctx.Err() != nil {
				err = fmt.Errorf("demo interrupted: %w", context.Cause(ctx))
			}
			return errors.Join(err, d.close(ctx, keep))
		},
	}
	cmd.Flags().StringVar(&crdFile, "crd", "", "the Source CRD, installed for the controller's story when the cluster does not serve it, and removed after (default: deploy/crd/plumbline.dev_sources.yaml in this folder or one above it)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the Git repository on disk and print where it is (the namespace is deleted all the same)")
	return cmd
}

// demo is one run of the stories.
type demo struct {
	out, errOut io.Writer
	g           *globalFlags
	dir         string // work folder: the Git repository and the PR copy
	repo        string
	registry    *demoRegistry
	namespace   string
	kube        *kubernetes.Clientset // for what the demo does behind the scenes (pod status)
	failures    []string
	// crdFile is the Source CRD; installedCRD says the demo installed it, so removes it.
	crdFile      string
	installedCRD bool
}

// section prints a story's title.
func (d *demo) section(title string) {
	fmt.Fprintf(d.out, "\n=== %s ===\n\n", title)
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, format+"\n", args...)
}

// plumbline runs a plumbline command in this process, shows it and its output, and records a
// failure when its exit status is not the one the story expects.
func (d *demo) plumbline(ctx context.Context, wantExit int, args ...string) string {
	fmt.Fprintf(d.out, "$ plumbline %s\n", strings.Join(args, " "))
	var out bytes.Buffer
	code := execute(ctx, args, io.MultiWriter(d.out, &out), d.errOut)
	fmt.Fprintf(d.out, "(exit status %d)\n", code)
	if code != wantExit {
		d.failures = append(d.failures, fmt.Sprintf("plumbline %s: exit status %d, want %d", strings.Join(args, " "), code, wantExit))
	}
	return out.String()
}

// expect records a failure when the output of a step lacks what the story must show.
func (d *demo) expect(output, want string) {
	if !strings.Contains(output, want) {
		d.failures = append(d.failures, fmt.Sprintf("the report does not say %q", want))
	}
}

// kubectl runs the real kubectl, as a person would; the demo needs it on PATH.
func (d *demo) kubectl(ctx context.Context, args ...string) error {
	fmt.Fprintf(d.out, "$ kubectl %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Stdout, cmd.Stderr = d.out, d.errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func (d *demo) path(rel string) string { return filepath.Join(d.repo, filepath.FromSlash(rel)) }
