package inventory

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const (
	cacheSubdir = "inventory"
	workSubdir  = "work"
	// cacheVersion changes when the stored form or the extractor set does, so
	// that old entries are scanned again instead of read wrongly.
	cacheVersion = 1
)

type cacheEntry struct {
	Version   int        `json:"version"`
	Inventory *Inventory `json:"inventory"`
}

func (s *Scanner) cachePath(digest string) (string, bool) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return "", false
	}
	return filepath.Join(s.dir, cacheSubdir, h.Algorithm+"-"+h.Hex+".json"), true
}

// Cached returns the stored inventory of digest, if a scan stored one. A
// missing, unreadable or outdated entry is a miss (the caller scans again).
func (s *Scanner) Cached(digest string) (*Inventory, bool) {
	p, ok := s.cachePath(digest)
	if !ok {
		return nil, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil || e.Version != cacheVersion || e.Inventory == nil || e.Inventory.Digest != digest {
		return nil, false
	}
	return e.Inventory, true
}

// store writes inv's entry atomically (a temporary file renamed in place).
func (s *Scanner) store(inv *Inventory) error {
	p, ok := s.cachePath(inv.Digest)
	if !ok {
		return fmt.Errorf("cache: bad digest %q", inv.Digest)
	}
	b, err := json.Marshal(cacheEntry{Version: cacheVersion, Inventory: inv})
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+strings.TrimSuffix(filepath.Base(p), ".json")+"-*")
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}
