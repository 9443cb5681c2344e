package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// aliasAllowance is how many nodes aliases may add to a file beyond doubling it. A real
// manifest that reuses an anchor stays far below; an alias bomb of a few hundred bytes asks
// for billions.
const aliasAllowance = 100_000

// parseYAML parses a YAML (or JSON) stream into its documents, without expanding aliases, and
// rejects it when expanding them would blow the documents up, or when it could build more
// nodes than one render may (DefaultOptions().MaxNodes). Errors are *FileError without a
// path; the caller adds it.
func parseYAML(data []byte) ([]*yaml.Node, error) {
	return parseYAMLWithin(data, nil)
}

// parseYAML is parseYAML counting the nodes against the budget of the render that o belongs
// to (see Options.withDefaults).
func (o Options) parseYAML(data []byte) ([]*yaml.Node, error) {
	return parseYAMLWithin(data, o.nodes)
}

// parseYAMLWithin parses data after checking that it cannot build more nodes than budget
// has left (or than the default MaxNodes, when budget is nil), using estimateNodes, which
// reads data without allocating. The nodes that were built are then charged to budget.
func parseYAMLWithin(data []byte, budget *nodeBudget) (docs []*yaml.Node, err error) {
	limit, used := int64(DefaultOptions().MaxNodes), int64(0)
	if budget != nil {
		limit, used = budget.limit, budget.used.Load()
	}
	if est := estimateNodes(data); est > limit-used {
		return nil, &FileError{Err: fmt.Errorf("YAML could build up to %d nodes, over what is left (%d) of the limit of %d nodes per render: %w",
			est, max(limit-used, 0), limit, ErrLimitExceeded)}
	}
	defer func() {
		if p := recover(); p != nil {
			docs, err = nil, &FileError{Err: fmt.Errorf("invalid YAML: parser failed: %v", p)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		n := new(yaml.Node)
		err := dec.Decode(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &FileError{Line: yamlErrorLine(err), Err: fmt.Errorf("invalid YAML: %w", err)}
		}
		docs = append(docs, n)
	}
	written, err := checkAliases(docs)
	if err != nil {
		return nil, err
	}
	used = written
	if budget != nil {
		used = budget.used.Add(written)
	}
	if used > limit { // the estimate is a bound; this holds the line should it ever not be
		return nil, &FileError{Err: fmt.Errorf("YAML built %d nodes, which takes the render over the limit of %d nodes: %w", written, limit, ErrLimitExceeded)}
	}
	return docs, nil
}

var lineInError = regexp.MustCompile(`line (\d+)`)

// yamlErrorLine digs the line number out of a go-yaml error, or returns 0.
func yamlErrorLine(err error) int {
	m := lineInError.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1]) // the pattern only matches digits
	return n
}

// checkAliases counts the nodes of docs as written and as they would be with every alias
// expanded, and fails when aliases would add more than the documents themselves plus
// aliasAllowance nodes, or when an anchor contains an alias to itself. It returns the nodes
// as written.
func checkAliases(docs []*yaml.Node) (int64, error) {
	var written int64
	firstAlias := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		written++
		if n.Kind == yaml.AliasNode && firstAlias == 0 {
			firstAlias = max(n.Line, 1)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	for _, d := range docs {
		walk(d)
	}
	if firstAlias == 0 {
		return written, nil
	}
	limit := 2*written + aliasAllowance
	memo := map[*yaml.Node]int64{}
	open := map[*yaml.Node]bool{}
	var size func(n *yaml.Node) (int64, error)
	size = func(n *yaml.Node) (int64, error) {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if s, ok := memo[n]; ok {
			return s, nil
		}
		if open[n] {
			return 0, &FileError{Line: n.Line, Err: fmt.Errorf("anchor %q contains an alias to itself: %w", n.Anchor, ErrExcessiveAliasing)}
		}
		open[n] = true
		total := int64(1)
		for _, c := range n.Content {
			s, err := size(c)
			if err != nil {
				return 0, err
			}
			total += s
			if total > limit {
				return total, nil // the caller fails; no need to finish counting
			}
		}
		delete(open, n)
		memo[n] = total
		return total, nil
	}
	var expanded int64
	for _, d := range docs {
		s, err := size(d)
		if err != nil {
			return 0, err
		}
		expanded += s
		if expanded > limit {
			return 0, &FileError{Line: firstAlias, Err: fmt.Errorf(
				"YAML aliases would expand the file's %d nodes to more than %d: %w", written, limit, ErrExcessiveAliasing)}
		}
	}
	return written, nil
}

// deref returns the content of a document node, the target of an alias, or n itself; nil
// for an empty document.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch {
		case n.Kind == yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		case n.Kind == yaml.AliasNode:
			n = n.Alias
		default:
			return n
		}
	}
	return nil
}

// isNull reports whether n holds no value: an empty document or a null scalar.
func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// mapValue returns the value node of key in mapping n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// scalar returns the value of scalar node n, or "".
func scalar(n *yaml.Node) string {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// listItems returns the items of n when n is a list object as kustomize sees it (a kind
// ending in "List" with an items field), and whether it is one.
func listItems(n *yaml.Node) ([]*yaml.Node, bool) {
	if !strings.HasSuffix(scalar(mapValue(n, "kind")), "List") {
		return nil, false
	}
	items := mapValue(n, "items")
	if items == nil {
		return nil, false
	}
	if items = deref(items); items != nil && items.Kind == yaml.SequenceNode {
		return items.Content, true
	}
	return nil, true
}

// countObjects estimates how many objects kustomize makes of docs: one per non-empty
// document, the items of a list instead of the list.
func countObjects(docs []*yaml.Node) int64 {
	var n int64
	for _, d := range docs {
		n += countNode(d)
	}
	return n
}

func countNode(n *yaml.Node) int64 {
	if isNull(n) {
		return 0
	}
	if items, ok := listItems(n); ok {
		var c int64
		for _, it := range items {
			c += countNode(it)
		}
		return c
	}
	return 1
}

// lineOf returns the line of the first scalar in docs whose value is value, or 0. It lets an
// error about an entry point at the line that holds it.
func lineOf(docs []*yaml.Node, value string) int {
	var find func(n *yaml.Node) int
	find = func(n *yaml.Node) int {
		if n.Kind == yaml.ScalarNode && n.Value == value {
			return n.Line
		}
		for _, c := range n.Content {
			if l := find(c); l > 0 {
				return l
			}
		}
		return 0
	}
	for _, d := range docs {
		if l := find(d); l > 0 {
			return l
		}
	}
	return 0
}
