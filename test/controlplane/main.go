// Command controlplane starts a real local control plane (etcd and kube-apiserver, built by
// `make control-plane`), runs one command with KUBECONFIG pointing at it, and stops everything
// it started, whatever the command's outcome. The command's exit code is its own.
//
//	go run ./test/controlplane -- bin/plumbline demo
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/plumbline/plumbline/test/cluster"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: controlplane -- COMMAND [ARG...]")
		return 2
	}
	fmt.Fprintln(os.Stderr, "controlplane: starting etcd and kube-apiserver")
	// The API server posts its audit events to a receiver that the command may serve: the
	// PLUMBLINE_EVENTS_* variables say where and with which certificate and token.
	dir, err := os.MkdirTemp("", "plumbline-controlplane-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	audit, err := cluster.NewAuditWebhook(dir, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "controlplane: audit webhook:", err)
		return 2
	}
	c, err := cluster.StartWith(cluster.Options{APIServerFlags: audit.Flags()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		return 2
	}
	defer func() {
		fmt.Fprintln(os.Stderr, "controlplane: stopping")
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "controlplane: stop:", err)
		}
	}()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig,
		"PLUMBLINE_EVENTS_ADDR="+audit.Addr, "PLUMBLINE_EVENTS_CERT="+audit.CertFile,
		"PLUMBLINE_EVENTS_KEY="+audit.KeyFile, "PLUMBLINE_EVENTS_TOKEN_FILE="+audit.TokenFile)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		return 2
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		for s := range signals {
			_ = cmd.Process.Signal(s) // forwarded; the child decides how to stop
		}
	}()
	err = cmd.Wait()
	signal.Stop(signals)
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		return 2
	}
	return 0
}
