package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every file of Plumbline's own kinds goes through one guarded door. Each case runs the real
// command in a child process (this test binary, re-executed) under a 2 GiB address-space limit
// and GOMEMLIMIT, against real files on disk, and asserts what a user sees: the exit code, a
// message naming the file, how long it took, and the child's peak memory.

const guardedChildArgsEnv = "PLUMBLINE_GUARDED_CHILD_ARGS"

// TestGuardedFilesChild is the child: it runs the command line given in the environment.
func TestGuardedFilesChild(t *testing.T) {
	raw := os.Getenv(guardedChildArgsEnv)
	if raw == "" {
		return // run as the parent's helper only
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	os.Exit(execute(context.Background(), args, os.Stdout, os.Stderr))
}

type guardedResult struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
	peakRSS        int64 // bytes
}

// runGuardedChild runs plumbline with args in a child process with bounded memory.
func runGuardedChild(t *testing.T, args ...string) guardedResult {
	t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "prlimit", "--as=2147483648", "--", os.Args[0], "-test.run=^TestGuardedFilesChild$")
	cmd.Env = append(os.Environ(), guardedChildArgsEnv+"="+string(raw), "GOMEMLIMIT=256MiB", "HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	res := guardedResult{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("plumbline %s: %v", strings.Join(args, " "), err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.peakRSS = ru.Maxrss * 1024
	}
	return res
}

// wantRefused asserts a quick, small exit 2 whose message names file and leaks none of secret.
func (r guardedResult) wantRefused(t *testing.T, file, secret string) {
	t.Helper()
	if r.code != exitError {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, exitError, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, file) {
		t.Errorf("the message does not name %s:\n%s", file, r.stderr)
	}
	if secret != "" && (strings.Contains(r.stderr, secret) || strings.Contains(r.stdout, secret)) {
		t.Errorf("the output quotes the file outside the root:\n%s%s", r.stdout, r.stderr)
	}
	if r.elapsed > 10*time.Second {
		t.Errorf("took %s, want an answer at once", r.elapsed)
	}
	if r.peakRSS > 200<<20 {
		t.Errorf("peak memory %d MiB, want under 200 MiB", r.peakRSS>>20)
	}
	t.Logf("exit %d in %s, peak RSS %d MiB: %s", r.code, r.elapsed.Round(time.Millisecond), r.peakRSS>>20, strings.TrimSpace(r.stderr))
}

const guardedConfigMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: default\ndata:\n  a: b\n"

// guardedAppDir is a local folder with one ConfigMap.
func guardedAppDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeGuardedFile(t, filepath.Join(dir, "cm.yaml"), guardedConfigMap)
	return dir
}

// guardedKustomizedDir is a local folder with one ConfigMap and a kustomization naming it: the render
// reads only what the kustomization names, so the lock file is read by the lock reader alone.
func guardedKustomizedDir(t *testing.T) string {
	t.Helper()
	dir := guardedAppDir(t)
	writeGuardedFile(t, filepath.Join(dir, "kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n")
	return dir
}

func writeGuardedFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLockFileGuards(t *testing.T) {
	const secret = "ghp_OUTSIDE_THE_ROOT_TOKEN"
	tests := []struct {
		name  string
		setup func(t *testing.T, lock string)
	}{
		{"symlink to /dev/zero", func(t *testing.T, lock string) {
			if err := os.Symlink("/dev/zero", lock); err != nil {
				t.Fatal(err)
			}
		}},
		{"symlink to a file outside the root", func(t *testing.T, lock string) {
			outside := filepath.Join(t.TempDir(), "credentials")
			writeGuardedFile(t, outside, "apiVersion: plumbline.dev/v1alpha1\nkind: "+secret+"\n")
			if err := os.Symlink(outside, lock); err != nil {
				t.Fatal(err)
			}
		}},
		{"3 GiB sparse file", func(t *testing.T, lock string) {
			writeGuardedFile(t, lock, "apiVersion: plumbline.dev/v1alpha1\n")
			if err := os.Truncate(lock, 3<<30); err != nil {
				t.Fatal(err)
			}
		}},
		{"FIFO", func(t *testing.T, lock string) {
			if err := syscall.Mkfifo(lock, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"hard link", func(t *testing.T, lock string) {
			outside := filepath.Join(t.TempDir(), "other.yaml")
			writeGuardedFile(t, outside, "apiVersion: plumbline.dev/v1alpha1\nkind: "+secret+"\n")
			if err := os.Link(outside, lock); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := guardedKustomizedDir(t)
			tt.setup(t, filepath.Join(dir, "plumbline.lock.yaml"))
			runGuardedChild(t, "check", "--path", dir, "--offline").wantRefused(t, "plumbline.lock.yaml", secret)
		})
	}
}

func TestCommandLineFileGuards(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "rules.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("--policy /dev/zero", func(t *testing.T) {
		runGuardedChild(t, "check", "--path", guardedAppDir(t), "--offline", "--policy", "/dev/zero").wantRefused(t, "/dev/zero", "")
	})
	t.Run("--policy FIFO", func(t *testing.T) {
		runGuardedChild(t, "check", "--path", guardedAppDir(t), "--offline", "--policy", fifo).wantRefused(t, fifo, "")
	})
	t.Run("--ignore-file /dev/zero", func(t *testing.T) {
		// Refused before diff reaches for a cluster.
		runGuardedChild(t, "diff", "--path", guardedAppDir(t), "--skip-images", "--ignore-file", "/dev/zero", "--kubeconfig", "/nonexistent").
			wantRefused(t, "/dev/zero", "")
	})
}

// TestImagesLockDanglingSymlink: `images lock` never writes through a symlink; a dangling one
// must not create a file outside the root.
func TestImagesLockDanglingSymlink(t *testing.T) {
	dir := guardedKustomizedDir(t)
	outside := filepath.Join(t.TempDir(), "created-by-plumbline.yaml")
	if err := os.Symlink(outside, filepath.Join(dir, "plumbline.lock.yaml")); err != nil {
		t.Fatal(err)
	}
	r := runGuardedChild(t, "images", "lock", "--path", dir)
	r.wantRefused(t, "plumbline.lock.yaml", "")
	if !strings.Contains(r.stderr, "is a symlink; refusing to write through it") {
		t.Errorf("want the write refused, got:\n%s", r.stderr)
	}
	if _, err := os.Lstat(outside); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file was created outside the root: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".plumbline.lock.yaml.tmp-*")); len(left) > 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

