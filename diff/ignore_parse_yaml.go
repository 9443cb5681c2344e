package diff

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ignoreYAMLError turns an error of yaml.v3's strict decoder into an *IgnoreFileError: the
// first of a TypeError's "line N: ..." entries (they come in document order), or the
// "yaml: line N: ..." of a syntax error, in the file's terms rather than the Go types behind
// the decoder.
func ignoreYAMLError(file string, err error) error {
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
			msg = fmt.Sprintf("want %s, got %s", ignoreYAMLWant(into), ignoreYAMLGot(got))
		}
	}
	return &IgnoreFileError{File: file, Line: line, Msg: msg}
}

// ignoreYAMLWant names the shape a Go type of the decoder stands for.
func ignoreYAMLWant(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "a mapping"
	}
	return "a " + goType
}

// ignoreYAMLGot describes "!!map", "!!seq" or "!!int `12`" as a reader would.
func ignoreYAMLGot(tagged string) string {
	tag, value, _ := strings.Cut(tagged, " ")
	switch tag {
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	}
	return strings.TrimSpace(strings.TrimPrefix(tag, "!!") + " " + strings.Trim(value, "`"))
}
