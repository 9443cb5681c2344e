package diff

import (
	"encoding/base64"
	"math/big"
	"reflect"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// serverSetMetadata lists metadata fields that the API server owns. They are never drift.
var serverSetMetadata = []string{
	"managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink",
	"deletionTimestamp", "deletionGracePeriodSeconds",
}

// Annotations that tools write about themselves, never drift even when a person's tool wrote them.
var toolAnnotations = map[string]bool{
	"kubectl.kubernetes.io/last-applied-configuration": true,
	"kubectl.kubernetes.io/restartedAt":                true,
	"deployment.kubernetes.io/revision":                true,
}

// prepare returns a copy of obj without status and server-set metadata. For a Secret,
// stringData is folded into data as the API server does. The copy is shallow: it shares every
// value it does not change with obj, so neither may be modified afterwards.
func prepare(obj *unstructured.Unstructured) *unstructured.Unstructured {
	out := &unstructured.Unstructured{Object: make(map[string]any, len(obj.Object))}
	for k, v := range obj.Object {
		if k != "status" {
			out.Object[k] = v
		}
	}
	if md, ok := obj.Object["metadata"].(map[string]any); ok {
		copied := make(map[string]any, len(md))
		for k, v := range md {
			copied[k] = v
		}
		for _, f := range serverSetMetadata {
			delete(copied, f)
		}
		if ann, ok := md["annotations"].(map[string]any); ok {
			kept := make(map[string]any, len(ann))
			for k, v := range ann {
				if !toolAnnotations[k] {
					kept[k] = v
				}
			}
			copied["annotations"] = kept
			if len(kept) == 0 {
				delete(copied, "annotations")
			}
		}
		out.Object["metadata"] = copied
	}
	// kubectl rollout restart writes restartedAt into the pod template.
	for _, path := range podTemplateAnnotations {
		if stripped, changed := withoutToolAnnotations(out.Object, path); changed {
			out.Object = stripped
		}
	}
	if isSecret(out) {
		foldStringData(out.Object)
	}
	return out
}

// podTemplateAnnotations are where workloads keep their pods' annotations.
var podTemplateAnnotations = [][]string{
	{"spec", "template", "metadata", "annotations"},
	{"spec", "jobTemplate", "spec", "template", "metadata", "annotations"},
}

// withoutToolAnnotations returns m with the tool annotations removed from the annotations map at
// path, and an annotations map left empty removed. It copies every map it changes and reports
// whether it changed anything; m itself is never modified.
func withoutToolAnnotations(m map[string]any, path []string) (map[string]any, bool) {
	child, ok := m[path[0]].(map[string]any)
	if !ok {
		return m, false
	}
	var replaced map[string]any
	if len(path) == 1 {
		replaced = make(map[string]any, len(child))
		for k, v := range child {
			if !toolAnnotations[k] {
				replaced[k] = v
			}
		}
		if len(replaced) == len(child) {
			return m, false
		}
	} else {
		var changed bool
		if replaced, changed = withoutToolAnnotations(child, path[1:]); !changed {
			return m, false
		}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	if len(replaced) == 0 && len(path) == 1 {
		delete(out, path[0])
	} else {
		out[path[0]] = replaced
	}
	return out, true
}

func isSecret(obj *unstructured.Unstructured) bool {
	return obj.GetKind() == "Secret" && obj.GroupVersionKind().Group == ""
}

func foldStringData(obj map[string]any) {
	sd, ok := obj["stringData"].(map[string]any)
	if !ok {
		delete(obj, "stringData")
		return
	}
	data := map[string]any{}
	if old, ok := obj["data"].(map[string]any); ok {
		for k, v := range old {
			data[k] = v
		}
	}
	for k, v := range sd {
		if s, ok := v.(string); ok {
			data[k] = base64.StdEncoding.EncodeToString([]byte(s))
		}
	}
	obj["data"] = data
	delete(obj, "stringData")
}

// equivalent reports whether two values are the same once the API server's normalisation is
// applied: numbers of equal value, and, inside a resource list (limits, requests, hard…),
// quantities of equal amount ("1000m" and "1", "1Gi" and "1024Mi", 1 and "1"). It may say "no"
// where the server would say "yes"; a dry run settles those. It never says "yes" where the
// server would store different values.
func equivalent(p fieldpath.Path, a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	if x, ok := number(a); ok {
		if y, ok := number(b); ok {
			return x.Cmp(y) == 0
		}
	}
	if !inResourceList(p) {
		return false
	}
	qa, ok1 := quantity(a)
	qb, ok2 := quantity(b)
	return ok1 && ok2 && qa.Cmp(qb) == 0
}

// resourceLists are the fields whose values are quantities keyed by resource name.
var resourceLists = map[string]bool{
	"limits": true, "requests": true, "hard": true, "capacity": true, "allocatable": true,
	"overhead": true, "default": true, "defaultRequest": true, "max": true, "min": true,
}

func inResourceList(p fieldpath.Path) bool {
	if len(p) < 2 || p[len(p)-2].FieldName == nil {
		return false
	}
	return resourceLists[*p[len(p)-2].FieldName]
}

func quantity(v any) (resource.Quantity, bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case int64:
		s = strconv.FormatInt(x, 10)
	case int:
		s = strconv.Itoa(x)
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64) // exact: 0.0005 stays 500u
	default:
		return resource.Quantity{}, false
	}
	q, err := resource.ParseQuantity(s)
	return q, err == nil
}

func number(v any) (*big.Rat, bool) {
	switch x := v.(type) {
	case int64:
		return new(big.Rat).SetInt64(x), true
	case int:
		return new(big.Rat).SetInt64(int64(x)), true
	case int32:
		return new(big.Rat).SetInt64(int64(x)), true
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(x) == nil {
			return nil, false
		}
		return r, true
	}
	return nil, false
}
