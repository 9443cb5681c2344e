package activity

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Options tune a Receiver. The zero value of each field means its default.
type Options struct {
	// Token is the bearer token senders present; empty accepts no bearer token (then only client
	// certificates signed by ClientCAs authenticate). Its value is never logged.
	Token []byte
	// ClientCAs verifies client certificates; nil accepts none.
	ClientCAs *x509.CertPool
	// MaxBodyBytes caps a request body. Default 4 MiB (kube-apiserver's default audit batch of
	// 400 Metadata events is well under 1 MiB).
	MaxBodyBytes int64
	// MaxEventsPerRequest caps the events of one request. Default 2,000.
	MaxEventsPerRequest int
	// Rate and Burst bound the accesses and Falco events per second handed on in full; past
	// them one event in SampleEvery is handed on and the rest only counted, but for the first of
	// each pod and rule (or access and container). Writes are never sampled. Defaults 500/s,
	// burst 2,000, 1 in 100.
	Rate        float64
	Burst       int
	SampleEvery int
	// Buffer is the capacity of the stream of Events; when it is full, further events are
	// dropped and counted, never waited for. Default 4,096.
	Buffer int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.MaxEventsPerRequest <= 0 {
		o.MaxEventsPerRequest = 2000
	}
	if o.Rate <= 0 {
		o.Rate = 500
	}
	if o.Burst <= 0 {
		o.Burst = 2000
	}
	if o.SampleEvery <= 0 {
		o.SampleEvery = 100
	}
	if o.Buffer <= 0 {
		o.Buffer = 4096
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Stats counts what a Receiver saw since it started.
type Stats struct {
	// Requests refused: Unauthorized (401), TooLarge (413), Malformed (400: bad JSON, wrong kind,
	// too many events).
	Unauthorized, TooLarge, Malformed uint64
	// Events parsed; Accepted handed on; Sampled dropped by the storm sampling; Dropped because
	// the stream was full.
	Events, Accepted, Sampled, Dropped uint64
}

// Receiver serves POST /audit and POST /falco and hands the parsed Events to its stream.
type Receiver struct {
	opts      Options
	tokenHash [32]byte
	limiter   *rate.Limiter
	events    chan Event
	denied    atomic.Uint64
	// seen are the (namespace, pod, rule) of Falco events handed on, so that the first event of
	// each is never sampled out: a storm of one rule does not hide another. Bounded by maxSeen.
	mu   sync.Mutex
	seen map[string]struct{}

	unauthorized, tooLarge, malformed  atomic.Uint64
	parsed, accepted, sampled, dropped atomic.Uint64
}

// NewReceiver returns a Receiver. It fails when opts authenticate nobody (no token, no CA).
func NewReceiver(opts Options) (*Receiver, error) {
	opts.defaults()
	if len(opts.Token) == 0 && opts.ClientCAs == nil {
		return nil, errors.New("events: a bearer token or a client CA is required")
	}
	r := &Receiver{opts: opts, limiter: rate.NewLimiter(rate.Limit(opts.Rate), opts.Burst), events: make(chan Event, opts.Buffer), seen: map[string]struct{}{}}
	if len(opts.Token) > 0 {
		r.tokenHash = sha256.Sum256(opts.Token)
	}
	return r, nil
}

// Events is the stream of accepted Events. It is never closed.
func (r *Receiver) Events() <-chan Event { return r.events }

// Stats returns the counts so far.
func (r *Receiver) Stats() Stats {
	return Stats{
		Unauthorized: r.unauthorized.Load(), TooLarge: r.tooLarge.Load(), Malformed: r.malformed.Load(),
		Events: r.parsed.Load(), Accepted: r.accepted.Load(), Sampled: r.sampled.Load(), Dropped: r.dropped.Load(),
	}
}

// Handler serves POST /audit and POST /falco.
func (r *Receiver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /audit", r.endpoint(ParseAudit))
	mux.Handle("POST /falco", r.endpoint(ParseFalco))
	return mux
}

// TLSConfig returns the server TLS configuration for cert: TLS 1.2 or later, and client
// certificates verified against the Receiver's client CAs when one is presented.
func (r *Receiver) TLSConfig(cert tls.Certificate) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if r.opts.ClientCAs != nil {
		cfg.ClientCAs, cfg.ClientAuth = r.opts.ClientCAs, tls.VerifyClientCertIfGiven
	}
	return cfg
}

// authenticated reports whether the request carries a verified client certificate or the
// bearer token.
func (r *Receiver) authenticated(req *http.Request) bool {
	if req.TLS != nil && len(req.TLS.VerifiedChains) > 0 && r.opts.ClientCAs != nil {
		return true
	}
	if len(r.opts.Token) == 0 {
		return false
	}
	scheme, token, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], r.tokenHash[:]) == 1
}

type parser func(body []byte, maxEvents int, received time.Time) ([]Event, error)

func (r *Receiver) endpoint(parse parser) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		received := r.opts.Now()
		if !r.authenticated(req) {
			r.unauthorized.Add(1)
			w.Header().Set("WWW-Authenticate", `Bearer realm="plumbline"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if req.ContentLength > r.opts.MaxBodyBytes {
			r.tooLarge.Add(1)
			http.Error(w, fmt.Sprintf("request body over %d bytes", r.opts.MaxBodyBytes), http.StatusRequestEntityTooLarge)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.opts.MaxBodyBytes))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			r.tooLarge.Add(1)
			http.Error(w, fmt.Sprintf("request body over %d bytes", r.opts.MaxBodyBytes), http.StatusRequestEntityTooLarge)
			return
		case err != nil:
			r.malformed.Add(1)
			http.Error(w, "reading the request body failed", http.StatusBadRequest)
			return
		}
		events, err := parse(body, r.opts.MaxEventsPerRequest, received)
		if err != nil {
			r.malformed.Add(1)
			// The error names the field or the limit, never the body's content.
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.offer(events)
		w.WriteHeader(http.StatusOK)
	})
}

// maxSeen bounds the keys of first events remembered for sampling.
const maxSeen = 4096

// first reports whether e must be handed on whatever the rate: a write (the index of recent
// writes is bounded and cheap, and a sampled write would lose its person), or the first access
// into a pod's container, or the first Falco event of a pod and rule, which it remembers.
func (r *Receiver) first(e Event) bool {
	var k string
	switch {
	case e.Kind == KindWrite:
		return true
	case e.Kind == KindAccess:
		k = "access/" + e.Object.Namespace + "/" + e.Object.Name + "/" + e.Access + "/" + e.Container
	case e.Kind == KindFalco && e.Runtime != nil:
		k = "falco/" + e.Namespace + "/" + e.Pod + "/" + e.Runtime.ContainerID + "/" + e.Runtime.Rule
	default:
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.seen[k]; ok {
		return false
	}
	if len(r.seen) >= maxSeen {
		clear(r.seen)
	}
	r.seen[k] = struct{}{}
	return true
}

// offer hands events on: within the rate in full, past it one in SampleEvery; never blocking.
func (r *Receiver) offer(events []Event) {
	r.parsed.Add(uint64(len(events)))
	for _, e := range events {
		if !r.limiter.Allow() && !r.first(e) {
			if n := r.denied.Add(1); n%uint64(r.opts.SampleEvery) != 1 {
				r.sampled.Add(1)
				continue
			}
			if e.Runtime != nil { // the sample stands for the events it was chosen from
				rt := *e.Runtime
				rt.Count = r.opts.SampleEvery
				e.Runtime = &rt
			}
		}
		select {
		case r.events <- e:
			r.accepted.Add(1)
		default:
			r.dropped.Add(1)
		}
	}
}
