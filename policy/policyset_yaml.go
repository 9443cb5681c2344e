package policy

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// The policy file is decoded by walking yaml.v3's node tree rather than with
// struct tags, so that every error carries the file's line and column, every
// unknown field is an error at any depth, and aliases cannot expand without
// bound.

// maxNodeVisits bounds the work of walking one policy file, aliases
// included: a file that needs more is rejected, not expanded.
const maxNodeVisits = 1_000_000

// fileError is an error at a place in the policy file.
type fileError struct {
	file      string
	line, col int
	msg       string
}

func (e *fileError) Error() string {
	switch {
	case e.line > 0 && e.col > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.file, e.line, e.col, e.msg)
	case e.line > 0:
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	default:
		return fmt.Sprintf("%s: %s", e.file, e.msg)
	}
}

// walker walks one policy file's nodes.
type walker struct {
	file   string
	visits int
}

// at returns an error at n's position; field is the dotted path of the
// value (spec.policies[0].severity).
func (w *walker) at(n *yaml.Node, field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	e := &fileError{file: w.file, msg: msg}
	if n != nil {
		e.line, e.col = n.Line, n.Column
	}
	return e
}

// resolve follows aliases and counts the visit against the budget.
func (w *walker) resolve(n *yaml.Node, field string) (*yaml.Node, error) {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth > 100 {
			return nil, w.at(n, field, "alias chain too deep")
		}
		n = n.Alias
	}
	w.visits++
	if w.visits > maxNodeVisits {
		return nil, w.at(n, field, "the file is too large to check (more than %d nodes once aliases are expanded)", maxNodeVisits)
	}
	return n, nil
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// fields walks a mapping, calling the handler named by each key. A key with
// no handler is an unknown field. A null node is an empty mapping.
func (w *walker) fields(n *yaml.Node, field string, handlers map[string]func(v *yaml.Node, field string) error) error {
	return w.pairs(n, field, func(k, v *yaml.Node, key string) error {
		child := join(field, key)
		h, ok := handlers[key]
		if !ok {
			return w.at(k, child, "unknown field")
		}
		return h(v, child)
	})
}

// pairs walks a mapping with free-form keys.
func (w *walker) pairs(n *yaml.Node, field string, each func(k, v *yaml.Node, key string) error) error {
	n, err := w.resolve(n, field)
	if err != nil || isNull(n) {
		return err
	}
	if n.Kind != yaml.MappingNode {
		return w.at(n, field, "want a mapping, got %s", describe(n))
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.ShortTag() == "!!merge" {
			return w.at(k, field, "merge keys (<<) are not supported")
		}
		key, err := w.str(k, field)
		if err != nil {
			return err
		}
		if line, dup := seen[key]; dup {
			return w.at(k, join(field, key), "duplicate key (first at line %d)", line)
		}
		seen[key] = k.Line
		if err := each(k, n.Content[i+1], key); err != nil {
			return err
		}
	}
	return nil
}

// items walks a sequence. A null node is an empty sequence.
func (w *walker) items(n *yaml.Node, field string, each func(i int, v *yaml.Node, field string) error) error {
	n, err := w.resolve(n, field)
	if err != nil || isNull(n) {
		return err
	}
	if n.Kind != yaml.SequenceNode {
		return w.at(n, field, "want a list, got %s", describe(n))
	}
	for i, v := range n.Content {
		if err := each(i, v, field+"["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
	}
	return nil
}

// str reads a string scalar. Numbers and booleans are type errors, as in a
// strict Kubernetes decode.
func (w *walker) str(n *yaml.Node, field string) (string, error) {
	n, err := w.resolve(n, field)
	if err != nil {
		return "", err
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", w.at(n, field, "want a string, got %s", describe(n))
	}
	return n.Value, nil
}

func (w *walker) strList(n *yaml.Node, field string) ([]string, error) {
	var out []string
	err := w.items(n, field, func(_ int, v *yaml.Node, f string) error {
		s, err := w.str(v, f)
		out = append(out, s)
		return err
	})
	return out, err
}

func (w *walker) boolean(n *yaml.Node, field string) (bool, error) {
	n, err := w.resolve(n, field)
	if err != nil {
		return false, err
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false, w.at(n, field, "want true or false, got %s", describe(n))
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		return false, w.at(n, field, "%v", err)
	}
	return b, nil
}

// value converts a node to the JSON-like values CEL and the built-ins
// read: map[string]any, []any, string, int64, float64, bool and nil.
// Timestamps stay the strings they were written as.
func (w *walker) value(n *yaml.Node, field string) (any, error) {
	n, err := w.resolve(n, field)
	if err != nil {
		return nil, err
	}
	switch n.Kind {
	case 0:
		return nil, nil
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		err := w.pairs(n, field, func(_, v *yaml.Node, key string) error {
			val, err := w.value(v, join(field, key))
			m[key] = val
			return err
		})
		return m, err
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		err := w.items(n, field, func(_ int, v *yaml.Node, f string) error {
			val, err := w.value(v, f)
			l = append(l, val)
			return err
		})
		return l, err
	case yaml.ScalarNode:
		return w.scalar(n, field)
	default:
		return nil, w.at(n, field, "unsupported YAML node")
	}
}

func (w *walker) scalar(n *yaml.Node, field string) (any, error) {
	switch n.ShortTag() {
	case "!!str", "!!timestamp":
		return n.Value, nil
	case "!!null":
		return nil, nil
	case "!!bool":
		return w.boolean(n, field)
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			return nil, w.at(n, field, "integer %s does not fit in 64 bits", n.Value)
		}
		return i, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, w.at(n, field, "want a finite number, got %s", n.Value)
		}
		return f, nil
	default:
		return nil, w.at(n, field, "unsupported YAML tag %s", n.ShortTag())
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("string %q", n.Value)
		}
		return fmt.Sprintf("%s %s", strings.TrimPrefix(n.ShortTag(), "!!"), n.Value)
	default:
		return "an unsupported node"
	}
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}
