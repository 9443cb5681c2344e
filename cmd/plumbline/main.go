// Command plumbline keeps a Kubernetes cluster plumb with Git: it reports drift between a
// desired-state repository and the live cluster, and between image tags and approved digests.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
