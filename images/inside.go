package images

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/plumbline/plumbline/images/inventory"
	"github.com/plumbline/plumbline/images/vulns"
)

// DefaultScanTimeout bounds one image's inventory, layers and retries included.
const DefaultScanTimeout = 10 * time.Minute

// Image returns the image of digest in ref's repository, read through the
// Resolver's credentials, retry and size rules (a blob may be as large as
// maxBlob bytes, a manifest as the Resolver allows). For an index it picks
// PreferredPlatform. Layers are fetched when read, not here.
func (r *Resolver) Image(ctx context.Context, ref Reference, digest string, kc authn.Keychain, maxBlob int64) (v1.Image, error) {
	base := ref.WithoutDigest()
	if err := ValidateDigest(digest); err != nil {
		return nil, fmt.Errorf("%s: %w", base, err)
	}
	cred, err := credentialsFor(ctx, kc, base)
	if err != nil {
		return nil, err
	}
	d, err := name.NewDigest(base.Name() + "@" + digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", base, err)
	}
	plat, err := v1.ParsePlatform(PreferredPlatform)
	if err != nil {
		return nil, err
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(cred.auth),
		remote.WithPlatform(*plat),
		remote.WithTransport(&retryTransport{inner: &boundedTransport{inner: r.transport, maxBody: max(maxBlob, r.maxResponse)}, policy: r.retry, now: r.now}),
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
	}
	if r.userAgent != "" {
		opts = append(opts, remote.WithUserAgent(r.userAgent))
	}
	img, err := remote.Image(d, opts...)
	if err != nil {
		return nil, registryError(base, err)
	}
	return img, nil
}

// Inspector takes the inventory of images (cached on disk by digest) and
// matches it against an OSV database. It is safe for concurrent use.
type Inspector struct {
	resolver *Resolver
	scanner  *inventory.Scanner
	maxBlob  int64

	mu     sync.Mutex // guards db (Match sorts events) and the fields below
	db     *vulns.DB
	dbWarn []string
	wait   time.Duration
	scans  map[string]*scan
}

type scan struct {
	done chan struct{}
	inv  *inventory.Inventory
	err  error
}

// NewInspector builds an Inspector. db may be nil: every inspection then
// carries the warning that vulnerabilities were not checked (dbWarn, e.g.
// vulns.Missing(dir)). wait bounds how long Inspect waits for a scan that is
// not cached: past it, the scan goes on in the background and Inspect says
// so; 0 waits for the scan to finish.
func NewInspector(r *Resolver, s *inventory.Scanner, db *vulns.DB, dbWarn string, wait time.Duration) *Inspector {
	in := &Inspector{resolver: r, scanner: s, maxBlob: inventory.DefaultLimits().MaxLayerBytes, db: db, wait: wait, scans: map[string]*scan{}}
	if dbWarn != "" {
		in.dbWarn = append(in.dbWarn, dbWarn)
	}
	if db != nil {
		in.dbWarn = append(in.dbWarn, db.Warnings...)
	}
	return in
}

// Inspection is what is inside one digest.
type Inspection struct {
	Inventory       *inventory.Inventory
	Vulnerabilities []vulns.Finding
	// Checked is false when no vulnerability database was given: Vulnerabilities is then empty
	// and says nothing.
	Checked bool
	// Warnings say why Vulnerabilities may be incomplete (no database, a stale one).
	Warnings []string
}

// ErrScanPending means the scan of a digest is still running in the background.
var ErrScanPending = errors.New("contents scan still running")

// Inspect returns the inventory and vulnerabilities of ref@digest.
func (in *Inspector) Inspect(ctx context.Context, ref Reference, digest string, kc authn.Keychain) (*Inspection, error) {
	inv, err := in.inventory(ctx, ref, digest, kc)
	if err != nil {
		return nil, err
	}
	out := &Inspection{Inventory: inv, Warnings: in.dbWarn, Checked: in.db != nil}
	if in.db != nil {
		in.mu.Lock()
		out.Vulnerabilities = in.db.Match(inv.Packages)
		in.mu.Unlock()
	}
	return out, nil
}

func (in *Inspector) inventory(ctx context.Context, ref Reference, digest string, kc authn.Keychain) (*inventory.Inventory, error) {
	if inv, ok := in.scanner.Cached(digest); ok {
		inv.Image = display(ref.WithDigest(digest))
		return inv, nil
	}
	key := ref.Name() + "@" + digest
	in.mu.Lock()
	s, ok := in.scans[key]
	if !ok {
		s = &scan{done: make(chan struct{})}
		in.scans[key] = s
		// The scan outlives this call when it takes longer than wait; it keeps
		// ctx's values, not its cancellation, and has its own deadline.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultScanTimeout)
		go func() {
			defer cancel()
			defer close(s.done)
			s.inv, s.err = in.scanNow(sctx, ref, digest, kc)
			in.mu.Lock()
			delete(in.scans, key)
			in.mu.Unlock()
		}()
	}
	in.mu.Unlock()
	var timeout <-chan time.Time
	if in.wait > 0 {
		t := time.NewTimer(in.wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-s.done:
		return s.inv, s.err
	case <-timeout:
		return nil, fmt.Errorf("%s@%s: %w", display(ref), Short(digest), ErrScanPending)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (in *Inspector) scanNow(ctx context.Context, ref Reference, digest string, kc authn.Keychain) (*inventory.Inventory, error) {
	img, err := in.resolver.Image(ctx, ref, digest, kc, in.maxBlob)
	if err != nil {
		return nil, err
	}
	return in.scanner.Scan(ctx, ref.WithoutDigest().String()+"@"+digest, img)
}

// Rebuild is what changed inside a tag between the approved and the served digest.
type Rebuild struct {
	Changes inventory.Changes
	// Approved and Served are the inspections; Approved is nil when the
	// approved digest could not be pulled (Note says so).
	Approved, Served *Inspection
	// NewVulnerabilities are in Served and not in Approved (by id and package).
	NewVulnerabilities []vulns.Finding
	// Note says what could not be compared.
	Note string
}

// CompareDigests inspects both digests of ref and compares them. When the
// approved digest cannot be pulled any more the served one is still scanned
// and Note says so; an error is returned only when the served one fails.
func (in *Inspector) CompareDigests(ctx context.Context, ref Reference, approved, served string, kc authn.Keychain) (*Rebuild, error) {
	s, err := in.Inspect(ctx, ref, served, kc)
	if err != nil {
		return nil, err
	}
	out := &Rebuild{Served: s}
	a, err := in.Inspect(ctx, ref, approved, kc)
	switch {
	case err != nil && isNotFound(err):
		out.Note = fmt.Sprintf("the approved digest %s can no longer be pulled from the registry; only the served one was scanned", Short(approved))
		out.NewVulnerabilities = s.Vulnerabilities
		return out, nil
	case err != nil:
		out.Note = fmt.Sprintf("the approved digest %s could not be scanned: %v", Short(approved), err)
		out.NewVulnerabilities = s.Vulnerabilities
		return out, nil
	}
	out.Approved = a
	out.Changes = inventory.Compare(a.Inventory, s.Inventory)
	old := map[[2]string]bool{}
	for _, v := range a.Vulnerabilities {
		old[[2]string{v.ID, v.Package}] = true
	}
	for _, v := range s.Vulnerabilities {
		if !old[[2]string{v.ID, v.Package}] {
			out.NewVulnerabilities = append(out.NewVulnerabilities, v)
		}
	}
	return out, nil
}

func isNotFound(err error) bool {
	var re *RegistryError
	return errors.As(err, &re) && re.Kind == NotFound
}
