package inventory

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gomod"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagelockjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/requirements"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"
	scalibrfs "github.com/google/osv-scalibr/fs"
	"github.com/google/osv-scalibr/plugin"
	"github.com/google/osv-scalibr/stats"
)

// Limits bound what one scan reads and writes.
type Limits struct {
	// MaxLayerBytes refuses a layer whose declared (compressed) size is larger,
	// before any of it is read. Default 4 GiB.
	MaxLayerBytes int64
	// MaxFileBytes refuses an extracted file larger than this. Default 512 MiB.
	MaxFileBytes int64
	// MaxExtractedBytes caps the files one scan writes to disk together. Default 2 GiB.
	MaxExtractedBytes int64
	// MaxLayers refuses an image with more layers. Default 512.
	MaxLayers int
}

// DefaultLimits returns the limits a Scanner uses unless WithLimits is given.
func DefaultLimits() Limits {
	return Limits{MaxLayerBytes: 4 << 30, MaxFileBytes: 512 << 20, MaxExtractedBytes: 2 << 30, MaxLayers: 512}
}

// Scanner takes the inventory of images and caches it by digest under its
// folder. It is safe for concurrent use; build it with NewScanner.
type Scanner struct {
	dir        string
	limits     Limits
	extractors []filesystem.Extractor
}

// Option configures a Scanner.
type Option func(*Scanner)

// WithLimits replaces DefaultLimits; every field must be positive.
func WithLimits(l Limits) Option { return func(s *Scanner) { s.limits = l } }

// NewScanner returns a Scanner that keeps its cache and its temporary folders
// under dir (created if missing) and runs osv-scalibr's dpkg, apk, rpm, Go
// binary, go.mod, package-lock.json, requirements.txt and Python wheel/egg
// extractors.
func NewScanner(dir string, opts ...Option) (*Scanner, error) {
	s := &Scanner{dir: dir, limits: DefaultLimits()}
	for _, o := range opts {
		o(s)
	}
	if dir == "" {
		return nil, errors.New("inventory: cache folder must be set")
	}
	if l := s.limits; l.MaxLayerBytes <= 0 || l.MaxFileBytes <= 0 || l.MaxExtractedBytes <= 0 || l.MaxLayers <= 0 {
		return nil, fmt.Errorf("inventory: limits must be positive, got %+v", l)
	}
	for _, sub := range []string{cacheSubdir, workSubdir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("inventory: cache folder: %w", err)
		}
	}
	cfg := &cpb.PluginConfig{}
	for _, newEx := range []func(*cpb.PluginConfig) (filesystem.Extractor, error){
		dpkg.New, apk.New, rpm.New, gobinary.New, gomod.New, packagelockjson.New, requirements.New, wheelegg.New,
	} {
		ex, err := newEx(cfg)
		if err != nil {
			return nil, fmt.Errorf("inventory: extractor: %w", err)
		}
		s.extractors = append(s.extractors, ex)
	}
	return s, nil
}

// ScanError is a scan failure about one image, and one layer of it when
// Layer is not negative.
type ScanError struct {
	Image string
	// Layer is the index of the layer (0 is the base), -1 when the error is about the image.
	Layer       int
	LayerDigest string
	Err         error
}

func (e *ScanError) Error() string {
	if e.Layer < 0 {
		return fmt.Sprintf("%s: inventory: %v", e.Image, e.Err)
	}
	return fmt.Sprintf("%s: inventory: layer %d (%s): %v", e.Image, e.Layer, e.LayerDigest, e.Err)
}

func (e *ScanError) Unwrap() error { return e.Err }

// Scan returns the inventory of img, which name designates in messages. A
// digest already in the cache is returned without reading img at all.
func (s *Scanner) Scan(ctx context.Context, name string, img v1.Image) (*Inventory, error) {
	imgErr := func(err error) error { return &ScanError{Image: name, Layer: -1, Err: err} }
	d, err := img.Digest()
	if err != nil {
		return nil, imgErr(fmt.Errorf("digest: %w", err))
	}
	if inv, ok := s.Cached(d.String()); ok {
		inv.Image = name
		return inv, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, imgErr(fmt.Errorf("config: %w", err))
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, imgErr(fmt.Errorf("layers: %w", err))
	}
	if len(layers) > s.limits.MaxLayers {
		return nil, imgErr(fmt.Errorf("%d layers, over the limit of %d", len(layers), s.limits.MaxLayers))
	}
	digests := make([]string, len(layers))
	for i, l := range layers {
		ld, err := l.Digest()
		if err != nil {
			return nil, &ScanError{Image: name, Layer: i, Err: err}
		}
		digests[i] = ld.String()
		size, err := l.Size()
		if err != nil {
			return nil, &ScanError{Image: name, Layer: i, LayerDigest: digests[i], Err: err}
		}
		if size > s.limits.MaxLayerBytes {
			return nil, &ScanError{Image: name, Layer: i, LayerDigest: digests[i],
				Err: fmt.Errorf("declared size %d bytes is over the limit of %d bytes: %w", size, s.limits.MaxLayerBytes, ErrTooLarge)}
		}
	}
	work, err := os.MkdirTemp(filepath.Join(s.dir, workSubdir), "scan-")
	if err != nil {
		return nil, imgErr(err)
	}
	defer os.RemoveAll(work)
	fl, err := newFlattener(work, s.limits, s.required)
	if err != nil {
		return nil, imgErr(err)
	}
	defer fl.close()
	for i := len(layers) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return nil, imgErr(err)
		}
		if err := fl.layer(i, layers[i]); err != nil {
			return nil, &ScanError{Image: name, Layer: i, LayerDigest: digests[i], Err: err}
		}
	}
	pkgs, err := s.extract(ctx, work, func(p string) string {
		if i, ok := fl.origin[p]; ok {
			return fmt.Sprintf("layer %d (%s)", i, digests[i])
		}
		return "image"
	})
	if err != nil {
		return nil, imgErr(err)
	}
	inv := &Inventory{Image: name, Digest: d.String(), Layers: len(layers), Packages: pkgs, Config: configOf(cf)}
	if err := s.store(inv); err != nil {
		return nil, imgErr(err)
	}
	return inv, nil
}

