package reconciler

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/diff"
	"github.com/plumbline/plumbline/report"
)

// act carries out the decided actions: each revert server-side applies the object's desired
// state (after taking back the fields a person added), each prune deletes. Acts are paced per
// object by the revert backoff. It returns the shortest wait of a paced act, the notifications,
// and whether everything it tried was applied.
func (c *Controller) act(ctx context.Context, src *v1alpha1.Source, st *sourceState, d decision, incidents map[string]*report.Incident, now time.Time) (time.Duration, []Notification, bool) {
	st.actErr = ""
	if len(d.Actions) == 0 {
		return 0, nil, false
	}
	source := src.Namespace + "/" + src.Name
	writer, err := c.writer(src)
	if err != nil {
		return 0, []Notification{{Event: EventSourceFailed, Detail: err.Error()}}, false
	}
	desired := c.desiredByRef(st, src.Namespace)
	opts := ApplyOptions{SourceName: c.sourceLabelOf(src), DefaultNamespace: src.Namespace}
	var appliedEntries []InventoryEntry
	var pruned []report.ObjectRef
	defer func() { // one inventory write for the whole pass, not one per object
		if len(appliedEntries) > 0 {
			if err := writer.recordApplied(ctx, opts.SourceName, appliedEntries, false); err != nil {
				c.opts.Log.Error("record inventory", "source", source, "err", err)
			}
		}
		if len(pruned) > 0 {
			if err := c.cluster.ForgetApplied(ctx, opts.SourceName, pruned...); err != nil {
				c.opts.Log.Error("forget pruned objects", "source", source, "err", err)
			}
		}
	}()
	var wait time.Duration
	var notes []Notification
	applied := true
	for _, a := range d.Actions {
		p := pace(st.reverts, a.Object, c.opts.RevertBackoff, now)
		if w := p.allowed(now); w > 0 {
			if wait == 0 || w < wait {
				wait = w
			}
			continue
		}
		var err error
		switch a.Kind {
		case ActRevert:
			var e InventoryEntry
			if e, err = c.revert(ctx, writer, desired[a.Object], a, opts); err == nil {
				appliedEntries = append(appliedEntries, e)
			}
		case ActPrune:
			if err = writer.Delete(ctx, a.Object, ""); err == nil {
				pruned = append(pruned, a.Object)
			}
		}
		result := "ok"
		if err != nil {
			result, applied = "error", false
		}
		c.metrics.Reverts.WithLabelValues(result).Inc()
		p.reverted(c.opts.RevertBackoff, now)
		for _, f := range a.Findings {
			fp := report.Fingerprint(source, f)
			inc := incidents[fp]
			if inc == nil {
				continue
			}
			if err != nil {
				notes = append(notes, Notification{Event: EventRevertFailed, Incidents: []*report.Incident{inc}, Detail: err.Error()})
				st.actErr = err.Error()
				continue
			}
			st.fights.record(fp, now)
			inc.State = report.IncidentReverted
			notes = append(notes, Notification{Event: EventReverted, Incidents: []*report.Incident{inc}})
		}
	}
	return wait, notes, applied
}

// revert puts one object back to Git: fields a person added that Git does not declare are
// taken out with an Update at the resourceVersion they were seen at, then the desired object is
// server-side applied as plumbline, forcing conflicts, with the ownership labels.
func (c *Controller) revert(ctx context.Context, writer *Cluster, desired *unstructured.Unstructured, a Action, opts ApplyOptions) (InventoryEntry, error) {
	if desired == nil {
		return InventoryEntry{}, fmt.Errorf("%s: not in the desired state", a.Object)
	}
	var added []string
	for _, f := range a.Findings {
		for _, fl := range f.Fields {
			if fl.Desired == nil {
				added = append(added, fl.Path)
			}
		}
	}
	if len(added) > 0 {
		// Controllers write status all the time: read and write again on a conflict.
		err := retry.OnError(retry.DefaultRetry, apierrors.IsConflict, func() error {
			live, m, err := writer.get(ctx, a.Object)
			if err != nil {
				return err
			}
			without, err := diff.WithoutFields(live, added)
			if err != nil {
				return fmt.Errorf("%s: %w", a.Object, err)
			}
			return writer.update(ctx, m, without)
		})
		if err != nil {
			return InventoryEntry{}, err
		}
	}
	return writer.applyOne(ctx, desired, opts)
}

func (c *Controller) sourceLabelOf(src *v1alpha1.Source) string {
	return sourceLabel(keyOfSource(src))
}

// desiredByRef indexes the desired objects by the reference findings carry (namespace
// defaulted, none for cluster-scoped kinds).
func (c *Controller) desiredByRef(st *sourceState, defaultNamespace string) map[report.ObjectRef]*unstructured.Unstructured {
	out := make(map[report.ObjectRef]*unstructured.Unstructured, len(st.desired))
	for _, o := range st.desired {
		u := o.Object
		ref := refOf(u)
		if m, err := c.cluster.mappingFor(u.GroupVersionKind()); err == nil {
			switch {
			case m.namespaced && ref.Namespace == "":
				ref.Namespace = defaultNamespace
			case !m.namespaced:
				ref.Namespace = ""
			}
		}
		out[ref] = u
	}
	return out
}

// writer returns the Cluster that writes for a Source: impersonating its serviceAccountName, so
// a tenant's Source can never write what its account may not; the controller's own identity
// when it names none.
func (c *Controller) writer(src *v1alpha1.Source) (*Cluster, error) {
	if src.Spec.ServiceAccountName == "" {
		return c.cluster, nil
	}
	user := "system:serviceaccount:" + src.Namespace + ":" + src.Spec.ServiceAccountName
	c.mu.Lock()
	defer c.mu.Unlock()
	if w, ok := c.writers[user]; ok {
		return w, nil
	}
	cfg := rest.CopyConfig(c.config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	w, err := NewCluster(cfg)
	if err != nil {
		return nil, fmt.Errorf("spec.serviceAccountName %s: %w", src.Spec.ServiceAccountName, err)
	}
	w.inventory = c.cluster.inventoryStore() // the inventory is the controller's to write, not the tenant's
	c.writers[user] = w
	return w, nil
}
