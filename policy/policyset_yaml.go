package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// The policy file is decoded by yaml.v3's strict decoder into the shapes
// below: an unknown field at any depth (KnownFields), a key given twice and
// excessive aliasing are its errors, with its line numbers. Scalars keep
// their line, so that the checks that follow (severities, built-in ids,
// globs, names) point into the file too.

type policySetDoc struct {
	APIVersion docString   `yaml:"apiVersion"`
	Kind       docString   `yaml:"kind"`
	Metadata   metadataDoc `yaml:"metadata"`
	Spec       specDoc     `yaml:"spec"`
}

type metadataDoc struct {
	Name        docString            `yaml:"name"`
	Labels      map[string]docString `yaml:"labels"`
	Annotations map[string]docString `yaml:"annotations"`
}

type specDoc struct {
	Params   paramsDoc                `yaml:"params"`
	Builtins map[docString]builtinDoc `yaml:"builtins"`
	Policies []policyDoc              `yaml:"policies"`
}

type builtinDoc struct {
	Enabled  docBool   `yaml:"enabled"`
	Severity docString `yaml:"severity"`
}

type policyDoc struct {
	Name        docString       `yaml:"name"`
	Severity    docString       `yaml:"severity"`
	Match       matchDoc        `yaml:"match"`
	Validations []validationDoc `yaml:"validations"`
}

type matchDoc struct {
	Kinds      []docString `yaml:"kinds"`
	Namespaces []docString `yaml:"namespaces"`
	APIGroups  []docString `yaml:"apiGroups"`
}

type validationDoc struct {
	Expression        docString `yaml:"expression"`
	Message           docString `yaml:"message"`
	MessageExpression docString `yaml:"messageExpression"`
}

// docString is a string scalar and its line; line 0 means absent (or null).
// Numbers and booleans are type errors, as in a strict Kubernetes decode.
type docString struct {
	value string
	line  int
	block bool // a literal (|) or folded (>) block scalar
}

// UnmarshalYAML accepts a string scalar; a timestamp stays as written.
func (s *docString) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && n.ShortTag() != "!!timestamp") {
		return docTypeError(n, "a string")
	}
	*s = docString{value: n.Value, line: n.Line, block: n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0}
	return nil
}

// exprLine is the line holding the text of a CEL expression: the line after
// the indicator of a block scalar.
func (s docString) exprLine() int {
	if s.block {
		return s.line + 1
	}
	return s.line
}

// docBool is a true/false scalar and its line.
type docBool struct {
	value, set bool
	line       int
}

// UnmarshalYAML accepts only a YAML docBool.
func (b *docBool) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return docTypeError(n, "true or false")
	}
	v, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		return docTypeError(n, "true or false")
	}
	*b = docBool{value: v, set: true, line: n.Line}
	return nil
}

// paramsDoc is spec.params: free-form values for CEL, plus the
// allowedRegistries list the built-ins read, with the lines of its entries.
type paramsDoc struct {
	values            map[string]any
	allowedRegistries []docString
	line              int
}

// UnmarshalYAML decodes params twice from the one node: as free-form values,
// and as the one key the built-ins read (free-form, so not strict).
func (p *paramsDoc) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return docTypeError(n, "a mapping")
	}
	p.line = n.Line
	keepTimestamps(n)
	if err := n.Decode(&p.values); err != nil {
		return err
	}
	var known struct {
		AllowedRegistries []docString `yaml:"allowedRegistries"`
	}
	if err := n.Decode(&known); err != nil {
		return err
	}
	p.allowedRegistries = known.AllowedRegistries
	return nil
}

// keepTimestamps marks the timestamps under n as strings, so that params
// keep them as written. Aliases are not followed: their anchors are walked
// where they stand.
func keepTimestamps(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!timestamp" {
		n.Tag = "!!str"
	}
	for _, c := range n.Content {
		keepTimestamps(c)
	}
}

func docTypeError(n *yaml.Node, want string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want %s, got %s", n.Line, want, docNodeWord(n))}}
}

// docNodeWord describes a node for a type error, its value cut short.
func docNodeWord(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	v := n.Value
	if len(v) > 16 {
		v = v[:13] + "..."
	}
	return strings.TrimPrefix(n.ShortTag(), "!!") + " " + strconv.Quote(v)
}

// fileError is an error at a line of the policy file: "file:line: message",
// the shape of every Plumbline file error.
type fileError struct {
	file string
	line int
	msg  string
}

func (e *fileError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("%s: %s", e.file, e.msg)
}

// yamlError turns an error of yaml.v3's decoder into a *fileError: the
// first of a TypeError's "line N: ..." entries (they come in document
// order), or the "yaml: line N: ..." of a syntax error, in the file's terms
// rather than the Go types behind the decoder.
func yamlError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, after
			}
		}
	}
	if rest, ok := strings.CutPrefix(msg, "field "); ok {
		if i := strings.LastIndex(rest, " not found in type "); i >= 0 {
			msg = fmt.Sprintf("unknown field %q", rest[:i])
		}
	}
	if rest, ok := strings.CutPrefix(msg, "cannot unmarshal "); ok {
		if got, into, ok := strings.Cut(rest, " into "); ok {
			msg = fmt.Sprintf("want %s, got %s", docGoTypeWord(into), docTagWord(got))
		}
	}
	return &fileError{file: file, line: line, msg: msg}
}

func docGoTypeWord(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.Contains(t, "."):
		return "a mapping"
	}
	return "a " + t
}

// docTagWord describes "!!map", "!!seq" or "!!int `12`" as a reader would.
func docTagWord(tagged string) string {
	tag, value, _ := strings.Cut(tagged, " ")
	switch tag {
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	}
	return strings.TrimSpace(strings.TrimPrefix(tag, "!!") + " " + strings.Trim(value, "`"))
}
