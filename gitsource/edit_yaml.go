package gitsource

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// ObjectKey names one object in a YAML file. Namespace matches a document that declares no
// namespace too (kustomize's namespace: or the Source's namespace fills it in).
type ObjectKey struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
}

func (k ObjectKey) String() string {
	if k.Namespace == "" {
		return k.Kind + "/" + k.Name
	}
	return k.Kind + "/" + k.Namespace + "/" + k.Name
}

// yamlFile is a YAML file split into its documents, each kept as written until edited. An
// edit of a scalar replaces the scalar's text on its line; any other edit writes that one
// document again through kyaml (comments and key order kept). Other documents stay as they are.
type yamlFile struct {
	name string
	orig []byte
	docs []*yamlDoc
}

type yamlDoc struct {
	// sep is the separator line before the document ("" for the first), text its lines.
	sep  string
	text string
	node *kyaml.RNode // nil for an empty document
	// dirty documents are written again through kyaml.
	dirty bool
}

// parseYAMLFile splits data on "---" lines and parses each document.
func parseYAMLFile(name string, data []byte) (*yamlFile, error) {
	f := &yamlFile{name: name, orig: data}
	lines := strings.SplitAfter(string(data), "\n")
	cur := &yamlDoc{}
	var text strings.Builder
	flush := func() error {
		cur.text = text.String()
		text.Reset()
		if strings.TrimSpace(cur.text) != "" {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(cur.text), &n); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if len(n.Content) > 0 && n.Content[0].Kind == yaml.MappingNode {
				cur.node = kyaml.NewRNode(n.Content[0])
			}
		}
		f.docs = append(f.docs, cur)
		return nil
	}
	for _, l := range lines {
		if strings.TrimRight(l, " \t\r\n") == "---" || strings.HasPrefix(l, "--- ") {
			if err := flush(); err != nil {
				return nil, err
			}
			cur = &yamlDoc{sep: l}
			continue
		}
		text.WriteString(l)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return f, nil
}

// find returns the document of the object key, or nil.
func (f *yamlFile) find(key ObjectKey) *yamlDoc {
	for _, d := range f.docs {
		if d.node == nil {
			continue
		}
		if d.node.GetKind() != key.Kind || d.node.GetName() != key.Name {
			continue
		}
		if ns := d.node.GetNamespace(); ns != "" && key.Namespace != "" && ns != key.Namespace {
			continue
		}
		if key.APIVersion != "" && d.node.GetApiVersion() != "" && group(d.node.GetApiVersion()) != group(key.APIVersion) {
			continue
		}
		return d
	}
	return nil
}

func group(apiVersion string) string {
	if g, _, ok := strings.Cut(apiVersion, "/"); ok {
		return g
	}
	return ""
}

// bytes writes the file back.
func (f *yamlFile) bytes() ([]byte, error) {
	var b bytes.Buffer
	for _, d := range f.docs {
		b.WriteString(d.sep)
		if !d.dirty {
			b.WriteString(d.text)
			continue
		}
		if d.node == nil {
			continue
		}
		style := kyaml.DeriveSeqIndentStyle(d.text)
		out, err := kyaml.MarshalWithOptions(d.node.Document(), &kyaml.EncoderOptions{SeqIndent: kyaml.SequenceIndentStyle(style)})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		b.Write(leadingComments(d.text, out))
		b.Write(out)
	}
	return b.Bytes(), nil
}

// leadingComments keeps the comment lines at the top of a document that the encoder does not
// write again (a head comment of the document rather than of its first key).
func leadingComments(orig string, out []byte) []byte {
	var head []string
	for _, l := range strings.SplitAfter(orig, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			head = append(head, l)
			continue
		}
		break
	}
	h := strings.Join(head, "")
	if strings.TrimSpace(h) == "" || bytes.Contains(out, []byte(strings.TrimSpace(h))) {
		return nil
	}
	return []byte(h)
}

// has reports whether the document declares the field at path (kyaml parts).
func (d *yamlDoc) has(parts []string) bool {
	n, err := d.node.Pipe(kyaml.Lookup(parts...))
	return err == nil && n != nil
}

// set sets the field at path to value (a JSON value), creating what is missing. A scalar that
// replaces a scalar is spliced into the text; anything else marks the document dirty.
func (d *yamlDoc) set(parts []string, value any) error {
	vn, err := valueNode(value)
	if err != nil {
		return err
	}
	if cur, err := d.node.Pipe(kyaml.Lookup(parts...)); err == nil && cur != nil {
		if cur.YNode().Kind == yaml.ScalarNode && vn.YNode().Kind == yaml.ScalarNode && d.splice(cur.YNode(), vn.YNode()) {
			*cur.YNode() = *withComments(vn.YNode(), cur.YNode())
			return nil
		}
		*cur.YNode() = *withComments(vn.YNode(), cur.YNode())
		d.dirty = true
		return nil
	}
	last := parts[len(parts)-1]
	if kyaml.IsListIndex(last) {
		list, err := d.node.Pipe(kyaml.LookupCreate(yaml.SequenceNode, parts[:len(parts)-1]...))
		if err != nil {
			return err
		}
		list.YNode().Content = append(list.YNode().Content, vn.YNode())
	} else {
		parent, err := d.node.Pipe(kyaml.LookupCreate(yaml.MappingNode, parts[:len(parts)-1]...))
		if err != nil {
			return err
		}
		if _, err := parent.Pipe(kyaml.SetField(last, vn)); err != nil {
			return err
		}
	}
	d.dirty = true
	return nil
}