// ErrTooLarge marks a layer, file or image over a Limits bound.
var ErrTooLarge = errors.New("too large")

// ErrUnsafePath marks a tar entry whose path or link target leaves the image root.
var ErrUnsafePath = errors.New("leaves the image root")

// ErrPackageDB marks a package database or binary an extractor could not read.
var ErrPackageDB = errors.New("unreadable package data")

// osReleasePaths are read by the OS extractors to name the distribution.
var osReleasePaths = map[string]bool{"etc/os-release": true, "usr/lib/os-release": true}

func (s *Scanner) required(api filesystem.FileAPI) bool {
	if osReleasePaths[api.Path()] {
		return true
	}
	for _, ex := range s.extractors {
		if ex.FileRequired(api) {
			return true
		}
	}
	return false
}

// extract runs the extractors over the flattened files under root. A file an
// extractor failed on is an error naming the file and, through where, the
// layer it came from.
func (s *Scanner) extract(ctx context.Context, root string, where func(string) string) ([]Package, error) {
	inv, statuses, err := filesystem.Run(ctx, &filesystem.Config{
		Extractors: s.extractors,
		ScanRoots:  []*scalibrfs.ScanRoot{scalibrfs.RealFSScanRoot(root)},
		Stats:      stats.NoopCollector{},
	})
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	var errs []error
	for _, st := range statuses {
		if st.Status == nil {
			continue
		}
		for _, fe := range st.Status.FileErrors {
			errs = append(errs, fmt.Errorf("%s: /%s: %s: %w", where(fe.FilePath), fe.FilePath, fe.ErrorMessage, ErrPackageDB))
		}
		if st.Status.Status == plugin.ScanStatusFailed && len(st.Status.FileErrors) == 0 {
			errs = append(errs, fmt.Errorf("extractor %s: %s: %w", st.Name, st.Status.FailureReason, ErrPackageDB))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return toPackages(inv.Packages), nil
}

func toPackages(pkgs []*extractor.Package) []Package {
	out := make([]Package, 0, len(pkgs))
	for _, p := range pkgs {
		q := Package{Name: p.Name, Version: p.Version, Ecosystem: p.Ecosystem().String(), PURLType: p.PURLType}
		q.Location = p.Location.PathOrEmpty()
		switch m := p.Metadata.(type) {
		case *dpkgmeta.Metadata:
			q.OS = &OSPackage{Kind: "dpkg", SourceName: m.SourceName, SourceVersion: m.SourceVersion, OSID: m.OSID,
				OSVersionID: m.OSVersionID, OSCodename: m.OSVersionCodename, Status: m.Status}
		case *apkmeta.Metadata:
			q.OS = &OSPackage{Kind: "apk", SourceName: m.OriginName, OSID: m.OSID, OSVersionID: m.OSVersionID}
		case *rpmmeta.Metadata:
			q.OS = &OSPackage{Kind: "rpm", SourceName: m.SourceRPM, OSID: m.OSID, OSVersionID: m.OSVersionID, Epoch: m.Epoch}
		}
		out = append(out, q)
	}
	sortPackages(out)
	return out
}

func configOf(cf *v1.ConfigFile) Config {
	if cf == nil {
		return Config{}
	}
	c := cf.Config
	out := Config{User: c.User, Entrypoint: c.Entrypoint, Cmd: c.Cmd}
	for p := range c.ExposedPorts {
		out.ExposedPorts = append(out.ExposedPorts, p)
	}
	sort.Strings(out.ExposedPorts)
	if len(c.Labels) > 0 {
		out.Labels = make(map[string]string, len(c.Labels))
		for k, v := range c.Labels {
			out.Labels[k] = v
		}
	}
	for _, e := range c.Env {
		n, _, _ := strings.Cut(e, "=")
		out.EnvNames = append(out.EnvNames, n)
	}
	sort.Strings(out.EnvNames)
	return out
}