// TestImagesLockWritesAtomically: the lock file is replaced whole, with the file mode asked for.
func TestImagesLockWritesAtomically(t *testing.T) {
	dir := guardedAppDir(t)
	r := runGuardedChild(t, "images", "lock", "--path", dir)
	if r.code != exitOK {
		t.Fatalf("images lock: exit %d\n%s", r.code, r.stderr)
	}
	info, err := os.Lstat(filepath.Join(dir, "plumbline.lock.yaml"))
	if err != nil || !info.Mode().IsRegular() || info.Mode().Perm() != 0o644 {
		t.Fatalf("lock file: %v, %v", info, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".plumbline.lock.yaml.tmp-*")); len(left) > 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

// TestRenderNeverReadsVCSFolders: a kustomization that names .git/config fails, naming it, and
// prints none of it; a plain folder's .git is skipped.
func TestRenderNeverReadsVCSFolders(t *testing.T) {
	const token = "https://x-access-token:ghs_CHECKOUT_TOKEN@github.com/acme/app"
	t.Run("kustomization", func(t *testing.T) {
		dir := t.TempDir()
		writeGuardedFile(t, filepath.Join(dir, ".git", "config"), "[remote \"origin\"]\n\turl = "+token+"\n")
		writeGuardedFile(t, filepath.Join(dir, "kustomization.yaml"),
			"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nconfigMapGenerator:\n- name: leak\n  files: [.git/config]\n")
		runGuardedChild(t, "check", "--path", dir, "--offline").wantRefused(t, ".git/config", "ghs_CHECKOUT_TOKEN")
	})
	t.Run("kustomization resource", func(t *testing.T) {
		dir := t.TempDir()
		writeGuardedFile(t, filepath.Join(dir, ".git", "leak.yaml"), guardedConfigMap)
		writeGuardedFile(t, filepath.Join(dir, "kustomization.yaml"),
			"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [.git/leak.yaml]\n")
		runGuardedChild(t, "check", "--path", dir, "--offline").wantRefused(t, ".git/leak.yaml", "")
	})
	t.Run("plain folder", func(t *testing.T) {
		dir := guardedAppDir(t)
		writeGuardedFile(t, filepath.Join(dir, ".git", "hidden.yaml"), strings.Replace(guardedConfigMap, "name: web", "name: from-git-folder", 1))
		r := runGuardedChild(t, "check", "--path", dir, "--offline", "-o", "json")
		if r.code != exitOK || strings.Contains(r.stdout, "from-git-folder") {
			t.Fatalf("exit %d, want 0 without the object under .git\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}

// TestHardLinkedManifestRefused: a manifest with a second name (here outside the root) is
// refused in local mode.
func TestHardLinkedManifestRefused(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "shadow.yaml")
	writeGuardedFile(t, outside, guardedConfigMap)
	if err := os.Link(outside, filepath.Join(dir, "cm.yaml")); err != nil {
		t.Fatal(err)
	}
	runGuardedChild(t, "check", "--path", dir, "--offline").wantRefused(t, "cm.yaml", "")
}
