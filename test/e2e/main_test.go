// Package e2e runs the built plumbline binary against a real control plane, real Git
// repositories and real kubectl, and asserts on what a user sees: output and exit codes.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbline/plumbline/test/cluster"
)

var (
	env       *cluster.Cluster
	plumbline string // the built binary
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	bin, err := os.MkdirTemp("", "plumbline-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	plumbline = filepath.Join(bin, "plumbline")
	build := exec.Command("go", "build", "-o", plumbline, "github.com/plumbline/plumbline/cmd/plumbline")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build plumbline:", err)
		return 1
	}
	return cluster.RunTests(m, &env)
}

// result is what a user sees of one command.
type result struct {
	stdout, stderr string
	code           int
}

// runCmd runs a command with KUBECONFIG set to the test control plane.
func runCmd(t *testing.T, extraEnv []string, name string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), name, args...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "HOME="+t.TempDir()), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// kubectl runs the real kubectl and fails the test when it fails.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	return kubectlEnv(t, nil, args...)
}

func kubectlEnv(t *testing.T, extraEnv []string, args ...string) string {
	t.Helper()
	r := runCmd(t, extraEnv, "kubectl", args...)
	if r.code != 0 {
		t.Fatalf("kubectl %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// diff runs `plumbline diff` with args.
func diff(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(t, nil, plumbline, append([]string{"diff"}, args...)...)
}

// newNamespace returns a fresh namespace for one test.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns, err := env.NewNamespace(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// fixture reads testdata/<name> into path → content, for a Git repository.
func fixture(t *testing.T, name string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	root := filepath.Join("testdata", name)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		tree[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}
