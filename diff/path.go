package diff

import (
	"errors"
	"strings"

	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// splitPath cuts a path in structured-merge-diff notation into its elements: ".name" for a field
// and "[...]" for a list element, honouring quoted strings inside brackets.
func splitPath(p string) ([]string, error) {
	var out []string
	for i := 0; i < len(p); {
		switch p[i] {
		case '.':
			j := i + 1
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			if j == i+1 {
				return nil, errors.New("empty field name")
			}
			out = append(out, p[i:j])
			i = j
		case '[':
			j, quoted := i+1, false
			for ; j < len(p); j++ {
				if p[j] == '\\' && quoted {
					j++
					continue
				}
				if p[j] == '"' {
					quoted = !quoted
				}
				if p[j] == ']' && !quoted {
					break
				}
			}
			if j >= len(p) {
				return nil, errors.New("unterminated '['")
			}
			out = append(out, p[i:j+1])
			i = j + 1
		default:
			return nil, errors.New("expected '.' or '['")
		}
	}
	return out, nil
}

// matchesPattern reports whether path p lies at or below one of the patterns. A pattern is
// matched element by element as structured-merge-diff prints them, so a field name with dots
// in it (a label key such as app.kubernetes.io/name) is one element; "[*]" in a pattern matches
// any list element.
func matchesPattern(patterns []string, p fieldpath.Path) bool {
	for _, pat := range patterns {
		if matchesOne(pat, p) {
			return true
		}
	}
	return false
}

func matchesOne(pattern string, p fieldpath.Path) bool {
	rest := pattern
	for _, pe := range p {
		if rest == "" {
			return true
		}
		s := pe.String()
		switch {
		case strings.HasPrefix(rest, "[*]") && strings.HasPrefix(s, "["):
			rest = rest[len("[*]"):]
		case strings.HasPrefix(rest, s):
			rest = rest[len(s):]
		default:
			return false
		}
	}
	return rest == ""
}

// valueAt returns the value at path p of an unstructured object, and whether it is there.
func valueAt(obj any, p fieldpath.Path) (any, bool) {
	cur := obj
	for _, pe := range p {
		switch {
		case pe.FieldName != nil:
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[*pe.FieldName]; !ok {
				return nil, false
			}
		case pe.Index != nil:
			l, ok := cur.([]any)
			if !ok || *pe.Index < 0 || *pe.Index >= len(l) {
				return nil, false
			}
			cur = l[*pe.Index]
		case pe.Key != nil:
			l, ok := cur.([]any)
			if !ok {
				return nil, false
			}
			if cur, ok = findByKey(l, *pe.Key); !ok {
				return nil, false
			}
		case pe.Value != nil:
			l, ok := cur.([]any)
			if !ok {
				return nil, false
			}
			if cur, ok = findByValue(l, *pe.Value); !ok {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return cur, true
}

// findByKey finds the element of an associative list whose key fields equal key. An element
// that sets every key field wins; failing that, an element that omits some (one the server
// defaults, like a port's protocol) and matches the rest.
func findByKey(l []any, key value.FieldList) (any, bool) {
	var partial any
	for _, item := range l {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		match, complete := true, true
		for _, f := range key {
			v, ok := m[f.Name]
			if !ok {
				complete = false
				continue
			}
			if !value.Equals(value.NewValueInterface(v), f.Value) {
				match = false
				break
			}
		}
		switch {
		case match && complete:
			return item, true
		case match && partial == nil:
			partial = item
		}
	}
	return partial, partial != nil
}

func findByValue(l []any, want value.Value) (any, bool) {
	for _, item := range l {
		if value.Equals(value.NewValueInterface(item), want) {
			return item, true
		}
	}
	return nil, false
}

// topmost keeps the paths of s that have no proper prefix in s: a whole added container rather
// than each of its fields.
func topmost(s *fieldpath.Set) []fieldpath.Path {
	var out []fieldpath.Path
	s.Iterate(func(p fieldpath.Path) {
		for i := 1; i < len(p); i++ {
			if s.Has(p[:i]) {
				return
			}
		}
		out = append(out, p.Copy())
	})
	return out
}

// withPrefixes returns s plus every prefix of its paths: the set of every field that exists,
// not only the leaves and list elements that ToFieldSet lists.
func withPrefixes(s *fieldpath.Set) *fieldpath.Set {
	out := fieldpath.NewSet()
	s.Iterate(func(p fieldpath.Path) {
		for i := 1; i <= len(p); i++ {
			out.Insert(p[:i])
		}
	})
	return out
}

// setValueAt writes v at path p of an unstructured object, making the maps on the way. It reports
// false, changing nothing further, where the path goes through a list element that is not there
// or through a value that is not a map.
func setValueAt(obj map[string]any, p fieldpath.Path, v any) bool {
	cur := any(obj)
	for i, pe := range p {
		last := i == len(p)-1
		switch {
		case pe.FieldName != nil:
			m, ok := cur.(map[string]any)
			if !ok {
				return false
			}
			if last {
				m[*pe.FieldName] = v
				return true
			}
			next, ok := m[*pe.FieldName]
			if !ok {
				next = map[string]any{}
				m[*pe.FieldName] = next
			}
			cur = next
		case pe.Key != nil && !last:
			l, ok := cur.([]any)
			if !ok {
				return false
			}
			if cur, ok = findByKey(l, *pe.Key); !ok {
				return false
			}
		default:
			return false
		}
	}
	return false
}
