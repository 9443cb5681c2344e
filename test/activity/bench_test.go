package activity

import (
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/reconciler"
)

// peakMemory samples the process's heap every 10 ms until stop, and returns the peak in MiB.
// The controller runs in this process, beside the test's own HTTP client.
func peakMemory() (stop func() float64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() float64 {
		close(done)
		wg.Wait()
		return float64(peak.Load()) / (1 << 20)
	}
}

// notifiedAfter waits for the opened incident whose message contains part, and returns how long
// after sent the notifier heard of it.
func (s *scene) notifiedAfter(sent time.Time, part string) time.Duration {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		s.notes.mu.Lock()
		for i, x := range s.notes.all {
			if x.Event != reconciler.EventOpened {
				continue
			}
			for _, inc := range x.Incidents {
				if len(inc.Findings) > 0 && strings.Contains(inc.Findings[0].Message, part) {
					at := s.notes.at[i]
					s.notes.mu.Unlock()
					return at.Sub(sent)
				}
			}
		}
		s.notes.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	s.t.Fatalf("no incident says %q:\n%s", part, s.notes)
	return 0
}

func reportLatencies(b *testing.B, lat []time.Duration, peakMiB float64) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms-to-notifier")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms-to-notifier")
	b.ReportMetric(peakMiB, "peak-heap-MiB")
}

// BenchmarkAuditBatch1000 posts audit EventLists of 1,000 events (999 writes to objects, one exec
// into a managed pod) to /audit over HTTPS, and measures from the POST to the notifier call of
// the exec's incident.
func BenchmarkAuditBatch1000(b *testing.B) {
	s := newScene(b, v1alpha1.SourceSpec{})
	pod := s.pod()
	mem := peakMemory()
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		var items []string
		for j := range 999 {
			items = append(items, fmt.Sprintf(`{"level":"Metadata","auditID":"w-%d-%d","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/%s/deployments/app-%d?fieldManager=kubectl-edit","verb":"patch","user":{"username":"user-%d@example.com","groups":["dev"]},"sourceIPs":["10.0.0.1"],"userAgent":"kubectl/v1.32.0","objectRef":{"resource":"deployments","namespace":"%s","name":"app-%d","apiGroup":"apps","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-12-02T10:00:00.000000Z","stageTimestamp":"2026-12-02T10:00:00.010000Z"}`,
				i, j, s.ns, j, j, s.ns, j))
		}
		container := fmt.Sprintf("bench-%d", i)
		items = append(items, fmt.Sprintf(`{"level":"Metadata","auditID":"x-%d","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/%s/pods/%s/exec?command=id&container=%s","verb":"create","user":{"username":"alice@example.com"},"userAgent":"kubectl/v1.32.0","objectRef":{"resource":"pods","namespace":"%s","name":"%s","apiVersion":"v1","subresource":"exec"},"responseStatus":{"metadata":{},"code":400},"requestReceivedTimestamp":"2026-12-02T10:00:00.000000Z","stageTimestamp":"2026-12-02T10:00:00.010000Z"}`,
			i, s.ns, pod.Name, container, s.ns, pod.Name))
		body := []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Join(items, ",") + `]}`)
		sent := time.Now()
		if code, out := postEvents(b, "/audit", eventsToken, body); code != http.StatusOK {
			b.Fatalf("POST /audit: %d %s", code, out)
		}
		lat = append(lat, s.notifiedAfter(sent, "(container "+container+")"))
	}
	b.StopTimer()
	reportLatencies(b, lat, mem())
}

// BenchmarkFalco10kPerSecond posts Falco events at 10,000 a second (ten batches of 1,000 each
// second) to /falco over HTTPS for b.N seconds; each second one event of a new rule opens an
// incident, timed from its POST to the notifier call.
func BenchmarkFalco10kPerSecond(b *testing.B) {
	s := newScene(b, v1alpha1.SourceSpec{})
	pod := s.pod()
	one, err := falcoSample("falco-new-binary.json", s.ns, pod.Name)
	if err != nil {
		b.Fatal(err)
	}
	batch := []byte("[" + strings.TrimSuffix(strings.Repeat(string(one)+",", 1000), ",") + "]")
	mem := peakMemory()
	var lat []time.Duration
	before := receiver.Stats()
	b.ResetTimer()
	start := time.Now()
	for sec := range b.N {
		rule := fmt.Sprintf("Bench rule %d", sec)
		marked := []byte("[" + strings.Replace(string(one), "Drop and execute new binary in container", rule, 1) + "]")
		sent := time.Now()
		if code, out := postEvents(b, "/falco", eventsToken, marked); code != http.StatusOK {
			b.Fatalf("POST /falco: %d %s", code, out)
		}
		for range 10 {
			if code, out := postEvents(b, "/falco", eventsToken, batch); code != http.StatusOK {
				b.Fatalf("POST /falco: %d %s", code, out)
			}
		}
		lat = append(lat, s.notifiedAfter(sent, "(Falco rule: "+rule+")"))
		time.Sleep(time.Until(start.Add(time.Duration(sec+1) * time.Second)))
	}
	b.StopTimer()
	after := receiver.Stats()
	b.ReportMetric(float64(after.Events-before.Events)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(after.Sampled-before.Sampled), "sampled-out")
	reportLatencies(b, lat, mem())
}
