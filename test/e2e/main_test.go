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
	"time"

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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// The binary the Dockerfile ships: static, without cgo.
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", plumbline, "github.com/plumbline/plumbline/cmd/plumbline")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
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

// commandTimeout bounds one command of a test. They take seconds (the demo, which tells every
// story, the most); the limit turns a hang into a failure that names the command.
const commandTimeout = 3 * time.Minute

// runCmd runs a command with KUBECONFIG set to the test control plane. The command is killed when
// the test ends or after commandTimeout, whichever comes first, and a killed command fails the
// test with what it printed so far.
func runCmd(t *testing.T, extraEnv []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	environ := append(append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "HOME="+t.TempDir()), extraEnv...)
	r, err := execute(ctx, environ, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, r.stdout, r.stderr)
	}
	return r
}

// execute runs name with args in environ until it exits or ctx ends. An exit status other than 0
// is a result; a command that could not start or was killed is an error.
func execute(ctx context.Context, environ []string, name string, args ...string) (result, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = environ
	// A child that keeps the output pipes open (kubectl's editor, say) does not hold Wait.
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ctx.Err() != nil {
		return r, fmt.Errorf("killed: %w", context.Cause(ctx))
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		return r, err
	}
	return r, nil
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
	ns, err := env.NewNamespace(t.Context(), prefix)
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

// TestCommandsEndAtTheirDeadline: a command that hangs, with a child that holds its output open,
// is killed at its deadline instead of holding the suite until go test's own timeout.
func TestCommandsEndAtTheirDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := execute(ctx, os.Environ(), "sh", "-c", "echo started; sleep 60 & sleep 60")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the command ran %s past a 500ms deadline", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the deadline", err)
	}
	if r.stdout != "started\n" {
		t.Errorf("output so far = %q, want what the command printed before it was killed", r.stdout)
	}
}
