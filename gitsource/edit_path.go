package gitsource

import (
	"fmt"
	"strconv"
	"strings"
)

// kyamlPath turns a field path in structured-merge-diff notation
// (.spec.template.spec.containers[name="nginx"].image) into kyaml's path
// parts ("spec", "template", "spec", "containers", "[name=nginx]", "image").
// List elements keyed by more than one field, and values that contain "=" or
// "]", are not supported: the caller falls back to a patch of its own.
func kyamlPath(p string) ([]string, error) {
	if !strings.HasPrefix(p, ".") {
		return nil, fmt.Errorf("field path %q: want a leading dot", p)
	}
	var parts []string
	rest := p
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			name := rest[:end]
			if name == "" {
				return nil, fmt.Errorf("field path %q: empty field name", p)
			}
			parts = append(parts, name)
			rest = rest[end:]
		case '[':
			end := strings.Index(rest, "]")
			if end < 0 {
				return nil, fmt.Errorf("field path %q: unclosed [", p)
			}
			sel := rest[1:end]
			rest = rest[end+1:]
			part, err := kyamlSelector(sel)
			if err != nil {
				return nil, fmt.Errorf("field path %q: %w", p, err)
			}
			parts = append(parts, part)
		default:
			return nil, fmt.Errorf("field path %q: unexpected %q", p, rest[:1])
		}
	}
	return parts, nil
}

// kyamlSelector turns one list selector: name="nginx", ="value" (a set element) or 3 (an
// index) into kyaml's form.
func kyamlSelector(sel string) (string, error) {
	if _, err := strconv.Atoi(sel); err == nil {
		return sel, nil
	}
	key, raw, ok := strings.Cut(sel, "=")
	if !ok {
		return "", fmt.Errorf("list selector [%s] is not key=value", sel)
	}
	if strings.Contains(raw, ",") && strings.Contains(raw, "=") {
		return "", fmt.Errorf("list selector [%s] has more than one key", sel)
	}
	value := raw
	if uq, err := strconv.Unquote(raw); err == nil {
		value = uq
	}
	if strings.ContainsAny(value, "=[]") {
		return "", fmt.Errorf("list selector [%s] has a value kyaml cannot match", sel)
	}
	return "[" + key + "=" + value + "]", nil
}
