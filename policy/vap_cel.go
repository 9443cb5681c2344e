package policy

import (
	"fmt"
	"slices"
	"strings"

	celast "github.com/google/cel-go/common/ast"
	admv1 "k8s.io/api/admissionregistration/v1"
)

// Plumbline's CEL variables that a ValidatingAdmissionPolicy does not have under the same name.
// object and oldObject mean the same in both (the object to check, and the live one before
// the change or null); params and podSpec become VAP variables (variables.params,
// variables.podSpec); images has no admission counterpart: it carries what only a registry
// or Git knows.
const (
	celVarParams  = "params"
	celVarPodSpec = "podSpec"
	celVarImages  = "images"
)

// identUses returns, for each of names that expr reads as a free identifier, the rune offsets
// of its uses. A comprehension variable that shadows one of names is an error: the expression
// could not be rewritten safely.
func identUses(expr string, names ...string) (map[string][]int32, error) {
	env, err := celEnvironment()
	if err != nil {
		return nil, err
	}
	a, iss := env.Parse(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	native := a.NativeRep()
	info := native.SourceInfo()
	uses := map[string][]int32{}
	var shadow string
	celast.PreOrderVisit(native.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.IdentKind:
			name := e.AsIdent()
			if slices.Contains(names, name) {
				if r, ok := info.GetOffsetRange(e.ID()); ok && !slices.Contains(uses[name], r.Start) {
					uses[name] = append(uses[name], r.Start)
				}
			}
		case celast.ComprehensionKind:
			c := e.AsComprehension()
			for _, v := range []string{c.IterVar(), c.IterVar2(), c.AccuVar()} {
				if v != "" && slices.Contains(names, v) {
					shadow = v
				}
			}
		}
	}))
	if shadow != "" {
		return nil, fmt.Errorf("a comprehension variable is named %q, like a policy variable", shadow)
	}
	for _, offs := range uses {
		slices.Sort(offs)
	}
	return uses, nil
}

// rewriteForAdmission rewrites a Plumbline expression for a ValidatingAdmissionPolicy: params
// and podSpec become variables.params and variables.podSpec, the rest of the text is kept as
// written. It fails on an expression that reads images.
func rewriteForAdmission(expr string) (string, error) {
	uses, err := identUses(expr, celVarParams, celVarPodSpec, celVarImages)
	if err != nil {
		return "", err
	}
	if len(uses[celVarImages]) > 0 {
		return "", errNeedsImages
	}
	type edit struct {
		at   int32
		name string
	}
	var edits []edit
	for _, name := range []string{celVarParams, celVarPodSpec} {
		for _, at := range uses[name] {
			edits = append(edits, edit{at, name})
		}
	}
	slices.SortFunc(edits, func(a, b edit) int { return int(b.at - a.at) }) // from the end
	runes := []rune(expr)
	for _, e := range edits {
		end := int(e.at) + len([]rune(e.name))
		if int(e.at) < 0 || end > len(runes) || string(runes[e.at:end]) != e.name {
			return "", fmt.Errorf("cannot locate %s at offset %d", e.name, e.at)
		}
		runes = slices.Concat(runes[:e.at], []rune("variables."+e.name), runes[end:])
	}
	return string(runes), nil
}

var errNeedsImages = fmt.Errorf("it reads images: approved, resolved and running digests come from Git and the registry, which the API server does not have")

// readsImages reports whether an expression of the policy reads the images variable.
func (p *compiledPolicy) readsImages() bool {
	for _, v := range p.validations {
		for _, expr := range []string{v.expr, v.msgExpr} {
			if expr == "" {
				continue
			}
			uses, err := identUses(expr, celVarImages)
			if err != nil || len(uses[celVarImages]) > 0 {
				return true // unparsable cannot happen after compilation; be safe
			}
		}
	}
	return false
}

