package main

import (
	"context"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/reconciler"
)

func newImagesCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Manage the approved image digests of a source",
	}
	cmd.AddCommand(newImagesLockCommand(g))
	cmd.AddCommand(newImagesScanCommand(g))
	return cmd
}

type lockFlags struct {
	path    string
	timeout time.Duration
}

func newImagesLockCommand(g *globalFlags) *cobra.Command {
	f := &lockFlags{}
	cmd := &cobra.Command{
		Use:   "lock --path DIR",
		Short: "Resolve every image tag and write the lock file of approved digests",
		Long: `lock renders the folder, resolves every image tag its workloads use to the digest the registry
serves now (multi-arch tags: the index digest, with its platform digests), and writes
DIR/plumbline.lock.yaml. Entries whose digest did not change keep their approval time; entries for
images no longer used are removed. Commit the file through a pull request: merging it is the
approval. Nothing is written when any image cannot be resolved.

Registry credentials come from the Docker config file (~/.docker/config.json, DOCKER_CONFIG).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&f.path, "path", ".", "folder of manifests on the local disk; the lock file is written into it")
	registerTimeout(cmd.Flags(), &f.timeout)
	return cmd
}

func (f *lockFlags) run(ctx context.Context, out io.Writer) error {
	ctx, cancel, err := withTimeout(ctx, f.timeout)
	if err != nil {
		return err
	}
	defer cancel()
	src := sourceFlags{path: f.path}
	state, err := src.loadLocal(ctx)
	if err != nil {
		return err
	}
	old, err := reconciler.ReadLock(ctx, state.root, state.dir)
	if err != nil {
		return err
	}
	resolver, err := images.NewResolver(images.WithUserAgent("plumbline/" + version))
	if err != nil {
		return err
	}
	res, err := reconciler.LockImages(ctx, state.objects, old,
		reconciler.ImageOptions{Resolver: resolver, Keychain: images.DockerKeychain()}, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("nothing written: %w", err)
	}
	data, err := images.MarshalLock(res.Lock)
	if err != nil {
		return err
	}
	// Through a temporary file and a rename inside the folder, never through a symlink.
	if err := manifests.WriteConfigFile(ctx, state.root, path.Join(state.dir, images.LockFileName), data, 0o644); err != nil {
		return err
	}
	file := filepath.Join(f.path, images.LockFileName)
	fmt.Fprintf(out, "Wrote %s: %s approved.\n", file, plural(len(res.Lock.Entries), "image"))
	for _, c := range res.Changes {
		switch {
		case c.Old == "":
			fmt.Fprintf(out, "  added     %s  %s\n", c.Ref, c.New)
		case c.New == "":
			fmt.Fprintf(out, "  removed   %s  (no longer used; was %s)\n", c.Ref, c.Old)
		case c.Old != c.New:
			fmt.Fprintf(out, "  changed   %s  %s (was %s)\n", c.Ref, c.New, c.Old)
		default:
			fmt.Fprintf(out, "  unchanged %s  %s\n", c.Ref, c.New)
		}
	}
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
