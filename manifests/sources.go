package manifests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// sourceAnnotation marks each object of a resource file, while kustomize builds, with the file
// it came from (relative to the repository root). Render removes it from every object.
const sourceAnnotation = "render.plumbline.dev/source"

// markSources serves, through overrides, every resource file of the graph with each of its
// objects marked with sourceAnnotation.
func (p *preflight) markSources(overrides map[string][]byte) error {
	for _, k := range p.loaded {
		for _, e := range k.edges {
			if e.kust != nil {
				continue
			}
			if _, done := overrides[e.real]; done {
				continue
			}
			f, err := p.r.readYAML(p.ctx, e.real)
			if err != nil {
				return err
			}
			var b []byte
			b, ok := markedText(f.data, f.docs, f.rel)
			if ok {
				overrides[e.real] = b
				continue
			}
			b, err = marked(f.docs, f.rel)
			if err != nil {
				return fileErr(f.rel, 0, "%w", err)
			}
			overrides[e.real] = b
		}
	}
	return nil
}

// markedText inserts the mark as a line of text into block-style YAML, which keeps the file as
// written and costs far less than encoding it again. It reports false when a document is not
// plain block style (flow mappings, JSON, a List); marked handles those.
func markedText(data []byte, docs []*yaml.Node, source string) ([]byte, bool) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	type insertion struct {
		line int // 1-based line to insert before
		text string
	}
	var ins []insertion
	value := strconvQuote(source)
	for _, d := range docs {
		if len(d.Content) != 1 {
			continue
		}
		obj := d.Content[0]
		if obj.Kind != yaml.MappingNode || obj.Style&yaml.FlowStyle != 0 || mappingValue(obj, "kind") == nil {
			if obj.Kind == yaml.MappingNode && obj.Style&yaml.FlowStyle != 0 {
				return nil, false
			}
			continue
		}
		if mappingValue(obj, "items") != nil {
			return nil, false
		}
		md := mappingValue(obj, "metadata")
		if md == nil || md.Kind != yaml.MappingNode || md.Style&yaml.FlowStyle != 0 || len(md.Content) == 0 {
			return nil, false
		}
		first := md.Content[0]
		indent := strings.Repeat(" ", first.Column-1)
		ann := mappingValue(md, "annotations")
		switch {
		case ann == nil:
			ins = append(ins, insertion{first.Line, indent + "annotations:\n" + indent + "  " + sourceAnnotation + ": " + value + "\n"})
		case ann.Kind == yaml.MappingNode && ann.Style&yaml.FlowStyle == 0 && len(ann.Content) > 0:
			k := ann.Content[0]
			ins = append(ins, insertion{k.Line, strings.Repeat(" ", k.Column-1) + sourceAnnotation + ": " + value + "\n"})
		default:
			return nil, false
		}
	}
	var out bytes.Buffer
	out.Grow(len(data) + len(ins)*64)
	next := 0
	for i, l := range lines {
		for next < len(ins) && ins[next].line == i+1 {
			out.WriteString(ins[next].text)
			next++
		}
		out.Write(l)
	}
	return out.Bytes(), next == len(ins)
}

// marked encodes docs again with sourceAnnotation set to source on every object, and on every
// item of a List. It leaves docs as they were.
func marked(docs []*yaml.Node, source string) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, d := range docs {
		d = copyNode(d)
		if len(d.Content) == 1 {
			mark(d.Content[0], source)
			if items := mappingValue(d.Content[0], "items"); items != nil && items.Kind == yaml.SequenceNode {
				for _, item := range items.Content {
					mark(item, source)
				}
			}
		}
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("marking objects with their file: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// mark sets metadata.annotations[sourceAnnotation] on an object's mapping node.
func mark(obj *yaml.Node, source string) {
	if obj.Kind != yaml.MappingNode || mappingValue(obj, "kind") == nil {
		return
	}
	md := ensureMapping(obj, "metadata")
	ann := ensureMapping(md, "annotations")
	ann.Content = append(ann.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: sourceAnnotation},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: source, Style: yaml.DoubleQuotedStyle})
}

// mappingValue returns the value of key in a mapping node, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// ensureMapping returns the mapping under key, replacing a null or missing value by an empty
// mapping. A value of another kind is left alone and a detached mapping returned, so that the
// mark is dropped and kustomize reports the object as it would have.
func ensureMapping(m *yaml.Node, key string) *yaml.Node {
	if v := mappingValue(m, key); v != nil {
		if v.Kind == yaml.MappingNode {
			if v.Style&yaml.FlowStyle != 0 {
				v.Style = 0
			}
			return v
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			*v = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			return v
		}
		return &yaml.Node{Kind: yaml.MappingNode}
	}
	v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	return v
}

// copyNode copies a node tree deeply enough that marking it leaves the original untouched:
// mappings and documents are copied, scalars and aliases shared.
func copyNode(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	if n.Kind == yaml.MappingNode || n.Kind == yaml.DocumentNode || n.Kind == yaml.SequenceNode {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, child := range n.Content {
			c.Content[i] = copyNode(child)
		}
	}
	return &c
}

// generatorSources maps the name of every ConfigMap and Secret generator of the graph that
// creates an object (not one that merges into or replaces a base's) to the kustomization that
// declares it ("" when two declare the same name).
func (p *preflight) generatorSources() map[string]string {
	out := map[string]string{}
	set := func(name, rel string) {
		if old, ok := out[name]; ok && old != rel {
			rel = ""
		}
		out[name] = rel
	}
	for _, k := range p.loaded {
		for _, g := range k.k.ConfigMapGenerator {
			if creates(g.Behavior) {
				set("ConfigMap/"+g.Name, k.file.rel)
			}
		}
		for _, g := range k.k.SecretGenerator {
			if creates(g.Behavior) {
				set("Secret/"+g.Name, k.file.rel)
			}
		}
	}
	return out
}

// strconvQuote quotes s as a YAML double-quoted scalar (JSON string syntax is valid YAML).
func strconvQuote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

func creates(behavior string) bool { return behavior == "" || behavior == "create" }

var hashSuffix = regexp.MustCompile(`-[a-z0-9]{10}$`)

// generatedSource returns the kustomization that generated u: the one whose generator name is
// the longest found in u's name (overlays add prefixes, suffixes and a content hash). Objects
// that match none are attributed to the entry kustomization.
func generatedSource(u *unstructured.Unstructured, generators map[string]string, topFile string) string {
	name := hashSuffix.ReplaceAllString(u.GetName(), "")
	best, source := 0, topFile
	for key, rel := range generators {
		kind, gen, _ := strings.Cut(key, "/")
		if kind != u.GetKind() || rel == "" || len(gen) <= best || !strings.Contains(name, gen) {
			continue
		}
		best, source = len(gen), rel
	}
	return source
}

// removeAnnotation deletes key from u's annotations, and the annotations field when it
// becomes empty, as kustomize does when it removes its own.
func removeAnnotation(u *unstructured.Unstructured, key string) {
	a := u.GetAnnotations()
	if _, ok := a[key]; !ok {
		return
	}
	delete(a, key)
	if len(a) == 0 {
		unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
		return
	}
	u.SetAnnotations(a)
}
