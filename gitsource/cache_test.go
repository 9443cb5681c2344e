package gitsource

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestFetchCacheReusesAndSealsTrees(t *testing.T) {
	h := newHistory(t)
	opts := DefaultFetchOptions()
	opts.URL, opts.Ref, opts.CacheDir = "file://"+h.repo.dir, "main", cacheDir(t)

	first, err := Fetch(context.Background(), opts)
	if err != nil {
		t.Fatalf("first Fetch: %v", err)
	}
	second, err := Fetch(context.Background(), opts)
	if err != nil {
		t.Fatalf("second Fetch: %v", err)
	}
	if first.FromCache || !second.FromCache || first.Dir != second.Dir {
		t.Errorf("FromCache %v then %v, Dir %q then %q: want false then true, same Dir",
			first.FromCache, second.FromCache, first.Dir, second.Dir)
	}
	if diff := cmp.Diff(map[string]os.FileMode{}, writableEntries(t, second.Dir), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("cached entries that are not 0444 files or 0555 dirs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(h.repo.files[h.c2], readTree(t, second.Dir)); diff != "" {
		t.Errorf("cached tree (-want +got):\n%s", diff)
	}

	// Another ref of the same remote gets its own entry; the first stays.
	opts.Ref = "feature"
	third, err := Fetch(context.Background(), opts)
	if err != nil {
		t.Fatalf("Fetch feature: %v", err)
	}
	if third.FromCache || third.Dir == first.Dir {
		t.Errorf("feature: FromCache %v, Dir %q: want a new entry", third.FromCache, third.Dir)
	}
	if diff := cmp.Diff(h.repo.files[h.c2], readTree(t, first.Dir)); diff != "" {
		t.Errorf("first tree after another fetch (-want +got):\n%s", diff)
	}
}

func TestFetchCacheIgnoresAndCleansCrashedCheckouts(t *testing.T) {
	h := newHistory(t)
	cache := cacheDir(t)
	opts := DefaultFetchOptions()
	opts.URL, opts.Ref, opts.CacheDir = "file://"+h.repo.dir, "main", cache

	// What processes that died mid-checkout of this very commit leave: a
	// staging directory with part of the tree, one old, one recent (perhaps
	// still being written by a live process).
	remoteDir := cacheDirFor(cache, opts.URL)
	partial := map[string]string{"tree/README.md": "half-writ"}
	stale := filepath.Join(remoteDir, stagingPrefix+"crashed")
	recent := filepath.Join(remoteDir, stagingPrefix+"in-progress")
	for _, dir := range []string{stale, recent} {
		for name, content := range partial {
			path := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	old := time.Now().Add(-2 * staleAfter)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}

	res, err := Fetch(context.Background(), opts)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if res.FromCache {
		t.Error("FromCache = true: a crashed checkout was reused")
	}
	if diff := cmp.Diff(h.repo.files[h.c2], readTree(t, res.Dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale staging directory: Stat = %v, want removed", err)
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("recent staging directory: Stat = %v, want kept", err)
	}
	// Only the published tree and the recent staging directory remain.
	entries, err := os.ReadDir(remoteDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{stagingPrefix + "in-progress", h.c2.String()}, names); diff != "" {
		t.Errorf("cache entries (-want +got):\n%s", diff)
	}
}

func TestCachedTreeResealsAWritableRoot(t *testing.T) {
	remoteDir := t.TempDir()
	commit := "0123456789012345678901234567890123456789"
	// A process that died between publishing and sealing the root.
	if err := os.Mkdir(filepath.Join(remoteDir, commit), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, ok, err := cachedTree(remoteDir, commit)
	if err != nil || !ok {
		t.Fatalf("cachedTree = %q, %v, %v; want the entry", dir, ok, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != readOnlyDir {
		t.Errorf("root mode %v, want %v", fi.Mode().Perm(), readOnlyDir)
	}
}

func TestFetchCacheConcurrentFetchesShareOneTree(t *testing.T) {
	h := newHistory(t)
	opts := DefaultFetchOptions()
	opts.URL, opts.Ref, opts.CacheDir = "file://"+h.repo.dir, "main", cacheDir(t)

	const n = 4
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := Fetch(context.Background(), opts)
			errs[i] = err
			if err == nil {
				dirs[i] = res.Dir
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Fetch %d: %v", i, errs[i])
		}
		if dirs[i] != dirs[0] {
			t.Errorf("Fetch %d: Dir %q, want %q", i, dirs[i], dirs[0])
		}
	}
	if diff := cmp.Diff(h.repo.files[h.c2], readTree(t, dirs[0])); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	if trees := publishedTrees(t, opts.CacheDir); len(trees) != 1 {
		t.Errorf("cache holds %v, want one tree", trees)
	}
}
