package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	admv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NamespaceNameLabel is the label the API server sets on every Namespace to its name; the
// bindings select the namespaces of a Source by it.
const NamespaceNameLabel = "kubernetes.io/metadata.name"

// AdmissionOptions say how Engine.Admission and Guard name and bind what they render.
type AdmissionOptions struct {
	// Name starts the name of every policy and binding ("plumbline.shop.apps" gives
	// "plumbline.shop.apps.disallow-privileged"). Required; lower-cased and cut to fit.
	Name string
	// Namespaces are the namespaces the bindings select (by NamespaceNameLabel). Required
	// unless ClusterWide.
	Namespaces []string
	// ClusterWide binds to every namespace and to cluster-scoped objects. Default false: a
	// binding never reaches beyond Namespaces, so a baseline cannot lock out kube-system,
	// and a policy rule skips cluster-scoped objects other than Namespaces.
	ClusterWide bool
	// Actions are the bindings' validationActions. Default: Deny.
	Actions []admv1.ValidationAction
	// Labels are put on every policy and binding (the reconciler finds its own by them).
	Labels map[string]string
}

// AdmissionPolicy is one rendered rule: its policy and the binding that puts it in force.
type AdmissionPolicy struct {
	// Rule is the built-in id or CEL policy name; "" for the guard.
	Rule    RuleID
	Policy  admv1.ValidatingAdmissionPolicy
	Binding admv1.ValidatingAdmissionPolicyBinding
	// Bindings are further bindings of Policy (the guard's scale binding).
	Bindings []admv1.ValidatingAdmissionPolicyBinding
}

// NotRendered is an enabled rule that has no admission policy, and why.
type NotRendered struct {
	Rule   RuleID
	Reason string
}

// Admission is what Engine.Admission renders.
type Admission struct {
	// Policies are the rendered rules, built-ins first, in Rules order.
	Policies []AdmissionPolicy
	// NotRendered are the enabled rules left out, each with its reason: never silently.
	NotRendered []NotRendered
}

// Admission renders every enabled rule of the engine as a ValidatingAdmissionPolicy with its
// binding: the same verdicts and messages (followed by "[rule, severity]"), on the same
// kinds, for CREATE and UPDATE. A rule that needs image facts (RuleInfo.NeedsImageFacts), or
// a built-in without a CEL translation, is listed in NotRendered instead; so is a CEL policy
// whose expressions cannot be rewritten. Custom policies' params are inlined as
// variables.params. The result is plain data; nothing is sent anywhere.
func (e *Engine) Admission(opts AdmissionOptions) (*Admission, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	out := &Admission{}
	for _, b := range e.builtins {
		translate, ok := admissionBuiltins[b.info.ID]
		switch {
		case b.info.NeedsImageFacts:
			out.NotRendered = append(out.NotRendered, NotRendered{b.info.ID,
				"it needs image facts (digests, image contents) from Git or a registry, which the API server does not have"})
			continue
		case !ok:
			out.NotRendered = append(out.NotRendered, NotRendered{b.info.ID, "it has no admission translation"})
			continue
		}
		checks := translate(&e.params)
		if len(checks) == 0 {
			continue // restrict-registries without allowedRegistries enforces nothing
		}
		suffix := " [" + string(b.info.ID) + ", " + string(b.severity) + "]"
		vals := make([]admv1.Validation, len(checks))
		for i, c := range checks {
			vals[i] = c.validation(suffix)
		}
		out.Policies = append(out.Policies, opts.policy(b.info.ID, builtinMatch(), nil, builtinVariables(), vals, metav1.StatusReasonInvalid))
	}
	for i := range e.policies {
		p := &e.policies[i]
		if p.readsImages() {
			out.NotRendered = append(out.NotRendered, NotRendered{RuleID(p.name), "it reads images: " + strings.TrimPrefix(errNeedsImages.Error(), "it reads images: ")})
			continue
		}
		vals, err := celPolicyValidations(p)
		if err != nil {
			out.NotRendered = append(out.NotRendered, NotRendered{RuleID(p.name), err.Error()})
			continue
		}
		match, conds, err := celPolicyMatch(p.match)
		if err != nil {
			return nil, fmt.Errorf("policy %q: match: %w", p.name, err)
		}
		params, err := json.Marshal(e.celVars)
		if err != nil {
			return nil, fmt.Errorf("policy %q: params: %w", p.name, err)
		}
		vars := []admv1.Variable{
			{Name: "params", Expression: "dyn(" + string(params) + ")"},
			{Name: "podSpec", Expression: podSpecExpression()},
		}
		out.Policies = append(out.Policies, opts.policy(RuleID(p.name), match, conds, vars, vals, metav1.StatusReasonInvalid))
	}
	return out, nil
}

