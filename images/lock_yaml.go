package images

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// lockYAMLError turns an error of yaml.v3's strict decoder into the
// "file:line: message" shape of every Plumbline file error: the first of a
// TypeError's "line N: ..." entries (they come in document order), or the
// "yaml: line N: ..." of a syntax error. The messages name YAML's notions,
// not the Go types behind the decoder.
func lockYAMLError(file string, err error) error {
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
	return &LockFileError{File: file, Line: line, Msg: lockYAMLMessage(msg)}
}

// lockYAMLMessage rewrites yaml.v3's decoding messages, which quote Go
// types, in the file's own terms.
func lockYAMLMessage(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "field "); ok {
		if i := strings.LastIndex(rest, " not found in type "); i >= 0 {
			return fmt.Sprintf("unknown field %q", rest[:i])
		}
	}
	if rest, ok := strings.CutPrefix(msg, "cannot unmarshal "); ok {
		if got, into, ok := strings.Cut(rest, " into "); ok {
			return fmt.Sprintf("want %s, got %s", lockGoTypeWord(into), lockTagWord(got))
		}
	}
	return msg
}

func lockGoTypeWord(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.Contains(t, "."):
		return "a mapping"
	}
	return "a " + t
}

// lockTagWord describes "!!map", "!!seq" or "!!int `12`" as a reader would.
func lockTagWord(tagged string) string {
	tag, value, _ := strings.Cut(tagged, " ")
	switch tag {
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	}
	return strings.TrimSpace(strings.TrimPrefix(tag, "!!") + " " + strings.Trim(value, "`"))
}

// lockNodeWord describes a node for a type error.
func lockNodeWord(n *yaml.Node) string {
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
