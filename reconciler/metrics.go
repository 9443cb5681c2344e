package reconciler

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plumbline/plumbline/report"
)

// Metrics are the controller's Prometheus collectors. Register them with Collectors.
type Metrics struct {
	Findings         *prometheus.GaugeVec
	ReconcileSeconds prometheus.Histogram
	GitFetches       *prometheus.CounterVec
	Reverts          *prometheus.CounterVec
	Fights           prometheus.Counter
	DetectionLatency prometheus.Histogram
	LastSuccess      *prometheus.GaugeVec
	RegistryRequests *prometheus.CounterVec
	Notifications    *prometheus.CounterVec
	RuntimeEvents    *prometheus.CounterVec
	Proposals        *prometheus.CounterVec
	ForgeWebhooks    *prometheus.CounterVec
}

// NewMetrics returns unregistered collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		Findings: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "plumbline_findings",
			Help: "Open findings of each Source, by finding type."}, []string{"source", "type"}),
		ReconcileSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "plumbline_reconcile_duration_seconds",
			Help: "Time of one pass over one Source.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		GitFetches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumbline_git_fetches_total",
			Help: "Polls of Git (ls-remote, and a fetch when the tip moved), by result."}, []string{"result"}),
		Reverts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumbline_reverts_total",
			Help: "Reverts and prunes, by result."}, []string{"result"}),
		Fights: prometheus.NewCounter(prometheus.CounterOpts{Name: "plumbline_fights_total",
			Help: "Fights detected: another manager kept writing a reverted field back."}),
		DetectionLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "plumbline_drift_detection_latency_seconds",
			Help:    "From the watch event of a live change to the notifier call of its incident.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30}}),
		RegistryRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumbline_registry_requests_total",
			Help: "Requests to image registries, by result: the status class (2xx, 4xx, 5xx) or error."}, []string{"result"}),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumbline_notifications_total",
			Help: "Slack messages and notifications, by result: sent, deduplicated, rate-limited, retried, failed (permanent), dropped."}, []string{"result"}),
		RuntimeEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumbline_runtime_events_total",
			Help: "Audit and Falco events, by Source (empty when none) and type: write, RuntimeAccess, RuntimeDrift, unmanaged (no managed workload runs the pod), sampled and dropped (a storm), evicted."}, []string{"source", "type"}),
		Proposals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumbline_proposals_total",
			Help: "Pull requests, by event: opened, merged, closed, failed (none could be opened, or the forge failed)."}, []string{"event"}),
		ForgeWebhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumbline_forge_webhooks_total",
			Help: "Forge webhook deliveries, by result: pull-request and push (acted on), ignored, unauthorized, not-found, too-large, bad-request, rate-limited, unavailable."}, []string{"result"}),
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "plumbline_last_successful_sync_timestamp_seconds",
			Help: "When each Source was last fetched, rendered and compared without error."}, []string{"source"}),
	}
}

// Collectors returns every collector, for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Findings, m.ReconcileSeconds, m.GitFetches, m.Reverts, m.Fights, m.DetectionLatency, m.LastSuccess, m.RegistryRequests, m.Notifications, m.RuntimeEvents, m.Proposals, m.ForgeWebhooks}
}

func (m *Metrics) reconciled(source string, took time.Duration, ok bool, now time.Time) {
	m.ReconcileSeconds.Observe(took.Seconds())
	if ok {
		m.LastSuccess.WithLabelValues(source).Set(float64(now.Unix()))
	}
}

func (m *Metrics) findings(source string, r *report.Report) {
	m.Findings.DeletePartialMatch(prometheus.Labels{"source": source})
	for t, n := range r.Summary.ByType {
		m.Findings.WithLabelValues(source, string(t)).Set(float64(n))
	}
}

func (m *Metrics) forget(source string) {
	m.Findings.DeletePartialMatch(prometheus.Labels{"source": source})
	m.LastSuccess.DeleteLabelValues(source)
}

// CountingTransport counts each request to a registry in RegistryRequests, by result.
func (m *Metrics) CountingTransport(next http.RoundTripper) http.RoundTripper {
	return countingTransport{next: next, counter: m.RegistryRequests}
}

type countingTransport struct {
	next    http.RoundTripper
	counter *prometheus.CounterVec
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	switch {
	case err != nil:
		t.counter.WithLabelValues("error").Inc()
	default:
		t.counter.WithLabelValues(fmt.Sprintf("%dxx", resp.StatusCode/100)).Inc()
	}
	return resp, err
}