func (o *AdmissionOptions) check() error {
	if o.Name == "" {
		return fmt.Errorf("admission: a name is required")
	}
	if !o.ClusterWide && len(o.Namespaces) == 0 {
		return fmt.Errorf("admission: no namespaces to bind to (the objects declare none); bind cluster-wide only on purpose")
	}
	return nil
}

// policy assembles one rule's policy and binding.
func (o *AdmissionOptions) policy(rule RuleID, match admv1.MatchResources, conds []admv1.MatchCondition,
	vars []admv1.Variable, vals []admv1.Validation, reason metav1.StatusReason) AdmissionPolicy {
	name := objectName(o.Name, string(rule))
	if !o.ClusterWide {
		// A namespaceSelector never skips cluster-scoped objects; Namespaces have their own
		// name as request.namespace, which the selector then checks.
		conds = append([]admv1.MatchCondition{{Name: "namespaced", Expression: "request.?namespace.orValue('') != ''"}}, conds...)
	}
	for i := range vals {
		r := reason
		vals[i].Reason = &r
	}
	fail := admv1.Fail
	defaultSelectors(&match)
	p := admv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: o.labels(), Annotations: map[string]string{AnnotationRule: string(rule)}},
		Spec: admv1.ValidatingAdmissionPolicySpec{
			FailurePolicy:    &fail,
			MatchConstraints: &match,
			MatchConditions:  conds,
			Variables:        vars,
			Validations:      vals,
		},
	}
	return AdmissionPolicy{Rule: rule, Policy: p, Binding: o.binding(name, name, nil)}
}

// AnnotationRule names, on each rendered policy, the rule it enforces.
const AnnotationRule = "plumbline.dev/rule"

func (o *AdmissionOptions) binding(name, policyName string, match *admv1.MatchResources) admv1.ValidatingAdmissionPolicyBinding {
	actions := o.Actions
	if len(actions) == 0 {
		actions = []admv1.ValidationAction{admv1.Deny}
	}
	if !o.ClusterWide {
		if match == nil {
			match = &admv1.MatchResources{}
		}
		match.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key: NamespaceNameLabel, Operator: metav1.LabelSelectorOpIn, Values: sortedUnique(o.Namespaces),
		}}}
	}
	if match != nil {
		defaultSelectors(match)
	}
	return admv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: o.labels()},
		Spec: admv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policyName,
			ValidationActions: slices.Clone(actions),
			MatchResources:    match,
		},
	}
}

func (o *AdmissionOptions) labels() map[string]string {
	if len(o.Labels) == 0 {
		return nil
	}
	out := make(map[string]string, len(o.Labels))
	for k, v := range o.Labels {
		out[k] = v
	}
	return out
}

func sortedUnique(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

var nameUnsafe = regexp.MustCompile(`[^a-z0-9.-]+`)

// objectName joins prefix and rule into a DNS subdomain of at most 253 characters. A rule
// name that had to be changed (or cut) gets a hash of the original, so two rules never share
// a name.
func objectName(prefix, rule string) string {
	clean := func(s string) string {
		return strings.Trim(nameUnsafe.ReplaceAllString(strings.ToLower(s), "-"), ".-")
	}
	p, r := clean(prefix), clean(rule)
	if rule != "" && r != rule {
		sum := sha256.Sum256([]byte(rule))
		r += "-" + hex.EncodeToString(sum[:4])
	}
	name := p
	if r != "" {
		name = p + "." + r
	}
	if len(name) > 253 {
		sum := sha256.Sum256([]byte(prefix + "/" + rule))
		name = strings.TrimRight(name[:240], ".-") + "-" + hex.EncodeToString(sum[:6])
	}
	return name
}

// defaultSelectors sets what the API server defaults (empty selectors, the Equivalent match
// policy), so that a rendered object reads as the server stores it.
func defaultSelectors(m *admv1.MatchResources) {
	if m.NamespaceSelector == nil {
		m.NamespaceSelector = &metav1.LabelSelector{}
	}
	if m.ObjectSelector == nil {
		m.ObjectSelector = &metav1.LabelSelector{}
	}
	if m.MatchPolicy == nil {
		eq := admv1.Equivalent
		m.MatchPolicy = &eq
	}
}
