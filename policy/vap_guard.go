package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	admv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GuardOptions describe the managed-object guard of one Source.
type GuardOptions struct {
	AdmissionOptions
	// Source, Repo and Path are what the message names: "Deployment shop/web is managed by
	// Plumbline (source apps, repo platform/apps, path overlays/prod). Change it in Git, or ask
	// for break-glass." Repo must carry no credentials.
	Source, Repo, Path string
	// LabelKey and LabelValue are the ownership label of the Source's objects. Required.
	LabelKey, LabelValue string
	// Users may change and delete the Source's objects: the controller's own identity, the
	// service account it impersonates for the Source, the cluster's own controllers.
	Users []string
	// BreakGlassGroups may change them too (the change is still drift, and reported).
	BreakGlassGroups []string
	// ScaleUsers may change them through the scale subresource only (.spec.replicas), e.g.
	// the HorizontalPodAutoscaler's service account.
	ScaleUsers []string
	// Scaled are the names of the Source's objects that have a scale subresource, by
	// resource (deployments, statefulsets, replicasets, replicationcontrollers). A Scale
	// carries no labels, so a second binding selects these by name.
	Scaled map[string][]string
}

// ScaleResources are the built-in resources with a scale subresource, by API group.
var ScaleResources = map[string][]string{
	"":     {"replicationcontrollers"},
	"apps": {"deployments", "replicasets", "statefulsets"},
}

// Guard renders the managed-object guard: UPDATE (PATCH too) and DELETE of an object that
// carries the Source's ownership label, or of the scale of one, are refused unless they come
// from Users, BreakGlassGroups, or for a scale from ScaleUsers. Dry runs pass (they change
// nothing, and diffs are made of them). CREATE is not guarded: a new object is not yet managed.
func Guard(o GuardOptions) (AdmissionPolicy, error) {
	if err := o.check(); err != nil {
		return AdmissionPolicy{}, err
	}
	if o.LabelKey == "" || o.LabelValue == "" {
		return AdmissionPolicy{}, fmt.Errorf("guard: the ownership label is required")
	}
	name := objectName(o.Name, "guard")
	ops := []admv1.OperationType{admv1.Update, admv1.Delete}
	resources := []string{"*"}
	for _, g := range slices.Sorted(maps.Keys(ScaleResources)) {
		for _, r := range ScaleResources[g] {
			resources = append(resources, r+"/scale")
		}
	}
	match := admv1.MatchResources{ResourceRules: []admv1.NamedRuleWithOperations{{RuleWithOperations: admv1.RuleWithOperations{
		Operations: ops, Rule: admv1.Rule{APIGroups: []string{"*"}, APIVersions: []string{"*"}, Resources: resources},
	}}}}
	allowed := []string{
		// A dry run changes nothing; kubectl diff and plumbline diff are dry runs.
		"request.?dryRun.orValue(false) == true",
		"request.userInfo.username in " + celStringList(sortedUnique(o.Users)),
		"request.userInfo.?groups.orValue([]).exists(g, g in " + celStringList(sortedUnique(o.BreakGlassGroups)) + ")",
		"request.?subResource.orValue('') == 'scale' && request.userInfo.username in " + celStringList(sortedUnique(o.ScaleUsers)),
	}
	kinds := map[string]string{"deployments": "Deployment", "replicasets": "ReplicaSet", "statefulsets": "StatefulSet",
		"replicationcontrollers": "ReplicationController"}
	var kindMap []string
	for _, r := range slices.Sorted(maps.Keys(kinds)) {
		kindMap = append(kindMap, celString(r)+": "+celString(kinds[r]))
	}
	what := fmt.Sprintf("(request.?subResource.orValue('') == 'scale' ? {%s}[?request.resource.resource].orValue(request.kind.kind) : request.kind.kind) + ' ' + "+
		"(request.?namespace.orValue('') != '' && request.kind.kind != 'Namespace' ? request.namespace + '/' : '') + request.?name.orValue('')",
		strings.Join(kindMap, ", "))
	tail := fmt.Sprintf(" is managed by Plumbline (source %s, repo %s, path %s). Change it in Git, or ask for break-glass.", o.Source, o.Repo, o.Path)
	reason := metav1.StatusReasonForbidden
	fail := admv1.Fail
	defaultSelectors(&match)
	p := admv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: o.labels(), Annotations: map[string]string{AnnotationRule: "guard"}},
		Spec: admv1.ValidatingAdmissionPolicySpec{
			FailurePolicy:    &fail,
			MatchConstraints: &match,
			Validations: []admv1.Validation{{
				Expression:        strings.Join(allowed, " || "),
				Message:           "This object is managed by Plumbline" + tail[len(" is managed by Plumbline"):],
				MessageExpression: what + " + " + celString(tail),
				Reason:            &reason,
			}},
		},
	}
	labelled := o.binding(name, name, &admv1.MatchResources{ObjectSelector: &metav1.LabelSelector{
		MatchLabels: map[string]string{o.LabelKey: o.LabelValue}}})
	out := AdmissionPolicy{Policy: p, Binding: labelled}
	var scaleRules []admv1.NamedRuleWithOperations
	for _, g := range slices.Sorted(maps.Keys(ScaleResources)) {
		for _, r := range ScaleResources[g] {
			names := sortedUnique(o.Scaled[r])
			if len(names) == 0 {
				continue
			}
			scaleRules = append(scaleRules, admv1.NamedRuleWithOperations{ResourceNames: names, RuleWithOperations: admv1.RuleWithOperations{
				Operations: []admv1.OperationType{admv1.Update},
				Rule:       admv1.Rule{APIGroups: []string{g}, APIVersions: []string{"*"}, Resources: []string{r + "/scale"}},
			}})
		}
	}
	if len(scaleRules) > 0 {
		out.Bindings = append(out.Bindings, o.binding(objectName(o.Name, "guard-scale"), name, &admv1.MatchResources{ResourceRules: scaleRules}))
	}
	return out, nil
}
