package reconciler

import (
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/plumbline/plumbline/report"
)

// Backoff paces the reverts of one object: the first waits nothing, each further one waits
// Initial, then Factor times longer, at most Cap; after Quiet without a revert it starts over.
type Backoff struct {
	Initial time.Duration
	Factor  float64
	Cap     time.Duration
	Quiet   time.Duration
}

// DefaultRevertBackoff is 2 s, factor 3, at most 5 minutes, reset after 5 quiet minutes.
func DefaultRevertBackoff() Backoff {
	return Backoff{Initial: 2 * time.Second, Factor: 3, Cap: 5 * time.Minute, Quiet: 5 * time.Minute}
}

// revertPace is the backoff state of one object.
type revertPace struct {
	last time.Time
	wait wait.Backoff
}

// allowed returns 0 when the object may be reverted at now, else how long to wait.
func (p *revertPace) allowed(now time.Time) time.Duration {
	if p == nil || p.last.IsZero() {
		return 0
	}
	if until := p.last.Add(p.wait.Duration); now.Before(until) {
		return until.Sub(now)
	}
	return 0
}

// pace returns the object's revert pace at now, started over after a quiet period.
func pace(paces map[report.ObjectRef]*revertPace, ref report.ObjectRef, b Backoff, now time.Time) *revertPace {
	p, ok := paces[ref]
	if !ok || now.Sub(p.last) > b.Quiet+p.wait.Duration {
		p = &revertPace{wait: wait.Backoff{Duration: 0, Factor: b.Factor, Cap: b.Cap, Steps: 1 << 30}}
		paces[ref] = p
	}
	return p
}

// reverted records a revert at now and lengthens the wait before the next one.
func (p *revertPace) reverted(b Backoff, now time.Time) {
	p.last = now
	if p.wait.Duration == 0 {
		p.wait.Duration = b.Initial
		return
	}
	p.wait.Step()
}

// fightTracker counts, per incident fingerprint, the reverts within a window: drift that comes
// back after every revert is another manager fighting Plumbline.
type fightTracker struct {
	reverts map[string][]time.Time
}

func newFightTracker() *fightTracker { return &fightTracker{reverts: map[string][]time.Time{}} }

// record notes a revert of the incident at now.
func (f *fightTracker) record(fingerprint string, now time.Time) {
	f.reverts[fingerprint] = append(f.reverts[fingerprint], now)
}

// count returns how many reverts of the incident fall within window before now, forgetting
// older ones.
func (f *fightTracker) count(fingerprint string, window time.Duration, now time.Time) int {
	times := f.reverts[fingerprint]
	kept := times[:0]
	for _, t := range times {
		if now.Sub(t) <= window {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		delete(f.reverts, fingerprint)
		return 0
	}
	f.reverts[fingerprint] = kept
	return len(kept)
}

// reset forgets every fight: Git changed.
func (f *fightTracker) reset() { f.reverts = map[string][]time.Time{} }
