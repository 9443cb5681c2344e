package manifests

import (
	"bytes"
	"regexp"
	"sync/atomic"
)

// nodeBudget is what one render may still build of YAML nodes. go-yaml's Node costs about
// 170 bytes held, 250 while parsing, and YAML can make one node of every 1.5 bytes: 4 MiB
// of "? " lines is 2.8 million nodes, 480 MiB. So the bytes of a file are no bound on
// memory; its nodes are. It is safe for concurrent use.
type nodeBudget struct {
	limit int64
	used  atomic.Int64
}

// estimateNodes returns an upper bound of the nodes go-yaml builds of data, in one pass
// without allocating. Every node but an implicit empty one starts at a token: a character
// after white space, a flow indicator or ':' (or at the start); each indicator that may
// stand for empty nodes (':', ',', '{', '?', '-', a document marker) is charged for the most
// it can stand for. Text inside quoted scalars and comments is charged as tokens too, so the
// bound is loose for prose (about one node per word) and tight for manifests (one or two per
// node). The content of a block scalar (a "key: |" value: scripts, JSON dashboards) is not
// charged, as long as every line before it closed the quotes and brackets it opened, so that
// it cannot be inside a quoted scalar or flow collection. FuzzEstimateNodes checks that it is
// a bound.
func estimateNodes(data []byte) int64 {
	n := int64(2) // the document and its content
	sure := true  // every line so far closed what it opened: no quote or flow is open
	content := -1 // >= 0: lines indented this much, and blank lines, are block scalar content
	header := -1  // >= 0: a block scalar header was seen, whose parent is indented this much
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte("\n"))
		data = rest
		indent, blank := indentation(line)
		if content >= 0 && (blank || indent >= content) {
			continue
		}
		content = -1
		if header >= 0 && !blank {
			if indent > header {
				content, header = indent, -1
				continue
			}
			header = -1
		}
		n += lineNodes(line)
		if sure = sure && balanced(line); sure {
			header = blockHeader(line)
		}
	}
	return n
}

// indentation returns the spaces a line starts with, and whether it holds nothing else.
func indentation(line []byte) (int, bool) {
	i := 0
	for i < len(line) && line[i] == ' ' {
		i++
	}
	return i, i == len(line) || (i == len(line)-1 && line[i] == '\r')
}

// lineNodes charges the tokens and indicators of one line (see estimateNodes).
func lineNodes(line []byte) int64 {
	isSep := func(c byte) bool {
		switch c {
		case ' ', '\t', '\r', ',', '[', ']', '{', '}', ':':
			return true
		}
		return false
	}
	var n int64
	for i, c := range line {
		start := i == 0 || isSep(line[i-1])
		next := byte(' ')
		if i+1 < len(line) {
			next = line[i+1]
		}
		switch {
		case c == ':':
			n += 3 // an empty key, an empty value, a single-pair mapping in a flow sequence
		case c == ',':
			n += 2 // an entry and its empty value
		case c == '{':
			n += 2 // a mapping, and the empty value of an entry that has no ':' (the first)
		case c == '[':
			n++
		case !start || isSep(c):
		case (c == '-' || c == '?') && isSep(next):
			n += 3 // a collection, an empty entry (and its empty value)
		case (c == '-' || c == '.') && i == 0:
			n += 3 // perhaps a document marker: a document and its empty content
		default:
			n++
		}
	}
	return n
}

// balanced reports whether a line closes every double quote (backslash escapes), single
// quote and bracket it opens, counted naively: a false "no" only costs the estimate its
// tightness.
func balanced(line []byte) bool {
	dq, sq, depth := 0, 0, 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '"':
			dq++
		case '\'':
			sq++
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		}
	}
	return dq%2 == 0 && sq%2 == 0 && depth == 0
}

// headerLine matches a block scalar header that is the value of a plain key or a sequence
// entry: "  key: |", "- >-", "- name: |2".
var headerLine = regexp.MustCompile(`^( *)((?:- +)*)(?:([A-Za-z0-9_./-]+): +)?[|>][1-9+-]{0,2} *(?:#.*)?\r?$`)

// blockHeader returns the indentation of the node that holds the block scalar line starts,
// which its content must exceed, or -1 when line starts none.
func blockHeader(line []byte) int {
	if !bytes.ContainsAny(line, "|>") {
		return -1
	}
	m := headerLine.FindSubmatchIndex(line)
	switch {
	case m == nil:
		return -1
	case m[6] >= 0: // the key's column
		return m[6]
	case m[5] > m[4]: // the last dash's column
		return bytes.LastIndexByte(line[:m[5]], '-')
	}
	return -1
}
