package vulns

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	osvpb "github.com/ossf/osv-schema/bindings/go/osvschema"
	"google.golang.org/protobuf/encoding/protojson"
)

// DefaultMaxAge is how old a database may be before it is called stale.
const DefaultMaxAge = 7 * 24 * time.Hour

// maxRecordBytes bounds one OSV record; real ones are a few KiB.
const maxRecordBytes = 8 << 20

// Options tune Load.
type Options struct {
	// MaxAge: a database whose newest file is older is stale (a warning).
	// Default DefaultMaxAge; negative turns the check off.
	MaxAge time.Duration
	// Now is the clock for MaxAge. Default time.Now.
	Now func() time.Time
	// Names, when not empty, keeps only the records that affect a package of
	// one of these names (binary or source name), to save memory.
	Names []string
}

// DB is a loaded OSV database, indexed by affected package name. It is
// read-only after Load, but matching sorts range events in place (as
// osv-scalibr does), so Match is not safe for concurrent use on one DB.
type DB struct {
	// Dir is the folder it was loaded from.
	Dir string
	// Records is the number of records kept.
	Records int
	// Updated is the modification time of the newest file read.
	Updated time.Time
	// Warnings say why its answer may be incomplete (stale, empty).
	Warnings []string

	byName map[string][]*osvpb.Vulnerability
}

// ErrMalformed marks a record that is not valid OSV JSON.
var ErrMalformed = errors.New("malformed OSV record")

// Missing returns the warning to show when no database was given or dir does
// not exist: vulnerabilities were not checked, which is not "none found".
func Missing(dir string) string {
	if dir == "" {
		return "vulnerabilities not checked: no OSV database given (--vuln-db DIR)"
	}
	return fmt.Sprintf("vulnerabilities not checked: OSV database %s not found", dir)
}

// Load reads every *.json record and every *.zip of records under dir. A
// file that cannot be read or parsed is an error naming it (and the zip
// entry).
func Load(dir string, opts Options) (*DB, error) {
	if opts.MaxAge == 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("OSV database %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("OSV database %s: not a folder", dir)
	}
	db := &DB{Dir: dir, byName: map[string][]*osvpb.Vulnerability{}}
	var keep map[string]bool
	if len(opts.Names) > 0 {
		keep = map[string]bool{}
		for _, n := range opts.Names {
			keep[n] = true
			keep[normalName(n)] = true
		}
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		ext := strings.ToLower(filepath.Ext(p))
		if ext != ".json" && ext != ".zip" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.ModTime().After(db.Updated) {
			db.Updated = info.ModTime()
		}
		if ext == ".zip" {
			return db.loadZip(p, keep)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return db.add(p, f, keep)
	})
	if err != nil {
		return nil, fmt.Errorf("OSV database %s: %w", dir, err)
	}
	if db.Records == 0 && len(opts.Names) == 0 {
		db.Warnings = append(db.Warnings, fmt.Sprintf("OSV database %s holds no records: vulnerabilities not checked", dir))
	}
	if opts.MaxAge > 0 && !db.Updated.IsZero() {
		if age := opts.Now().Sub(db.Updated); age > opts.MaxAge {
			db.Warnings = append(db.Warnings, fmt.Sprintf("OSV database %s is stale: last updated %s (%s ago, more than %s): newer vulnerabilities are missing",
				dir, db.Updated.UTC().Format(time.RFC3339), age.Round(time.Hour), opts.MaxAge))
		}
	}
	return db, nil
}

func (db *DB) loadZip(p string, keep map[string]bool) error {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer zr.Close()
	for _, zf := range zr.File {
		if !strings.HasSuffix(zf.Name, ".json") {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", p, zf.Name, err)
		}
		err = db.add(p+": "+zf.Name, rc, keep)
		_ = rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

var unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

func (db *DB) add(where string, r io.Reader, keep map[string]bool) error {
	b, err := io.ReadAll(io.LimitReader(r, maxRecordBytes+1))
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if len(b) > maxRecordBytes {
		return fmt.Errorf("%s: record larger than %d bytes: %w", where, maxRecordBytes, ErrMalformed)
	}
	v := &osvpb.Vulnerability{}
	if err := unmarshal.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w: %v", where, ErrMalformed, err)
	}
	if v.GetId() == "" {
		return fmt.Errorf("%s: %w: no id", where, ErrMalformed)
	}
	if v.GetWithdrawn() != nil {
		return nil
	}
	names := map[string]bool{}
	for _, a := range v.GetAffected() {
		if n := a.GetPackage().GetName(); n != "" {
			names[n] = true
			names[normalName(n)] = true
		}
	}
	kept := false
	for n := range names {
		if keep != nil && !keep[n] {
			continue
		}
		db.byName[n] = append(db.byName[n], v)
		kept = true
	}
	if kept {
		db.Records++
	}
	return nil
}

// normalName folds the spellings one package may have across ecosystems'
// records (PyPI's case and separators), for the index only; matching itself
// compares names as osv-scalibr does.
func normalName(n string) string {
	return strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(n))
}
