package policy

import yaml "go.yaml.in/yaml/v3"

// The PolicySet schema, walked node by node (see policyset_yaml.go for the
// walker): each method decodes one part of the file and checks what can be
// checked without compiling CEL.

func (w *walker) policySet(root *yaml.Node, ps *PolicySet) error {
	var apiVersion, kind string
	err := w.fields(root, "", map[string]func(*yaml.Node, string) error{
		"apiVersion": func(n *yaml.Node, f string) (err error) { apiVersion, err = w.str(n, f); return err },
		"kind":       func(n *yaml.Node, f string) (err error) { kind, err = w.str(n, f); return err },
		"metadata":   func(n *yaml.Node, f string) error { return w.metadata(n, f, ps) },
		"spec":       func(n *yaml.Node, f string) error { return w.spec(n, f, ps) },
	})
	if err != nil {
		return err
	}
	if apiVersion != APIVersion || kind != Kind {
		return w.at(root, "", "want apiVersion %s and kind %s, got %q and %q", APIVersion, Kind, apiVersion, kind)
	}
	return nil
}

func (w *walker) metadata(n *yaml.Node, field string, ps *PolicySet) error {
	labels := func(n *yaml.Node, f string) error {
		return w.pairs(n, f, func(_, v *yaml.Node, key string) error {
			_, err := w.str(v, join(f, key))
			return err
		})
	}
	return w.fields(n, field, map[string]func(*yaml.Node, string) error{
		"name":        func(n *yaml.Node, f string) (err error) { ps.Name, err = w.str(n, f); return err },
		"labels":      labels,
		"annotations": labels,
	})
}

func (w *walker) spec(n *yaml.Node, field string, ps *PolicySet) error {
	return w.fields(n, field, map[string]func(*yaml.Node, string) error{
		"params":   func(n *yaml.Node, f string) error { return w.params(n, f, ps) },
		"builtins": func(n *yaml.Node, f string) error { return w.builtins(n, f, ps) },
		"policies": func(n *yaml.Node, f string) error {
			seen := map[string]int{}
			return w.items(n, f, func(_ int, v *yaml.Node, f string) error {
				p, err := w.policy(v, f)
				if err != nil {
					return err
				}
				if line, dup := seen[p.Name]; dup {
					return w.at(v, f+".name", "policy %q is already defined at line %d", p.Name, line)
				}
				seen[p.Name] = p.Line
				ps.Policies = append(ps.Policies, p)
				return nil
			})
		},
	})
}

func (w *walker) params(n *yaml.Node, field string, ps *PolicySet) error {
	v, err := w.value(n, field)
	if err != nil || v == nil {
		return err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return w.at(n, field, "want a mapping")
	}
	ps.Params = m
	// Check what built-ins read here, where lines are known.
	return w.pairs(n, field, func(_, v *yaml.Node, key string) error {
		if key != "allowedRegistries" {
			return nil
		}
		return w.items(v, join(field, key), func(_ int, item *yaml.Node, f string) error {
			s, err := w.str(item, f)
			if err != nil {
				return err
			}
			if _, err := normaliseRegistryPrefix(s); err != nil {
				return w.at(item, f, "%v", err)
			}
			return nil
		})
	})
}

func (w *walker) builtins(n *yaml.Node, field string, ps *PolicySet) error {
	return w.pairs(n, field, func(k, v *yaml.Node, key string) error {
		id := RuleID(key)
		if _, ok := builtinByID(id); !ok {
			return w.at(k, join(field, key), "unknown built-in rule (known: %s)", builtinIDList())
		}
		var cfg BuiltinConfig
		err := w.fields(v, join(field, key), map[string]func(*yaml.Node, string) error{
			"enabled": func(n *yaml.Node, f string) error {
				b, err := w.boolean(n, f)
				cfg.Enabled = &b
				return err
			},
			"severity": func(n *yaml.Node, f string) (err error) { cfg.Severity, err = w.severity(n, f); return err },
		})
		if ps.Builtins == nil {
			ps.Builtins = map[RuleID]BuiltinConfig{}
		}
		ps.Builtins[id] = cfg
		return err
	})
}

func (w *walker) severity(n *yaml.Node, field string) (Severity, error) {
	s, err := w.str(n, field)
	if err != nil {
		return "", err
	}
	sev, err := ParseSeverity(s)
	if err != nil {
		return "", w.at(n, field, "%v", err)
	}
	return sev, nil
}

func (w *walker) policy(n *yaml.Node, field string) (Policy, error) {
	p := Policy{Line: n.Line}
	var nameNode *yaml.Node
	err := w.fields(n, field, map[string]func(*yaml.Node, string) error{
		"name":        func(n *yaml.Node, f string) (err error) { nameNode = n; p.Name, err = w.str(n, f); return err },
		"severity":    func(n *yaml.Node, f string) (err error) { p.Severity, err = w.severity(n, f); return err },
		"match":       func(n *yaml.Node, f string) (err error) { p.Match, err = w.match(n, f); return err },
		"validations": func(n *yaml.Node, f string) (err error) { p.Validations, err = w.validations(n, f); return err },
	})
	if err != nil {
		return p, err
	}
	if err := checkPolicyName(p.Name); err != nil {
		if nameNode == nil {
			nameNode = n
		}
		return p, w.at(nameNode, field+".name", "%v", err)
	}
	if len(p.Validations) == 0 {
		return p, w.at(n, field+".validations", "a policy needs at least one validation")
	}
	return p, nil
}

func (w *walker) match(n *yaml.Node, field string) (Match, error) {
	var m Match
	err := w.fields(n, field, map[string]func(*yaml.Node, string) error{
		"kinds":     func(n *yaml.Node, f string) (err error) { m.Kinds, err = w.strList(n, f); return err },
		"apiGroups": func(n *yaml.Node, f string) (err error) { m.APIGroups, err = w.strList(n, f); return err },
		"namespaces": func(n *yaml.Node, f string) error {
			return w.items(n, f, func(_ int, v *yaml.Node, f string) error {
				s, err := w.str(v, f)
				if err != nil {
					return err
				}
				if err := checkGlob(s); err != nil {
					return w.at(v, f, "%v", err)
				}
				m.Namespaces = append(m.Namespaces, s)
				return nil
			})
		},
	})
	return m, err
}

func (w *walker) validations(n *yaml.Node, field string) ([]Validation, error) {
	var out []Validation
	err := w.items(n, field, func(_ int, n *yaml.Node, field string) error {
		var v Validation
		err := w.fields(n, field, map[string]func(*yaml.Node, string) error{
			"expression": func(n *yaml.Node, f string) (err error) {
				v.Expression, v.ExpressionLine, err = w.expr(n, f)
				return err
			},
			"messageExpression": func(n *yaml.Node, f string) (err error) {
				v.MessageExpression, v.MessageExpressionLine, err = w.expr(n, f)
				return err
			},
			"message": func(n *yaml.Node, f string) (err error) { v.Message, err = w.str(n, f); return err },
		})
		if err != nil {
			return err
		}
		if v.Expression == "" {
			return w.at(n, field+".expression", "required")
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// expr reads a CEL expression and the file line of its first line: the
// line after the indicator for block scalars (| and >).
func (w *walker) expr(n *yaml.Node, field string) (string, int, error) {
	n, err := w.resolve(n, field)
	if err != nil {
		return "", 0, err
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return "", 0, w.at(n, field, "want a CEL expression string, got %s", describe(n))
	}
	line := n.Line
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		line++
	}
	return n.Value, line, nil
}
