package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWithTimeout(t *testing.T) {
	tests := []struct {
		name         string
		timeout      time.Duration
		wantDeadline bool
		wantErr      bool
	}{
		{name: "zero means no limit", timeout: 0},
		{name: "a positive duration is a deadline", timeout: time.Minute, wantDeadline: true},
		{name: "the smallest positive duration is still a deadline", timeout: time.Nanosecond, wantDeadline: true},
		{name: "negative is an error", timeout: -time.Second, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			ctx, cancel, err := withTimeout(t.Context(), tt.timeout)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "--timeout") {
					t.Fatalf("error %v, want one that names --timeout", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer cancel()
			deadline, ok := ctx.Deadline()
			if ok != tt.wantDeadline {
				t.Fatalf("deadline set: %v, want %v", ok, tt.wantDeadline)
			}
			if ok && (deadline.Before(before.Add(tt.timeout)) || deadline.After(time.Now().Add(tt.timeout))) {
				t.Errorf("deadline %s is not %s from now", deadline, tt.timeout)
			}
			if !ok && ctx.Err() != nil {
				t.Errorf("no limit, yet the context ended: %v", ctx.Err())
			}
			cancel()
			if ctx.Err() == nil {
				t.Error("cancel did not end the context")
			}
		})
	}
	parent, stop := context.WithCancel(t.Context())
	ctx, cancel, err := withTimeout(parent, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	stop()
	if ctx.Err() == nil {
		t.Error("no limit: the run did not end with its parent (Ctrl-C)")
	}
}

// TestTimeoutZeroMeansNoLimit runs each command that takes --timeout with 0: each must do its
// work, as diff always did, not fail at once with "context deadline exceeded".
func TestTimeoutZeroMeansNoLimit(t *testing.T) {
	dir := webFolder(t, servedImage(t))
	t.Setenv("DOCKER_CONFIG", t.TempDir())

	steps := []struct {
		name string
		args []string
		want int
	}{
		{name: "images lock", args: []string{"images", "lock", "--path", dir, "--timeout", "0"}, want: exitOK},
		{name: "check", args: []string{"check", "--path", dir, "--timeout", "0", "--fail-on", "critical"}, want: exitOK},
		{name: "check rejects a negative timeout", args: []string{"check", "--path", dir, "--timeout", "-1s"}, want: exitError},
		{name: "images lock rejects a negative timeout", args: []string{"images", "lock", "--path", dir, "--timeout", "-1s"}, want: exitError},
	}
	for _, s := range steps {
		var stdout, stderr bytes.Buffer
		code := execute(t.Context(), s.args, &stdout, &stderr)
		if code != s.want {
			t.Errorf("plumbline %s: exit %d, want %d\n%s%s", strings.Join(s.args, " "), code, s.want, stdout.String(), stderr.String())
		}
		if strings.Contains(stderr.String(), "deadline exceeded") {
			t.Errorf("plumbline %s: %s", strings.Join(s.args, " "), stderr.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "plumbline.lock.yaml")); err != nil {
		t.Errorf("images lock --timeout 0 wrote no lock file: %v", err)
	}
}
