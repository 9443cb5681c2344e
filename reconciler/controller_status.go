package reconciler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/report"
)

// maxStatusIncidents bounds the incidents kept in a Source's status (the CRD allows 1,000).
const maxStatusIncidents = 500

func keyOfSource(src *v1alpha1.Source) types.NamespacedName {
	return types.NamespacedName{Namespace: src.Namespace, Name: src.Name}
}

// writeStatus records what one pass saw: readiness, drift, revisions, finding counts and the
// open incidents. It is the only writer of a Source's status.
func (c *Controller) writeStatus(ctx context.Context, src *v1alpha1.Source, st *sourceState, rep *report.Report, incidents map[string]*report.Incident, applied bool) error {
	orig := src.DeepCopy()
	s := &src.Status
	s.ObservedGeneration = src.Generation
	s.LastFetchedRevision = st.revision.Revision
	if applied {
		st.appliedRevision = st.revision.Revision
	}
	s.LastAppliedRevision = st.appliedRevision
	s.Findings = map[string]int32{}
	for t, n := range rep.Summary.ByType {
		s.Findings[string(t)] = int32(n)
	}
	s.Incidents = s.Incidents[:0]
	for _, fp := range slices.Sorted(maps.Keys(incidents)) {
		if len(s.Incidents) == maxStatusIncidents {
			break
		}
		inc := incidents[fp]
		msg := ""
		if len(inc.Findings) > 0 {
			msg = truncate(inc.Findings[0].Message, 512)
		}
		s.Incidents = append(s.Incidents, v1alpha1.Incident{
			Fingerprint: fp, Type: string(inc.Type),
			Object: v1alpha1.ObjectReference{APIVersion: inc.Object.APIVersion, Kind: inc.Object.Kind, Namespace: inc.Object.Namespace, Name: inc.Object.Name},
			Paths:  inc.Paths, State: v1alpha1.IncidentState(inc.State), Message: msg,
			FirstSeen: metav1.NewTime(inc.FirstSeen), LastSeen: metav1.NewTime(inc.LastSeen),
			Proposal: proposalToStatus(inc.Proposal),
		})
	}
	ready := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Synced",
		Message:            fmt.Sprintf("%d objects of %s compared; %d findings, %d errors", rep.Summary.Objects, describeRevision(st.revision), rep.Summary.Findings, rep.Summary.Errors),
		ObservedGeneration: src.Generation}
	if st.pollErr != nil {
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, reasonOf(st.pollErr), truncate(st.pollErr.Error(), 2048)
	}
	if p := c.slackProblem(keyOfSource(src)); p != "" {
		ready.Message = truncate(ready.Message+"; Slack: "+p, 2048)
	}
	apimeta.SetStatusCondition(&s.Conditions, ready)
	drifted := metav1.Condition{Type: v1alpha1.ConditionDrifted, Status: metav1.ConditionFalse, Reason: "NoDrift",
		Message: "the cluster matches Git", ObservedGeneration: src.Generation}
	if len(incidents) > 0 {
		drifted.Status, drifted.Reason = metav1.ConditionTrue, "DriftDetected"
		drifted.Message = fmt.Sprintf("%d open incidents", len(incidents))
	}
	if st.actErr != "" {
		drifted.Reason = "RevertFailed"
		drifted.Message = truncate(drifted.Message+"; revert failed: "+st.actErr, 2048)
	}
	apimeta.SetStatusCondition(&s.Conditions, drifted)
	st.admissionCondition(&s.Conditions)
	c.metrics.findings(keyOfSource(src).String(), rep)
	return c.saveStatus(ctx, src, orig, st)
}

// saveStatus writes src.Status when it differs from what was last written. The cached Source a
// reconcile starts from may lag behind the last write, so the status is written whole with an
// Update, re-read from the API server on a conflict: never a patch against a stale base. An
// unchanged status costs no request.
func (c *Controller) saveStatus(ctx context.Context, src, orig *v1alpha1.Source, st *sourceState) error {
	status := *src.Status.DeepCopy()
	// Only the controller writes a Source's status: what it wrote last is what is there, even
	// while the cache still shows an older one.
	if st.written != nil && apiequality.Semantic.DeepEqual(*st.written, status) {
		return nil
	}
	key := keyOfSource(src)
	obj := src.DeepCopy()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj.Status = *status.DeepCopy()
		err := c.client.Status().Update(ctx, obj)
		if apierrors.IsConflict(err) {
			if getErr := c.reader.Get(ctx, key, obj); getErr != nil {
				return getErr
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("Source %s: write status: %w", key, err)
	}
	st.written = &status
	return nil
}

// writeFailedStatus records a Source that has no good desired state yet.
func (c *Controller) writeFailedStatus(ctx context.Context, src *v1alpha1.Source, st *sourceState) error {
	if st.pollErr == nil {
		return nil
	}
	key := keyOfSource(src)
	if msg := st.pollErr.Error(); msg != st.announcedErr {
		st.announcedErr = msg
		c.notify(ctx, st, Notification{Event: EventSourceFailed, Source: key.String(), Revision: st.revision, Detail: msg})
		c.event(src, "Warning", "SourceFailed", msg)
	}
	orig := src.DeepCopy()
	src.Status.ObservedGeneration = src.Generation
	apimeta.SetStatusCondition(&src.Status.Conditions, metav1.Condition{
		Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reasonOf(st.pollErr),
		Message: truncate(st.pollErr.Error(), 2048), ObservedGeneration: src.Generation,
	})
	return c.saveStatus(ctx, src, orig, st)
}

func reasonOf(err error) string {
	var pe *pollError
	if errors.As(err, &pe) {
		return pe.reason
	}
	return "CompareFailed"
}

func describeRevision(s report.Source) string {
	if s.Revision == "" {
		return s.Repo
	}
	return s.Repo + "@" + shortRevision(s.Revision)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// event records an Event on the Source.
func (c *Controller) event(src *v1alpha1.Source, kind, reason, note string) {
	if c.opts.Recorder != nil {
		c.opts.Recorder.Eventf(src, nil, kind, reason, "Reconcile", "%s", truncate(note, 1024))
	}
}

// objectEvent records the Event of a notification on one drifted object, with the messages of
// all its incidents.
func (c *Controller) objectEvent(n Notification, obj report.ObjectRef, incs []*report.Incident) {
	if c.opts.Recorder == nil {
		return
	}
	reason, kind := eventReason(n.Event, incs[0].Type), "Warning"
	switch n.Event {
	case EventOpened:
	case EventEvicted:
		kind = "Normal"
	case EventReverted:
		reason, kind = "DriftReverted", "Normal"
	case EventRevertFailed:
		reason = "RevertFailed"
	case EventFight:
		reason = "FightDetected"
	case EventResolved:
		reason, kind = "DriftResolved", "Normal"
	default:
		return
	}
	var notes []string
	if n.Detail != "" {
		notes = append(notes, n.Detail)
	}
	for _, inc := range incs {
		if n.Detail == "" && len(inc.Findings) > 0 {
			notes = append(notes, inc.Findings[0].Message)
		}
	}
	if len(notes) == 0 {
		notes = append(notes, string(incs[0].Type))
	}
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(obj.APIVersion)
	u.SetKind(obj.Kind)
	u.SetNamespace(obj.Namespace)
	u.SetName(obj.Name)
	c.opts.Recorder.Eventf(u, nil, kind, reason, "Reconcile", "%s (source %s)", truncate(strings.Join(notes, "; "), 1000), n.Source)
}
