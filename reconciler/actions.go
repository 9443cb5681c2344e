package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/report"
)

// ErrNotOpen is the error of an action on an incident that is resolved or unknown: nothing
// was done.
var ErrNotOpen = errors.New("the incident is not open")

// ErrNoProposals is Keep's error when no pull-request support is wired in.
var ErrNoProposals = errors.New("pull requests are not configured")

// openIncident returns a Source's open incident, with the pass lock of the Source held: the
// caller must call the returned unlock.
func (c *Controller) openIncident(ctx context.Context, key types.NamespacedName, fingerprint string) (*v1alpha1.Source, *sourceState, *report.Incident, func(), error) {
	var src v1alpha1.Source
	if err := c.client.Get(ctx, key, &src); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("Source %s: %w", key, err)
	}
	st := c.state(key)
	st.pass.Lock()
	if st.incidents == nil {
		st.pass.Unlock()
		return nil, nil, nil, nil, fmt.Errorf("Source %s has not been read since this controller started: try again in a moment", key)
	}
	inc := st.incidents[fingerprint]
	if inc == nil || inc.State == report.IncidentResolved {
		st.pass.Unlock()
		return nil, nil, nil, nil, fmt.Errorf("Source %s: incident %s: %w", key, fingerprint, ErrNotOpen)
	}
	return &src, st, inc, st.pass.Unlock, nil
}

// announce tells the notifier what a person asked for, for the incident's thread.
func (c *Controller) announce(ctx context.Context, key types.NamespacedName, st *sourceState, inc *report.Incident, detail string) {
	n := Notification{Event: EventAction, Source: key.String(), Revision: st.revision, Incidents: []*report.Incident{inc}, Detail: detail}
	if err := c.opts.Notifier.Notify(ctx, n); err != nil {
		c.opts.Log.Error("notify", "source", key.String(), "event", string(EventAction), "err", err)
	}
}

// RevertNow applies Git's state over one open incident's object at once, whatever the
// Source's mode and backoff say, as the "Revert now" button asks; by names the person, for
// the thread. An incident that is resolved or unknown gets ErrNotOpen and nothing is done.
func (c *Controller) RevertNow(ctx context.Context, key types.NamespacedName, fingerprint, by string) error {
	src, st, inc, unlock, err := c.openIncident(ctx, key, fingerprint)
	if err != nil {
		return err
	}
	defer unlock()
	if !st.good {
		return fmt.Errorf("Source %s: no good state of Git read yet: nothing reverted", key)
	}
	switch inc.Type {
	case report.Modified, report.Missing:
	default:
		err := fmt.Errorf("Source %s: a %s incident cannot be reverted by applying Git", key, inc.Type)
		c.announce(ctx, key, st, inc, fmt.Sprintf("Revert now by %s: nothing done: %v", by, err))
		return err
	}
	writer, err := c.writer(src)
	if err != nil {
		return err
	}
	a := Action{Kind: ActRevert, Object: inc.Object, Findings: inc.Findings}
	opts := ApplyOptions{SourceName: c.sourceLabelOf(src), DefaultNamespace: src.Namespace}
	e, err := c.revert(ctx, writer, c.desiredByRef(st, src.Namespace)[inc.Object], a, opts)
	c.metrics.Reverts.WithLabelValues(map[bool]string{true: "ok", false: "error"}[err == nil]).Inc()
	if err != nil {
		c.announce(ctx, key, st, inc, fmt.Sprintf("Revert now by %s failed: %v", by, err))
		return err
	}
	if err := writer.recordApplied(ctx, opts.SourceName, []InventoryEntry{e}, false); err != nil {
		c.opts.Log.Error("record inventory", "source", key.String(), "err", err)
	}
	inc.State = report.IncidentReverted
	c.markDirty(st)
	c.announce(ctx, key, st, inc, fmt.Sprintf("Revert now by %s: reverted %s to Git at %s", by, inc.Object, c.opts.Now().UTC().Format("2006-01-02 15:04:05 UTC")))
	c.poke(key.String())
	return nil
}

// Silence keeps an open incident's messages out of Slack for d; its resolution still shows.
func (c *Controller) Silence(ctx context.Context, key types.NamespacedName, fingerprint string, d time.Duration, by string) error {
	_, st, inc, unlock, err := c.openIncident(ctx, key, fingerprint)
	if err != nil {
		return err
	}
	defer unlock()
	if c.slack == nil {
		return errors.New("Slack is not configured")
	}
	if err := c.slack.n.Silence(ctx, key.String(), fingerprint, c.opts.Now().Add(d)); err != nil {
		return err
	}
	c.announce(ctx, key, st, inc, fmt.Sprintf("Silenced for %s by %s", d, by))
	return nil
}

// Keep asks for a pull request that writes the live state of an open incident into Git, through
// the pull-request hook; without one it returns ErrNoProposals.
func (c *Controller) Keep(ctx context.Context, key types.NamespacedName, fingerprint, by string) error {
	_, st, inc, unlock, err := c.openIncident(ctx, key, fingerprint)
	if err != nil {
		return err
	}
	keep := c.keep
	if keep == nil {
		unlock()
		return fmt.Errorf("Source %s: keep incident %s: %w", key, fingerprint, ErrNoProposals)
	}
	c.announce(ctx, key, st, inc, fmt.Sprintf("Keep it by %s: opening a pull request", by))
	unlock() // the hook runs a pass of its own
	return keep(ctx, key, fingerprint, by)
}