// remove deletes the field at path; a missing field is no error.
func (d *yamlDoc) remove(parts []string) error {
	if !d.has(parts) {
		return nil
	}
	parent, err := d.node.Pipe(kyaml.Lookup(parts[:len(parts)-1]...))
	if err != nil || parent == nil {
		return err
	}
	last := parts[len(parts)-1]
	if kyaml.IsListIndex(last) {
		key, value, err := kyaml.SplitIndexNameValue(last)
		if err != nil {
			return err
		}
		if _, err := parent.Pipe(kyaml.ElementSetter{Keys: []string{key}, Values: []string{value}}); err != nil {
			return err
		}
	} else if _, err := parent.Pipe(kyaml.Clear(last)); err != nil {
		return err
	}
	d.dirty = true
	return nil
}

func withComments(n, old *yaml.Node) *yaml.Node {
	c := *n
	c.HeadComment, c.LineComment, c.FootComment = old.HeadComment, old.LineComment, old.FootComment
	return &c
}

// splice replaces the text of scalar old with new's on its own line, keeping everything else
// of the line (indentation, a comment). It reports false when the scalar's text cannot be
// found there exactly (a block scalar, a multi-line one).
func (d *yamlDoc) splice(old, nw *yaml.Node) bool {
	if d.dirty || old.Line <= 0 || old.Column <= 0 || strings.Contains(old.Value, "\n") {
		return false
	}
	lines := strings.SplitAfter(d.text, "\n")
	if old.Line > len(lines) {
		return false
	}
	line := lines[old.Line-1]
	start := old.Column - 1
	if start > len(line) {
		return false
	}
	var raw, repl string
	switch old.Style {
	case 0, yaml.TaggedStyle:
		raw = old.Value
		repl = plainOrQuoted(nw)
	case yaml.DoubleQuotedStyle:
		raw = quotedText(line[start:], '"')
		repl = strconv.Quote(nw.Value)
	case yaml.SingleQuotedStyle:
		raw = quotedText(line[start:], '\'')
		repl = "'" + strings.ReplaceAll(nw.Value, "'", "''") + "'"
	default:
		return false
	}
	if raw == "" || !strings.HasPrefix(line[start:], raw) {
		return false
	}
	if nw.Tag == "!!str" && old.Style == 0 && repl == nw.Value && looksNonString(nw.Value) {
		repl = strconv.Quote(nw.Value)
	}
	lines[old.Line-1] = line[:start] + repl + line[start+len(raw):]
	d.text = strings.Join(lines, "")
	return true
}

// quotedText returns the quoted scalar at the start of s, quotes included, or "".
func quotedText(s string, q byte) string {
	if len(s) == 0 || s[0] != q {
		return ""
	}
	for i := 1; i < len(s); i++ {
		switch {
		case q == '"' && s[i] == '\\':
			i++
		case s[i] == q && q == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i++
		case s[i] == q:
			return s[:i+1]
		}
	}
	return ""
}

// plainOrQuoted is how yaml.v3 writes a scalar node on one line.
func plainOrQuoted(n *yaml.Node) string {
	plain := *n
	plain.Style = 0
	out, err := yaml.Marshal(&plain)
	if err != nil {
		return strconv.Quote(n.Value)
	}
	s := strings.TrimSuffix(string(out), "\n")
	if strings.Contains(s, "\n") {
		return strconv.Quote(n.Value)
	}
	return s
}

// looksNonString reports whether a plain scalar would read as a number, bool or null.
func looksNonString(s string) bool {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return true
	}
	_, isString := v.(string)
	return !isString
}

// valueNode turns a JSON value into a block-style YAML node.
func valueNode(value any) (*kyaml.RNode, error) {
	b, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return nil, err
	}
	root := n.Content[0]
	blockStyle(root)
	return kyaml.NewRNode(root), nil
}

func blockStyle(n *yaml.Node) {
	n.Line, n.Column = 0, 0
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = 0
	}
	if n.Kind == yaml.ScalarNode && n.Style == yaml.DoubleQuotedStyle && !strings.Contains(n.Value, "\n") {
		n.Style = 0 // the encoder quotes what needs quoting
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}
