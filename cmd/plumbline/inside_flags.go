package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/images/inventory"
	"github.com/plumbline/plumbline/images/vulns"
)

// insideFlags turn on looking inside images: their packages, config and vulnerabilities.
type insideFlags struct {
	vulnDB     string
	maxAge     time.Duration
	scanImages bool
	scanCache  string
}

func (f *insideFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.vulnDB, "vuln-db", "", "OSV database folder (osv.dev's per-ecosystem export DIR/<Ecosystem>/all.zip, or OSV JSON files): look inside every image and match its packages offline; turns on --scan-images")
	fs.DurationVar(&f.maxAge, "vuln-db-max-age", vulns.DefaultMaxAge, "warn when the newest file of --vuln-db is older than this (0: the default, negative: never)")
	fs.BoolVar(&f.scanImages, "scan-images", false, "look inside images (packages, config) even without --vuln-db; vulnerabilities are then not checked, and a warning says so")
	fs.StringVar(&f.scanCache, "scan-cache-dir", "", "where image inventories are cached by digest and layers unpacked while scanning (default: the user cache folder's plumbline/images)")
}

// enabled reports whether images are looked inside.
func (f *insideFlags) enabled() bool { return f.scanImages || f.vulnDB != "" }

// inspector builds the Inspector of these flags over resolver; nil when they do not ask for
// one. wait is how long a caller waits for a scan that is not cached (0: until it ends).
func (f *insideFlags) inspector(resolver *images.Resolver, wait time.Duration) (*images.Inspector, error) {
	if !f.enabled() {
		return nil, nil
	}
	if resolver == nil {
		return nil, errors.New("--vuln-db and --scan-images need the registry: drop --offline")
	}
	dir := f.scanCache
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("--scan-cache-dir not given and no user cache folder: %w", err)
		}
		dir = filepath.Join(base, "plumbline", "images")
	}
	scanner, err := inventory.NewScanner(dir)
	if err != nil {
		return nil, fmt.Errorf("--scan-cache-dir %s: %w", dir, err)
	}
	var db *vulns.DB
	warn := ""
	if f.vulnDB == "" {
		warn = vulns.Missing("")
	} else {
		db, err = vulns.Load(f.vulnDB, vulns.Options{MaxAge: f.maxAge})
		if err != nil {
			return nil, fmt.Errorf("--vuln-db: %w", err)
		}
	}
	return images.NewInspector(resolver, scanner, db, warn, wait), nil
}
