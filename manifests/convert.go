package manifests

import (
	"fmt"
	"math"
	"time"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// localConfigAnnotation marks an object that kustomize reads but never emits; plain folders
// follow the same rule so that both modes agree on what Git declares.
const localConfigAnnotation = "config.kubernetes.io/local-config"

// located is an object with the line its document starts on.
type located struct {
	obj  *unstructured.Unstructured
	line int
}

// nodeObjects appends the objects of one YAML document (or list item) to out: nothing for
// an empty document, the items of a list, otherwise the document itself, which must be a
// mapping with apiVersion, kind and metadata.name.
func nodeObjects(n *yaml.Node, out []located) ([]located, error) {
	if isNull(n) {
		return out, nil
	}
	if items, ok := listItems(n); ok {
		for _, it := range items {
			var err error
			if out, err = nodeObjects(it, out); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	d := deref(n)
	line := d.Line
	if d.Kind != yaml.MappingNode {
		return nil, &FileError{Line: line, Err: fmt.Errorf("document is not a Kubernetes object (a mapping)")}
	}
	var raw any
	if err := d.Decode(&raw); err != nil {
		return nil, &FileError{Line: line, Err: fmt.Errorf("decoding object: %w", err)}
	}
	v, err := jsonValue(raw)
	if err != nil {
		return nil, &FileError{Line: line, Err: err}
	}
	m, _ := v.(map[string]any) // d is a mapping, so v is one
	u := &unstructured.Unstructured{Object: m}
	if u.GroupVersionKind().Group == configGroup {
		return out, nil
	}
	switch {
	case u.GetAPIVersion() == "":
		return nil, &FileError{Line: line, Err: fmt.Errorf("object has no apiVersion")}
	case u.GetKind() == "":
		return nil, &FileError{Line: line, Err: fmt.Errorf("object has no kind")}
	case u.GetName() == "":
		return nil, &FileError{Line: line, Err: fmt.Errorf("%s object has no metadata.name", u.GetKind())}
	}
	if err := checkNames(IDOf(u)); err != nil {
		return nil, &FileError{Line: line, Err: err}
	}
	if v, ok := u.GetAnnotations()[localConfigAnnotation]; ok && v != "false" {
		return out, nil
	}
	return append(out, located{obj: u, line: line}), nil
}

// configGroup is the API group of Plumbline's own files (the image lock file, policy sets,
// ignore rules). They configure Plumbline and are never objects for the cluster, so a plain
// folder may hold them next to its manifests.
const configGroup = "plumbline.dev"

// jsonValue converts a value decoded by go-yaml into the JSON-compatible types that
// unstructured objects hold: map[string]any, []any, string, int64, float64, bool and nil.
func jsonValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, int64:
		return x, nil
	case int:
		return int64(x), nil
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), nil
		}
		return float64(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("number %v cannot be represented in JSON", x)
		}
		// A whole number that JSON writes without exponent or point reads back as an integer,
		// as it does through kustomize and the API server: 1e3 is 1000.
		if x == math.Trunc(x) && math.Abs(x) < 1e21 && x >= math.MinInt64 && x < math.MaxInt64 {
			return int64(x), nil
		}
		return x, nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case []byte:
		return string(x), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			var ks string
			switch kk := k.(type) {
			case string:
				ks = kk
			case int, int64, uint64, float64, bool:
				ks = fmt.Sprint(kk)
			default:
				return nil, fmt.Errorf("mapping key %v of type %T cannot be a JSON field name", k, k)
			}
			c, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			out[ks] = c
		}
		return out, nil
	}
	return nil, fmt.Errorf("YAML value of type %T cannot be represented in JSON", v)
}
