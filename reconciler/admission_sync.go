package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/policy"
)

var (
	gvrPolicy  = admv1.SchemeGroupVersion.WithResource("validatingadmissionpolicies")
	gvrBinding = admv1.SchemeGroupVersion.WithResource("validatingadmissionpolicybindings")
)

// admissionTimeout bounds one sync of a Source's admission policies, so that a slow API server
// never holds a reconcile for long.
const admissionTimeout = 30 * time.Second

// admissionState is what the controller remembers of a Source's admission policies.
type admissionState struct {
	// applied is the fingerprint of the set in force; tried that of the last set the API
	// server refused, so that it is not sent again until it changes.
	applied, tried string
	// scope is the revision and generation last synced (memoScope), so that a reconcile
	// with nothing new renders nothing.
	scope string
	// cond is the Prevented condition; nil while prevent is off.
	cond *metav1.Condition
}

// syncAdmission keeps the Source's admission policies as spec.prevent, the last good desired
// state and its policy say: nothing when unchanged; every object dry-run first, and nothing
// changed when the API server refuses one (the last good policies stay in force, the condition
// names the rule and the server's message); then applied, and the ones no longer rendered
// deleted. With prevent off it removes them and the finalizer.
func (c *Controller) syncAdmission(ctx context.Context, src *v1alpha1.Source, st *sourceState) {
	ctx, cancel := context.WithTimeout(ctx, admissionTimeout)
	defer cancel()
	key := keyOfSource(src)
	label := sourceLabel(key)
	actions := actionsOf(src.Spec.Prevent)
	if actions == nil {
		if st.admission.cond == nil && !controllerutil.ContainsFinalizer(src, FinalizerAdmission) {
			return
		}
		if err := c.deleteAdmission(ctx, label, nil); err != nil {
			c.opts.Log.Error("admission: remove policies", "source", key.String(), "err", err)
			return
		}
		if err := c.setFinalizer(ctx, src, false); err != nil {
			c.opts.Log.Error("admission: remove finalizer", "source", key.String(), "err", err)
			return
		}
		st.admission = admissionState{}
		return
	}
	scope := memoScope(st, src)
	if scope == st.admission.scope && st.admission.cond != nil {
		return
	}
	fail := func(reason, msg string) {
		st.admission.cond = &metav1.Condition{Type: v1alpha1.ConditionPrevented, Status: metav1.ConditionFalse,
			Reason: reason, Message: truncate(msg, 2048), ObservedGeneration: src.Generation}
	}
	if c.opts.Admission.Identity == "" {
		fail("NoIdentity", "the controller's own identity is unknown, so a guard would refuse its reverts; start it where a SelfSubjectReview works")
		return
	}
	objs := make([]*unstructured.Unstructured, len(st.desired))
	for i, o := range st.desired {
		objs[i] = o.Object
	}
	set, err := RenderAdmission(st.engine, AdmissionSpec{
		Source: key, Repo: st.revision.Repo, Path: st.revision.Path, Actions: actions,
		Objects: objs, NamespaceOf: c.namespaceOf(src.Namespace), Guard: true, Rules: true,
		Config: c.opts.Admission, ServiceAccount: src.Spec.ServiceAccountName,
	})
	if err != nil {
		fail("RenderFailed", err.Error())
		return
	}
	fingerprint, err := fingerprintOf(set)
	if err != nil {
		fail("RenderFailed", err.Error())
		return
	}
	if fingerprint == st.admission.applied || fingerprint == st.admission.tried {
		st.admission.scope = scope
		return
	}
	if !controllerutil.ContainsFinalizer(src, FinalizerAdmission) {
		if err := c.setFinalizer(ctx, src, true); err != nil {
			fail("ApplyFailed", "adding the finalizer: "+err.Error())
			return
		}
	}
	objects, err := admissionObjects(set)
	if err != nil {
		fail("RenderFailed", err.Error())
		return
	}
	// Dry-run everything first: one refused rule changes nothing.
	for _, o := range objects {
		if err := c.applyAdmissionObject(ctx, o.obj, true); err != nil {
			st.admission.tried, st.admission.scope = fingerprint, scope
			msg := fmt.Sprintf("the API server refused the policy of rule %s: %s", o.rule, serverMessage(err))
			fail("PolicyRefused", msg+"; the policies in force are unchanged")
			c.event(src, "Warning", "AdmissionRefused", msg)
			c.opts.Log.Warn("admission: policy refused", "source", key.String(), "rule", o.rule, "err", err)
			return
		}
	}
	keep := map[string]bool{}
	for _, o := range objects {
		if err := c.applyAdmissionObject(ctx, o.obj, false); err != nil {
			fail("ApplyFailed", fmt.Sprintf("rule %s: %v", o.rule, err))
			return
		}
		keep[o.obj.GetKind()+"/"+o.obj.GetName()] = true
	}
	if err := c.deleteAdmission(ctx, label, keep); err != nil {
		fail("ApplyFailed", err.Error())
		return
	}
	st.admission.applied, st.admission.tried, st.admission.scope = fingerprint, "", scope
	msg := fmt.Sprintf("%d admission policies in force (%s)", len(set.Policies), src.Spec.Prevent)
	if len(set.NotRendered) > 0 {
		var parts []string
		for _, n := range set.NotRendered {
			parts = append(parts, string(n.Rule)+": "+n.Reason)
		}
		msg += "; not rendered: " + strings.Join(parts, "; ")
	}
	st.admission.cond = &metav1.Condition{Type: v1alpha1.ConditionPrevented, Status: metav1.ConditionTrue,
		Reason: "PoliciesApplied", Message: truncate(msg, 2048), ObservedGeneration: src.Generation}
}

