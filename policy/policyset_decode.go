package policy

import (
	"fmt"
	"math"
	"sort"
)

// The checks of a decoded policy file that yaml.v3 cannot make: fixed
// values, severities, built-in ids, globs, registry prefixes, names. Each
// error points at the line of the value and names its field.

// fileChecker turns a decoded file into a PolicySet.
type fileChecker struct{ file string }

func (c fileChecker) at(line int, field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	return &fileError{file: c.file, line: line, msg: msg}
}

func (c fileChecker) policySet(doc *policySetDoc, ps *PolicySet) error {
	if doc.APIVersion.value != APIVersion || doc.Kind.value != Kind {
		line := doc.APIVersion.line
		if line == 0 || (doc.Kind.line > 0 && doc.Kind.line < line) {
			line = doc.Kind.line
		}
		return c.at(line, "", "want apiVersion %s and kind %s, got %q and %q", APIVersion, Kind, doc.APIVersion.value, doc.Kind.value)
	}
	ps.Name = doc.Metadata.Name.value
	if err := c.params(doc.Spec.Params, ps); err != nil {
		return err
	}
	if err := c.builtins(doc.Spec.Builtins, ps); err != nil {
		return err
	}
	seen := map[string]int{}
	for i, pd := range doc.Spec.Policies {
		field := fmt.Sprintf("spec.policies[%d]", i)
		p, err := c.policy(pd, field)
		if err != nil {
			return err
		}
		if line, dup := seen[p.Name]; dup {
			return c.at(pd.Name.line, field+".name", "policy %q is already defined at line %d", p.Name, line)
		}
		seen[p.Name] = p.Line
		ps.Policies = append(ps.Policies, p)
	}
	return nil
}

func (c fileChecker) params(pd paramsDoc, ps *PolicySet) error {
	if pd.values == nil {
		return nil
	}
	v, err := jsonValue(pd.values)
	if err != nil {
		return c.at(pd.line, "spec.params", "%v", err)
	}
	ps.Params = v.(map[string]any)
	for i, s := range pd.allowedRegistries {
		if _, err := normaliseRegistryPrefix(s.value); err != nil {
			return c.at(s.line, fmt.Sprintf("spec.params.allowedRegistries[%d]", i), "%v", err)
		}
	}
	return nil
}

// jsonValue converts what yaml.v3 decodes into the JSON-like values CEL and
// the built-ins read: map[string]any, []any, string, int64, float64, bool
// and nil.
func jsonValue(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			c, err := jsonValue(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = c
		}
		return out, nil
	case map[any]any:
		return nil, fmt.Errorf("mapping keys must be strings")
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			c, err := jsonValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = c
		}
		return out, nil
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case uint64:
		return nil, fmt.Errorf("integer %d does not fit in 64 bits", v)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("want a finite number, got %v", v)
		}
		return v, nil
	case string, bool, nil:
		return v, nil
	default:
		return nil, fmt.Errorf("unsupported value %T", v)
	}
}

func (c fileChecker) builtins(in map[docString]builtinDoc, ps *PolicySet) error {
	keys := make([]docString, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].line < keys[j].line })
	for _, k := range keys {
		field := "spec.builtins." + k.value
		id := RuleID(k.value)
		if _, ok := builtinByID(id); !ok {
			return c.at(k.line, field, "unknown built-in rule (known: %s)", builtinIDList())
		}
		bd := in[k]
		var cfg BuiltinConfig
		if bd.Enabled.set {
			cfg.Enabled = &bd.Enabled.value
		}
		var err error
		if cfg.Severity, err = c.severity(bd.Severity, field+".severity"); err != nil {
			return err
		}
		if ps.Builtins == nil {
			ps.Builtins = map[RuleID]BuiltinConfig{}
		}
		ps.Builtins[id] = cfg
	}
	return nil
}

func (c fileChecker) severity(s docString, field string) (Severity, error) {
	if s.line == 0 {
		return "", nil
	}
	sev, err := ParseSeverity(s.value)
	if err != nil {
		return "", c.at(s.line, field, "%v", err)
	}
	return sev, nil
}

func (c fileChecker) policy(pd policyDoc, field string) (Policy, error) {
	p := Policy{Name: pd.Name.value, Line: pd.Name.line}
	if p.Line == 0 { // no name: the first line the policy has
		all := []docString{pd.Severity}
		all = append(all, pd.Match.Kinds...)
		all = append(all, pd.Match.Namespaces...)
		all = append(all, pd.Match.APIGroups...)
		for _, v := range pd.Validations {
			all = append(all, v.Expression, v.Message, v.MessageExpression)
		}
		p.Line = docFirstLine(all...)
	}
	if err := checkPolicyName(p.Name); err != nil {
		return p, c.at(p.Line, field+".name", "%v", err)
	}
	var err error
	if p.Severity, err = c.severity(pd.Severity, field+".severity"); err != nil {
		return p, err
	}
	p.Match.Kinds = docStrings(pd.Match.Kinds)
	p.Match.APIGroups = docStrings(pd.Match.APIGroups)
	for i, ns := range pd.Match.Namespaces {
		if err := checkGlob(ns.value); err != nil {
			return p, c.at(ns.line, fmt.Sprintf("%s.match.namespaces[%d]", field, i), "%v", err)
		}
		p.Match.Namespaces = append(p.Match.Namespaces, ns.value)
	}
	if len(pd.Validations) == 0 {
		return p, c.at(p.Line, field+".validations", "a policy needs at least one validation")
	}
	for i, vd := range pd.Validations {
		if vd.Expression.value == "" {
			return p, c.at(docFirstLine(vd.Message, vd.MessageExpression), fmt.Sprintf("%s.validations[%d].expression", field, i), "required")
		}
		p.Validations = append(p.Validations, Validation{
			Expression:            vd.Expression.value,
			Message:               vd.Message.value,
			MessageExpression:     vd.MessageExpression.value,
			ExpressionLine:        vd.Expression.exprLine(),
			MessageExpressionLine: vd.MessageExpression.exprLine(),
		})
	}
	return p, nil
}

func docStrings(in []docString) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = s.value
	}
	return out
}

// firstLine is the smallest line among the given scalars that are present.
func docFirstLine(scalars ...docString) int {
	line := 0
	for _, s := range scalars {
		if s.line > 0 && (line == 0 || s.line < line) {
			line = s.line
		}
	}
	return line
}
