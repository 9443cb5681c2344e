package images

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/singleflight"
)

// Defaults of a Resolver.
const (
	// DefaultConcurrency is how many registry resolutions run at once.
	DefaultConcurrency = 16
	// DefaultCacheTTL is how long a tag's resolved digest is trusted.
	DefaultCacheTTL = 5 * time.Minute
	// DefaultImageTimeout is the longest one image's resolution may take, retries included.
	DefaultImageTimeout = 30 * time.Second
	// DefaultMaxResponseBytes caps the body of any one registry response: the 4 MiB the OCI
	// distribution spec lets registries refuse manifests above, where go-containerregistry
	// allows 100 MiB.
	DefaultMaxResponseBytes = 4 << 20
	// DefaultRunReadLimit caps what one ResolveAll reads from all registries together.
	DefaultRunReadLimit = 64 << 20
)

// Resolver resolves tags to digests with go-containerregistry. It caches each
// resolution per (reference, credential identity) for a TTL, shares one
// in-flight request between concurrent callers asking the same thing, caps
// the number of registry requests in flight across all its callers, and
// retries 429 and 5xx answers honouring Retry-After. A Resolver is safe for
// concurrent use; build it with NewResolver, the zero value is not usable.
type Resolver struct {
	concurrency int
	ttl         time.Duration
	now         func() time.Time
	transport   http.RoundTripper
	retry       RetryPolicy
	userAgent   string

	imageTimeout time.Duration
	maxResponse  int64
	runLimit     int64

	sem       chan struct{}
	cache     *resolutionCache
	manifests *manifestCache
	flight    singleflight.Group

	mu      sync.Mutex
	pullers map[string]*pullerEntry
}

// Option configures a Resolver.
type Option func(*Resolver)

// WithConcurrency sets how many registry resolutions run at once across all
// callers of the Resolver. Default DefaultConcurrency; must be at least 1.
func WithConcurrency(n int) Option { return func(r *Resolver) { r.concurrency = n } }

// WithCacheTTL sets how long a tag resolution is reused. Default
// DefaultCacheTTL; 0 turns the cache off; negative is an error.
func WithCacheTTL(d time.Duration) Option { return func(r *Resolver) { r.ttl = d } }

// WithClock sets the clock used for cache expiry and Retry-After dates.
// Default time.Now; nil is an error. For tests.
func WithClock(now func() time.Time) Option { return func(r *Resolver) { r.now = now } }

// WithTransport sets the HTTP transport under the retry and auth layers.
// Default remote.DefaultTransport; nil is an error.
func WithTransport(t http.RoundTripper) Option { return func(r *Resolver) { r.transport = t } }

// WithRetry sets the retry policy. Default DefaultRetryPolicy().
func WithRetry(p RetryPolicy) Option { return func(r *Resolver) { r.retry = p } }

// WithUserAgent sets the User-Agent sent to registries. Default
// go-containerregistry's.
func WithUserAgent(ua string) Option { return func(r *Resolver) { r.userAgent = ua } }

// WithImageTimeout sets the longest one image's resolution may take. ResolveAll also ends
// every image's deadline before the last quarter of the time its context has left, so that
// a registry that never answers costs that image, not the report. Default
// DefaultImageTimeout; it must be positive.
func WithImageTimeout(d time.Duration) Option { return func(r *Resolver) { r.imageTimeout = d } }

// WithMaxResponseBytes caps the body of one registry response; a registry that sends more
// fails that image with a TooLarge error. Default DefaultMaxResponseBytes; it must be positive.
func WithMaxResponseBytes(n int64) Option { return func(r *Resolver) { r.maxResponse = n } }

// WithRunReadLimit caps the bytes one ResolveAll reads from all registries together, bodies
// of every response counted; once it is spent, each image left fails with a TooLarge error
// at once. Default DefaultRunReadLimit; it must be positive.
func WithRunReadLimit(n int64) Option { return func(r *Resolver) { r.runLimit = n } }

// NewResolver returns a Resolver with the defaults above changed by opts. It
// validates the options after applying them.
func NewResolver(opts ...Option) (*Resolver, error) {
	r := &Resolver{
		concurrency: DefaultConcurrency,
		ttl:         DefaultCacheTTL,
		now:         time.Now,
		transport:   remote.DefaultTransport,
		retry:       DefaultRetryPolicy(),

		imageTimeout: DefaultImageTimeout,
		maxResponse:  DefaultMaxResponseBytes,
		runLimit:     DefaultRunReadLimit,
	}
	for _, opt := range opts {
		opt(r)
	}
	var errs []error
	if r.concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency must be at least 1, got %d", r.concurrency))
	}
	if r.ttl < 0 {
		errs = append(errs, fmt.Errorf("cache TTL must not be negative, got %s", r.ttl))
	}
	if r.now == nil {
		errs = append(errs, errors.New("clock must not be nil"))
	}
	if r.transport == nil {
		errs = append(errs, errors.New("transport must not be nil"))
	}
	if r.imageTimeout <= 0 || r.maxResponse <= 0 || r.runLimit <= 0 {
		errs = append(errs, fmt.Errorf("image timeout, response and run read limits must be positive, got %s, %d, %d", r.imageTimeout, r.maxResponse, r.runLimit))
	}
	errs = append(errs, r.retry.validate())
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("images resolver: %w", err)
	}
	r.sem = make(chan struct{}, r.concurrency)
	r.cache = newResolutionCache(r.ttl, r.now)
	r.manifests = newManifestCache(4096)
	r.pullers = map[string]*pullerEntry{}
	return r, nil
}