// admissionCondition puts the Prevented condition into a status being written.
func (st *sourceState) admissionCondition(conds *[]metav1.Condition) {
	if st.admission.cond == nil {
		apimeta.RemoveStatusCondition(conds, v1alpha1.ConditionPrevented)
		return
	}
	apimeta.SetStatusCondition(conds, *st.admission.cond)
}

type admissionObject struct {
	rule policy.RuleID
	obj  *unstructured.Unstructured
}

// admissionObjects lists the policies and bindings of a set as unstructured objects, each
// policy before its bindings.
func admissionObjects(set *policy.Admission) ([]admissionObject, error) {
	var out []admissionObject
	add := func(rule policy.RuleID, obj any) error {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{Object: m}
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(u.Object, "status")
		out = append(out, admissionObject{rule: rule, obj: u})
		return nil
	}
	for i := range set.Policies {
		p := &set.Policies[i]
		rule := p.Rule
		if rule == "" {
			rule = "guard"
		}
		if err := add(rule, &p.Policy); err != nil {
			return nil, err
		}
		if err := add(rule, &p.Binding); err != nil {
			return nil, err
		}
		for j := range p.Bindings {
			if err := add(rule, &p.Bindings[j]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func fingerprintOf(set *policy.Admission) (string, error) {
	data, err := json.Marshal(set)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

func gvrOf(u *unstructured.Unstructured) schema.GroupVersionResource {
	if u.GetKind() == "ValidatingAdmissionPolicy" {
		return gvrPolicy
	}
	return gvrBinding
}

// applyAdmissionObject server-side applies one policy or binding as field manager plumbline.
func (c *Controller) applyAdmissionObject(ctx context.Context, u *unstructured.Unstructured, dryRun bool) error {
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err := c.cluster.dynamic.Resource(gvrOf(u)).Apply(ctx, u.GetName(), u, opts)
	return err
}

// deleteAdmission deletes the Source's policies and bindings (by LabelAdmissionFor) except
// those in keep ("Kind/name"): bindings first, so that no binding points at a missing policy.
func (c *Controller) deleteAdmission(ctx context.Context, label string, keep map[string]bool) error {
	var errs []error
	for _, gvr := range []schema.GroupVersionResource{gvrBinding, gvrPolicy} {
		list, err := c.cluster.dynamic.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: LabelAdmissionFor + "=" + label})
		if err != nil {
			errs = append(errs, fmt.Errorf("list %s: %w", gvr.Resource, err))
			continue
		}
		for _, item := range list.Items {
			if keep[item.GetKind()+"/"+item.GetName()] || keep[kindOfList(gvr)+"/"+item.GetName()] {
				continue
			}
			err := c.cluster.dynamic.Resource(gvr).Delete(ctx, item.GetName(), metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete %s %s: %w", gvr.Resource, item.GetName(), err))
			}
		}
	}
	return errors.Join(errs...)
}

func kindOfList(gvr schema.GroupVersionResource) string {
	if gvr == gvrPolicy {
		return "ValidatingAdmissionPolicy"
	}
	return "ValidatingAdmissionPolicyBinding"
}

// setFinalizer adds or removes FinalizerAdmission with a merge patch of the finalizers only.
func (c *Controller) setFinalizer(ctx context.Context, src *v1alpha1.Source, on bool) error {
	orig := src.DeepCopy()
	var changed bool
	if on {
		changed = controllerutil.AddFinalizer(src, FinalizerAdmission)
	} else {
		changed = controllerutil.RemoveFinalizer(src, FinalizerAdmission)
	}
	if !changed {
		return nil
	}
	return client.IgnoreNotFound(c.client.Patch(ctx, src, client.MergeFrom(orig)))
}

// finalizeAdmission handles a Source being deleted that holds FinalizerAdmission: it removes
// the Source's policies, then the finalizer. done is false for any other Source.
func (c *Controller) finalizeAdmission(ctx context.Context, src *v1alpha1.Source) (done bool, err error) {
	if src.DeletionTimestamp == nil || !controllerutil.ContainsFinalizer(src, FinalizerAdmission) {
		return false, nil
	}
	if err := c.deleteAdmission(ctx, sourceLabel(keyOfSource(src)), nil); err != nil {
		return true, err
	}
	return true, c.setFinalizer(ctx, src, false)
}

// serverMessage is the API server's message of a refused request, without the status wrapping.
func serverMessage(err error) string {
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		return se.ErrStatus.Message
	}
	return err.Error()
}
