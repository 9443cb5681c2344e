package policy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Input is what a rule sees: pure data, filled by the caller.
type Input struct {
	// Object is the object to check: the desired object from Git (before
	// deploy) or the live object (drift into violation). Required.
	Object *unstructured.Unstructured
	// OldObject is the live object when Object is the desired one, else
	// nil. Only CEL reads it, as `oldObject` (null when nil).
	OldObject *unstructured.Unstructured
	// Images are facts about Object's container images, matched to its
	// containers by ImageFacts.Container. Containers without facts get
	// facts derived from their image string; empty fields are filled the
	// same way. nil is fine.
	Images []ImageFacts
	// Now is the time ignore entries' expiry is judged at. Zero is the
	// current time.
	Now time.Time
}

// Violation is one failed rule on one object. It is plain data; the
// reconciler turns it into a PolicyViolation finding.
type Violation struct {
	// Rule is the built-in id or the CEL policy name.
	Rule RuleID
	// Severity is the rule's severity in force (default or re-graded).
	Severity Severity
	// Message says what is wrong, e.g. "Use of 'latest' tag is disallowed."
	Message string
	// Container names the offending container; "" for pod-level findings
	// and CEL policies.
	Container string
	// Path is the offending field in structured-merge-diff notation
	// (`.spec.template.spec.containers[name="web"].image`); "" for CEL
	// policies.
	Path string
	// Builtin is true for built-in rules, false for CEL policies.
	Builtin bool
}

// Engine evaluates one policy set. NewEngine compiles everything once;
// Evaluate reuses the compiled programs. An Engine is safe for concurrent
// use; its only mutable state is a bounded cache of parsed image references.
// The zero Engine is not usable: build one with NewEngine.
type Engine struct {
	builtins []activeBuiltin
	params   builtinParams
	celVars  map[string]any // params as CEL sees it, never nil
	policies []compiledPolicy
	refs     *refCache
}

type activeBuiltin struct {
	builtin
	severity Severity
}

// NewEngine validates and compiles ps. A nil ps is the built-in baseline
// with default severities and enablement and no params (so
// restrict-registries enforces nothing). Errors name the file, the policy,
// the expression and the position; see ParsePolicySet for the checks it
// shares with parsing, which it repeats for hand-built sets.
func NewEngine(ps *PolicySet) (*Engine, error) {
	if ps == nil {
		ps = &PolicySet{}
	}
	file := ps.File
	if file == "" {
		file = "<policy>"
	}
	e := &Engine{celVars: ps.Params, refs: &refCache{}}
	if e.celVars == nil {
		e.celVars = map[string]any{}
	}
	params, err := parseBuiltinParams(ps.Params)
	if err != nil {
		return nil, fmt.Errorf("%s: spec.params.%w", file, err)
	}
	e.params = params
	for id, cfg := range ps.Builtins {
		if !isBuiltinID(id) {
			return nil, fmt.Errorf("%s: spec.builtins.%s: unknown built-in rule", file, id)
		}
		if cfg.Severity != "" && !cfg.Severity.Valid() {
			return nil, fmt.Errorf("%s: spec.builtins.%s.severity: unknown severity %q", file, id, cfg.Severity)
		}
	}
	for _, b := range builtins {
		cfg := ps.Builtins[b.info.ID]
		enabled, sev := b.info.Enabled, b.info.Severity
		if cfg.Enabled != nil {
			enabled = *cfg.Enabled
		}
		if cfg.Severity != "" {
			sev = cfg.Severity
		}
		if enabled {
			e.builtins = append(e.builtins, activeBuiltin{builtin: b, severity: sev})
		}
	}
	e.policies, err = compilePolicies(file, ps.Policies)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// parseBuiltinParams validates and normalises what built-ins read from
// spec.params. Errors start with the field name below params.
func parseBuiltinParams(params map[string]any) (builtinParams, error) {
	var p builtinParams
	vp, err := parseVulnParams(params)
	if err != nil {
		return p, err
	}
	p.vulns = vp
	raw, ok := params["allowedRegistries"]
	if !ok || raw == nil {
		return p, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return p, fmt.Errorf("allowedRegistries: want a list of registry prefixes")
	}
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			return p, fmt.Errorf("allowedRegistries[%d]: want a string", i)
		}
		norm, err := normaliseRegistryPrefix(s)
		if err != nil {
			return p, fmt.Errorf("allowedRegistries[%d]: %w", i, err)
		}
		p.allowedRegistries = append(p.allowedRegistries, norm)
	}
	return p, nil
}

// Rules describes the rules this engine runs, built-ins first, with the
// severities in force. Disabled built-ins are listed with Enabled false.
func (e *Engine) Rules() []RuleInfo {
	var out []RuleInfo
	for _, b := range builtins {
		info := b.info
		info.Enabled = false
		for _, a := range e.builtins {
			if a.info.ID == info.ID {
				info.Enabled, info.Severity = true, a.severity
			}
		}
		out = append(out, info)
	}
	for _, p := range e.policies {
		out = append(out, RuleInfo{ID: RuleID(p.name), Severity: p.severity, Enabled: true, NeedsImageFacts: p.readsImages()})
	}
	return out
}

// Evaluate runs every enabled built-in (on workloads only) and every CEL
// policy whose match selects in.Object. Violations come in a stable order:
// built-ins in Builtins order, then policies in file order; within a rule,
// pod-level findings, then containers in initContainers, containers,
// ephemeralContainers order.
//
// A CEL evaluation error (a missing field, a wrong type, the cost limit) is
// never a pass: it is returned, naming the object, policy and expression,
// joined with any others. The violations of the rules that did evaluate are
// returned alongside it, so that one broken policy does not hide the rest.
//
// CEL evaluation is bounded three ways: each expression by CostLimit (size-aware costs, as
// kube-apiserver charges them), all the policies of the set on one object by
// PolicySetCostLimit, and the wall time by ctx, which is checked while expressions run. A
// validation stopped by any of them is an error naming it; so is each one left unevaluated.
func (e *Engine) Evaluate(ctx context.Context, in Input) ([]Violation, error) {
	if in.Object == nil {
		return nil, errors.New("policy: Evaluate: Input.Object is nil")
	}
	var out []Violation
	spec, specPath, isWorkload := podSpecOf(in.Object)
	var pod *podView
	if isWorkload {
		pod = newPodView(spec, specPath)
		pod.now = in.Now
		if pod.now.IsZero() {
			pod.now = time.Now()
		}
		pod.attachFacts(in.Images, e.refs)
		var findings []finding
		for _, b := range e.builtins {
			findings = b.check(pod, &e.params, findings[:0])
			for _, f := range findings {
				out = append(out, Violation{Rule: b.info.ID, Severity: b.severity, Message: f.message,
					Container: f.container, Path: f.path, Builtin: true})
			}
		}
	}
	cv, err := e.evaluatePolicies(ctx, in, spec, pod)
	return append(out, cv...), err
}

// objectRef names an object in errors: Kind/namespace/name or Kind/name.
func objectRef(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return obj.GetKind() + "/" + ns + "/" + obj.GetName()
	}
	return obj.GetKind() + "/" + obj.GetName()
}