// celPolicyValidations translates the validations of one CEL policy.
func celPolicyValidations(p *compiledPolicy) ([]admv1.Validation, error) {
	suffix := " [" + p.name + ", " + string(p.severity) + "]"
	var out []admv1.Validation
	for _, v := range p.validations {
		expr, err := rewriteForAdmission(v.expr)
		if err != nil {
			return nil, fmt.Errorf("validations[%d].expression: %w", v.index, err)
		}
		msg := singleLine(v.message) + suffix
		val := admv1.Validation{Expression: expr, Message: msg}
		if v.msgExpr != "" {
			me, err := rewriteForAdmission(v.msgExpr)
			if err != nil {
				return nil, fmt.Errorf("validations[%d].messageExpression: %w", v.index, err)
			}
			// Plumbline trims the result and falls back to the static message when it is
			// empty; so does this, with the rule and severity after it.
			val.MessageExpression = fmt.Sprintf("((%s).trim() == '' ? %s : (%s).trim()) + %s",
				me, celString(singleLine(v.message)), me, celString(suffix))
		}
		out = append(out, val)
	}
	return out, nil
}

// celPolicyMatch translates a policy's Match: API groups into resource rules, kinds and
// namespace globs into match conditions. Plumbline matches kinds by name, which a resource
// rule cannot (it names resources), so rules take every resource of the groups and a
// condition picks the kinds.
func celPolicyMatch(m Match) (admv1.MatchResources, []admv1.MatchCondition, error) {
	groups := []string{"*"}
	if len(m.APIGroups) > 0 && !contains(m.APIGroups, "*") {
		groups = slices.Clone(m.APIGroups)
	}
	resources := []string{"*"}
	if len(m.Kinds) == 0 || contains(m.Kinds, "*") || contains(m.Kinds, "Pod") {
		resources = append(resources, "pods/ephemeralcontainers") // adds containers to a Pod
	}
	mr := admv1.MatchResources{ResourceRules: []admv1.NamedRuleWithOperations{{RuleWithOperations: admv1.RuleWithOperations{
		Operations: []admv1.OperationType{admv1.Create, admv1.Update},
		Rule:       admv1.Rule{APIGroups: groups, APIVersions: []string{"*"}, Resources: resources},
	}}}}
	var conds []admv1.MatchCondition
	if len(m.Kinds) > 0 && !contains(m.Kinds, "*") {
		conds = append(conds, admv1.MatchCondition{Name: "kinds", Expression: "request.kind.kind in " + celStringList(m.Kinds)})
	}
	if len(m.Namespaces) > 0 {
		var res []string
		for _, g := range m.Namespaces {
			re, err := globRegexp(g)
			if err != nil {
				return mr, nil, err
			}
			res = append(res, re)
		}
		// Plumbline reads metadata.namespace: a cluster-scoped object (a Namespace too) has
		// none and matches no pattern.
		conds = append(conds, admv1.MatchCondition{Name: "namespaces", Expression: fmt.Sprintf(
			"%s.exists(p, object.metadata.?namespace.orValue('').matches(p))", celStringList(res))})
	}
	return mr, conds, nil
}

// globRegexp turns a path.Match pattern into an anchored RE2 expression that matches the
// same strings without '/' (namespaces have none).
func globRegexp(glob string) (string, error) {
	if err := checkGlob(glob); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("^")
	rs := []rune(glob)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		case '\\':
			i++
			if i < len(rs) {
				b.WriteString(quoteMeta(rs[i]))
			}
		case '[':
			b.WriteString("[")
			i++
			if i < len(rs) && rs[i] == '^' {
				b.WriteString("^/")
				i++
			}
			for ; i < len(rs) && rs[i] != ']'; i++ {
				switch rs[i] {
				case '\\':
					i++
					b.WriteString(quoteMeta(rs[i]))
				case '-':
					b.WriteString("-")
				default:
					b.WriteString(quoteMeta(rs[i]))
				}
			}
			b.WriteString("]")
		default:
			b.WriteString(quoteMeta(c))
		}
	}
	b.WriteString("$")
	return b.String(), nil
}

func quoteMeta(r rune) string {
	if strings.ContainsRune(`\.+*?()|[]{}^$-`, r) {
		return `\` + string(r)
	}
	return string(r)
}

func singleLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
