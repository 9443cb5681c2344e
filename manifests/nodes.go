package manifests

import "sync/atomic"

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
// stand for empty nodes (':', ',', '?', '-', a document marker) is charged for the most it
// can stand for. Text inside quoted and block scalars and comments is charged as tokens
// too, so the bound is loose for prose (about one node per word) and tight for manifests
// (one or two per node). FuzzEstimateNodes checks that it is a bound.
func estimateNodes(data []byte) int64 {
	isSep := func(c byte) bool {
		switch c {
		case ' ', '\t', '\n', '\r', ',', '[', ']', '{', '}', ':':
			return true
		}
		return false
	}
	n := int64(2) // the document and its content
	for i := 0; i < len(data); i++ {
		c := data[i]
		start := i == 0 || isSep(data[i-1])
		next := byte(' ')
		if i+1 < len(data) {
			next = data[i+1]
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
		case (c == '-' || c == '.') && (i == 0 || data[i-1] == '\n'):
			n += 3 // perhaps a document marker: a document and its empty content
		default:
			n++
		}
	}
	return n
}
