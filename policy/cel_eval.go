package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"
)

// compiledPolicy is a Policy with its programs planned.
type compiledPolicy struct {
	name        string
	severity    Severity
	match       Match
	validations []compiledValidation
}

type compiledValidation struct {
	index   int
	expr    string
	msgExpr string // the messageExpression as written; "" without one
	message string // static message or the default
	prog    cel.Program
	msgProg cel.Program // nil without messageExpression
}

// compilePolicies checks and compiles every policy of a set.
func compilePolicies(file string, policies []Policy) ([]compiledPolicy, error) {
	if len(policies) == 0 {
		return nil, nil
	}
	env, err := celEnvironment()
	if err != nil {
		return nil, fmt.Errorf("policy: building the CEL environment: %w", err)
	}
	seen := map[string]bool{}
	out := make([]compiledPolicy, 0, len(policies))
	for i, p := range policies {
		where := fmt.Sprintf("%s: spec.policies[%d]", file, i)
		if p.Line > 0 {
			where = fmt.Sprintf("%s:%d: spec.policies[%d]", file, p.Line, i)
		}
		if err := checkPolicyName(p.Name); err != nil {
			return nil, fmt.Errorf("%s.name: %w", where, err)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("%s.name: policy %q is defined twice", where, p.Name)
		}
		seen[p.Name] = true
		cp := compiledPolicy{name: p.Name, severity: p.Severity, match: p.Match}
		if cp.severity == "" {
			cp.severity = SeverityMedium
		} else if !cp.severity.Valid() {
			return nil, fmt.Errorf("%s.severity: unknown severity %q", where, p.Severity)
		}
		for _, g := range p.Match.Namespaces {
			if err := checkGlob(g); err != nil {
				return nil, fmt.Errorf("%s.match.namespaces: %w", where, err)
			}
		}
		if len(p.Validations) == 0 {
			return nil, fmt.Errorf("%s.validations: a policy needs at least one validation", where)
		}
		for j, v := range p.Validations {
			cv, err := compileValidation(env, file, p.Name, j, v)
			if err != nil {
				return nil, err
			}
			cp.validations = append(cp.validations, cv)
		}
		out = append(out, cp)
	}
	return out, nil
}

func compileValidation(env *cel.Env, file, policy string, index int, v Validation) (compiledValidation, error) {
	cv := compiledValidation{index: index, expr: v.Expression, msgExpr: v.MessageExpression, message: v.Message}
	if cv.message == "" {
		cv.message = "failed expression: " + strings.TrimSpace(v.Expression)
	}
	field := fmt.Sprintf("validations[%d]", index)
	if strings.TrimSpace(v.Expression) == "" {
		return cv, fmt.Errorf("%s: policy %q: %s.expression: required", file, policy, field)
	}
	var err error
	cv.prog, err = compileExpr(env, exprSite{file: file, line: v.ExpressionLine, policy: policy,
		field: field + ".expression", expr: v.Expression}, cel.BoolType)
	if err != nil {
		return cv, err
	}
	if v.MessageExpression != "" {
		cv.msgProg, err = compileExpr(env, exprSite{file: file, line: v.MessageExpressionLine, policy: policy,
			field: field + ".messageExpression", expr: v.MessageExpression}, cel.StringType)
	}
	return cv, err
}

// evaluatePolicies runs the CEL policies that match in.Object. spec and pod
// are the object's pod spec and its view, nil for non-workloads.
func (e *Engine) evaluatePolicies(ctx context.Context, in Input, spec map[string]any, pod *podView) ([]Violation, error) {
	var (
		out   []Violation
		errs  []error
		act   *activation
		spent = setBudget{start: time.Now()}
	)
	for i := range e.policies {
		p := &e.policies[i]
		if !p.match.matches(in.Object) {
			continue
		}
		if act == nil {
			act = e.newActivation(in, spec, pod)
		}
		for j := range p.validations {
			v := &p.validations[j]
			if err := ctx.Err(); err != nil {
				errs = append(errs, fmt.Errorf("%s: policy %q: validations[%d]: not evaluated: %w", objectRef(in.Object), p.name, v.index, err))
				continue
			}
			if err := spent.exhausted(); err != nil {
				errs = append(errs, fmt.Errorf("%s: policy %q: validations[%d] %q: %w",
					objectRef(in.Object), p.name, v.index, v.expr, err))
				continue
			}
			msg, failed, cost, err := v.evaluate(ctx, act)
			spent.cost += cost
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: policy %q: validations[%d] %q: %w",
					objectRef(in.Object), p.name, v.index, v.expr, err))
			}
			if failed {
				out = append(out, Violation{Rule: RuleID(p.name), Severity: p.severity, Message: msg})
			}
		}
	}
	return out, errors.Join(errs...)
}

