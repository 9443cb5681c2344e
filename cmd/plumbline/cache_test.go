package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDigestCacheIsOptIn: without --cache-dir a run keeps nothing in the user's cache folder
// (the next run asks the registry again); with it, the resolved digests are kept there.
func TestDigestCacheIsOptIn(t *testing.T) {
	dir := webFolder(t, servedImage(t))
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	cache := filepath.Join(t.TempDir(), "digests")

	tests := []struct {
		name     string
		args     []string
		want     int
		wantErr  string
		wantFile string
	}{
		{name: "lock", args: []string{"images", "lock", "--path", dir}, want: exitOK},
		{name: "no cache by default", args: []string{"check", "--path", dir, "--fail-on", "critical"}, want: exitOK},
		{name: "opt in", args: []string{"check", "--path", dir, "--fail-on", "critical", "--cache-dir", cache}, want: exitOK, wantFile: filepath.Join(cache, "image-digests.json")},
		{name: "negative TTL", args: []string{"check", "--path", dir, "--cache-dir", cache, "--cache-ttl", "-1m"}, want: exitError, wantErr: "--cache-ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := execute(t.Context(), tt.args, &stdout, &stderr); code != tt.want {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.want, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q, want it to say %q", stderr.String(), tt.wantErr)
			}
			if tt.wantFile != "" {
				if _, err := os.Stat(tt.wantFile); err != nil {
					t.Errorf("--cache-dir kept nothing: %v", err)
				}
			}
			if kept, _ := filepath.Glob(filepath.Join(home, ".cache", "*")); len(kept) > 0 {
				t.Errorf("a run kept %v in the user's cache folder", kept)
			}
		})
	}
}
