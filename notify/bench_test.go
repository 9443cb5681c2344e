package notify

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/plumbline/plumbline/report"
	"github.com/plumbline/plumbline/test/slackserver"
)

var (
	benchIncidents = flag.Int("slack-bench-incidents", 1000, "incidents BenchmarkThousandIncidents raises at once")
	benchRate      = flag.Float64("slack-bench-rate", 200, "messages per second per channel in BenchmarkThousandIncidents (Slack's is 1)")
)

// BenchmarkThousandIncidents raises 1,000 incidents of one Source at once, each its own
// notification, through the real notify path (outbox saved on every change, rate limiter,
// slack-go client) to the recording server, and checks they arrive in order, once. It reports
// messages per second and the peak heap in use while they drain. The rate is raised (by
// -slack-bench-rate) so that a run does not take 1,000 s; at Slack's 1/s the limiter, not the
// notifier, sets the pace.
func BenchmarkThousandIncidents(b *testing.B) {
	n := *benchIncidents
	incs := make([]*report.Incident, n)
	for i := range incs {
		o := nginx
		o.Name = fmt.Sprintf("web-%04d", i)
		incs[i] = incidentOf(report.Finding{Type: report.Modified, Object: o, Fields: []report.Field{{Path: imgPath, Desired: "nginx:1.21.0", Live: "nginx:latest", Manager: "kubectl-set", Time: &at}}})
	}
	var peak uint64
	for b.Loop() {
		srv := slackserver.New()
		nt, err := New(Options{Store: &MemoryStore{}, APIURL: srv.APIURL(), Rate: rate.Limit(*benchRate), MaxOutbox: 2 * n,
			Target: func(context.Context, string) (Target, error) {
				return Target{Channel: "C0OPS", Token: "xoxb-bench"}, nil
			}})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = nt.Start(ctx) }()
		start := time.Now()
		for _, inc := range incs {
			if err := nt.Notify(ctx, Notification{Event: EventOpened, Source: "platform/apps", Revision: rev, Incidents: []*report.Incident{inc}}); err != nil {
				b.Fatal(err)
			}
		}
		queued := time.Since(start)
		stopSampling := make(chan struct{})
		sampled := make(chan uint64)
		go func() {
			var m runtime.MemStats
			var hi uint64
			for {
				runtime.ReadMemStats(&m)
				hi = max(hi, m.HeapInuse)
				select {
				case <-stopSampling:
					sampled <- hi
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
		msgs := srv.Wait(n, time.Duration(float64(n) / *benchRate * 3 * float64(time.Second))+30*time.Second)
		took := time.Since(start)
		close(stopSampling)
		peak = max(peak, <-sampled)
		cancel()
		<-done
		srv.Stop()
		if len(msgs) != n {
			b.Fatalf("%d messages arrived, want %d", len(msgs), n)
		}
		for i, m := range msgs {
			if want := fmt.Sprintf("'web-%04d'", i); !strings.Contains(strings.SplitN(m.Text, "\n", 2)[0], want) {
				b.Fatalf("message %d is %q, want the incident of %s: out of order", i, m.Text, want)
			}
		}
		b.ReportMetric(float64(n)/took.Seconds(), "msgs/s")
		b.ReportMetric(queued.Seconds()*1000, "queue-ms")
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