// evaluate runs one validation. failed is true when the expression is
// false. A failing messageExpression still reports the violation (with the
// static message) and returns its error. cost is what both expressions spent.
func (v *compiledValidation) evaluate(ctx context.Context, act interpreter.Activation) (msg string, failed bool, cost uint64, err error) {
	ctx, cancel := context.WithTimeoutCause(ctx, ExpressionTimeout, errExpressionTimeout)
	defer cancel()
	val, det, err := v.prog.ContextEval(ctx, act)
	cost = actualCost(det)
	if err != nil {
		return "", false, cost, evalError(err)
	}
	ok, isBool := val.(types.Bool)
	if !isBool {
		return "", false, cost, fmt.Errorf("evaluated to %s, want bool", val.Type().TypeName())
	}
	if ok {
		return "", false, cost, nil
	}
	if v.msgProg == nil {
		return v.message, true, cost, nil
	}
	mv, det, err := v.msgProg.ContextEval(ctx, act)
	cost += actualCost(det)
	if err != nil {
		return v.message, true, cost, fmt.Errorf("messageExpression: %w", evalError(err))
	}
	s, isString := mv.(types.String)
	if !isString {
		return v.message, true, cost, fmt.Errorf("messageExpression evaluated to %s, want string", mv.Type().TypeName())
	}
	if m := strings.TrimSpace(string(s)); m != "" {
		return m, true, cost, nil
	}
	return v.message, true, cost, nil
}

// actualCost reads what an evaluation spent; an evaluation stopped by the cost limit spent
// at least the limit.
func actualCost(det *cel.EvalDetails) uint64 {
	if det == nil || det.ActualCost() == nil {
		return CostLimit
	}
	return *det.ActualCost()
}

// errExpressionTimeout is the cause of an evaluation stopped by ExpressionTimeout.
var errExpressionTimeout = fmt.Errorf("did not finish within %s", ExpressionTimeout)

func evalError(err error) error {
	if strings.Contains(err.Error(), "cost limit exceeded") {
		return fmt.Errorf("%w (cost limit %d)", err, CostLimit)
	}
	return err
}

// activation binds the CEL variables for one object. It is built once per
// Evaluate and builds `images` only if an expression reads it.
type activation struct {
	vars   [4]any // object, oldObject, params, podSpec
	given  []ImageFacts
	pod    *podView
	refs   *refCache
	images []any // nil until first read
}

func (e *Engine) newActivation(in Input, spec map[string]any, pod *podView) *activation {
	a := &activation{given: in.Images, pod: pod, refs: e.refs}
	a.vars[0] = in.Object.Object
	if in.OldObject != nil {
		a.vars[1] = in.OldObject.Object
	}
	a.vars[2] = e.celVars
	if spec != nil {
		a.vars[3] = spec
	}
	return a
}

// ResolveName implements interpreter.Activation. Absent values are an
// untyped nil, which CEL reads as null.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "object":
		return a.vars[0], true
	case "oldObject":
		return a.vars[1], true
	case "params":
		return a.vars[2], true
	case "podSpec":
		return a.vars[3], true
	case "images":
		if a.images == nil {
			a.images = imagesValue(a.given, a.pod, a.refs)
		}
		return a.images, true
	}
	return nil, false
}

// Parent implements interpreter.Activation; there is none.
func (a *activation) Parent() interpreter.Activation { return nil }

// imagesValue builds the `images` variable: one entry per container of the
// pod spec, then the caller's facts that name no container of it (for
// example images of a custom resource), all completed from their image
// strings.
func imagesValue(given []ImageFacts, pod *podView, refs *refCache) []any {
	out := make([]any, 0, len(given))
	used := make(map[string]bool)
	if pod != nil {
		for i := range pod.containers {
			c := &pod.containers[i]
			out = append(out, factsValue(c.facts))
			used[c.name] = true
		}
	}
	for _, f := range given {
		if !used[f.Container] {
			f, _ = completeFacts(f, f.Container, f.Image, refs.parse)
			out = append(out, factsValue(f))
		}
	}
	return out
}

func factsValue(f ImageFacts) map[string]any {
	running := make([]any, len(f.Running))
	for i, r := range f.Running {
		running[i] = r
	}
	return map[string]any{
		"container":  f.Container,
		"image":      f.Image,
		"registry":   f.Registry,
		"repository": f.Repository,
		"tag":        f.Tag,
		"digest":     f.Digest,
		"approved":   f.Approved,
		"resolved":   f.Resolved,
		"running":    running,
	}
}
