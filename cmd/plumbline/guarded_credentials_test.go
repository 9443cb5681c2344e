package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCredentialFileGuards: a credential file named on the command line is read through the
// guarded reader too: a FIFO or /dev/zero is refused at once, naming the file.
func TestCredentialFileGuards(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "token")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{fifo, "/dev/zero"} {
		t.Run(file, func(t *testing.T) {
			start := time.Now()
			r := runGuardedChild(t, "check", "--repo", "https://git.example/acme/app.git", "--path", ".", "--offline", "--git-bearer-token-file", file)
			r.wantRefused(t, file, "")
			if !strings.Contains(r.stderr, "read credentials") || time.Since(start) > 10*time.Second {
				t.Errorf("want the credential file refused at once, got after %s:\n%s", time.Since(start), r.stderr)
			}
		})
	}
}
