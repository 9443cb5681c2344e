package policy

import (
	"math"
	"slices"
)

// Accessors for unstructured content. A value of an unexpected type reads
// as absent: the API server rejects such objects anyway, and a rule must not
// panic on what a pull request contains.

func mapField(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	return v
}

func sliceField(m map[string]any, key string) []any {
	v, _ := m[key].([]any)
	return v
}

func boolField(m map[string]any, key string) bool {
	v, _ := m[key].(bool)
	return v
}

func optBool(v any) *bool {
	b, ok := v.(bool)
	if !ok {
		return nil
	}
	return &b
}

// optInt reads an integer as unstructured decoding produces it: int64 from
// the JSON decoder, int from YAML, float64 from encoding/json.
func optInt(v any) *int64 {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case int:
		n = int64(x)
	case int32:
		n = int64(x)
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) || math.IsNaN(x) {
			return nil
		}
		n = int64(x)
	default:
		return nil
	}
	return &n
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }
