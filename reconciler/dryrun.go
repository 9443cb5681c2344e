package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/spec3"
)

// Bounds of the dry-run cache: answers are kept per live object version and desired object, so
// that steady state costs no dry runs however the objects were applied.
const (
	dryRunCacheSize = 8192
	dryRunCacheTTL  = 30 * time.Minute
)

// crdDryRunGroup prefixes the group of a CustomResourceDefinition that is dry-run created: its
// name must be <plural>.<group>, and its own name is taken by the live object.
const crdDryRunGroup = "plumbline-dry-run."

// dryRunner implements diff.ServerDryRunner against the cluster. It writes nothing: every
// request carries dryRun=All. Answers, and refusals of invalid objects, are cached in the
// Cluster by the live object's UID and version and the desired object's hash (see dryRunKey).
type dryRunner struct{ c *Cluster }

// dryRunAnswer is one cached answer: the object the server would store, or its refusal.
type dryRunAnswer struct {
	obj *unstructured.Unstructured
	err error
}

// newDryRunCache returns the bounded cache a Cluster keeps its dry-run answers in.
func newDryRunCache() *cache.LRUExpireCache { return cache.NewLRUExpireCache(dryRunCacheSize) }

// DryRunApply server-side applies desired as manager, forcing conflicts, in dry-run mode.
func (d dryRunner) DryRunApply(ctx context.Context, desired, live *unstructured.Unstructured, manager string) (*unstructured.Unstructured, error) {
	return d.cached(ctx, "apply "+manager, desired, live, func(ctx context.Context) (*unstructured.Unstructured, error) {
		m, err := d.c.mappingFor(desired.GroupVersionKind())
		if err != nil {
			return nil, err
		}
		return d.c.resource(m, desired.GetNamespace()).Apply(ctx, desired.GetName(), desired, metav1.ApplyOptions{
			FieldManager: manager, Force: true, DryRun: []string{metav1.DryRunAll},
		})
	})
}

// DryRunCreate creates desired anew in dry-run mode, under a generated name so that it does not
// collide with the live object, and returns what the server would store. A
// CustomResourceDefinition, whose name must be <plural>.<group>, is created in another group.
func (d dryRunner) DryRunCreate(ctx context.Context, desired, live *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return d.cached(ctx, "create", desired, live, func(ctx context.Context) (*unstructured.Unstructured, error) {
		m, err := d.c.mappingFor(desired.GroupVersionKind())
		if err != nil {
			return nil, err
		}
		obj := desired.DeepCopy()
		if err := renameForCreate(obj); err != nil {
			return nil, err
		}
		out, err := d.c.resource(m, obj.GetNamespace()).Create(ctx, obj, metav1.CreateOptions{
			FieldManager: FieldManager, DryRun: []string{metav1.DryRunAll},
		})
		if err != nil {
			return nil, fmt.Errorf("as %s%s: %w", obj.GetName(), obj.GetGenerateName(), err)
		}
		return out, nil
	})
}

// renameForCreate gives obj a name that does not collide with the live object and that its
// kind's validation accepts.
func renameForCreate(obj *unstructured.Unstructured) error {
	if obj.GroupVersionKind().GroupKind().String() == "CustomResourceDefinition.apiextensions.k8s.io" {
		group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "plural")
		if group == "" || plural == "" {
			return fmt.Errorf("declares no spec.group or spec.names.plural")
		}
		if err := unstructured.SetNestedField(obj.Object, crdDryRunGroup+group, "spec", "group"); err != nil {
			return err
		}
		obj.SetName(plural + "." + crdDryRunGroup + group)
		return nil
	}
	prefix := obj.GetName()
	if len(prefix) > 40 {
		prefix = prefix[:40]
	}
	obj.SetName("")
	obj.SetGenerateName(strings.TrimRight(prefix, ".") + "-")
	return nil
}

// cached answers from the Cluster's cache, or asks the server and remembers the answer. Only
// answers and refusals of invalid objects are kept: an unreachable server is asked again.
func (d dryRunner) cached(ctx context.Context, verb string, desired, live *unstructured.Unstructured,
	ask func(context.Context) (*unstructured.Unstructured, error)) (*unstructured.Unstructured, error) {
	key, ok := dryRunKey(verb, desired, live)
	if ok {
		if v, hit := d.c.dryRuns.Get(key); hit {
			a := v.(dryRunAnswer)
			return a.obj, a.err
		}
	}
	obj, err := ask(ctx)
	if ok && (err == nil || apierrors.IsInvalid(err)) {
		d.c.dryRuns.Add(key, dryRunAnswer{obj: obj, err: err}, dryRunCacheTTL)
	}
	return obj, err
}

// dryRunKey identifies one dry run: the verb, the live object's UID, a hash of the desired
// object, and for an apply a hash of the live object as far as the answer depends on it. That
// hash leaves out what controllers rewrite all day without changing the answer (status, its
// resourceVersion, managedFields entries of subresources, write times), so that a Deployment
// whose status the controller updates costs no new dry run. A create's answer does not depend on
// the live object at all. It reports false when the live object has no UID.
func dryRunKey(verb string, desired, live *unstructured.Unstructured) (string, bool) {
	if live == nil || live.GetUID() == "" {
		return "", false
	}
	d, err := json.Marshal(desired.Object) // map keys are sorted: equal objects, equal bytes
	if err != nil {
		return "", false
	}
	key := fmt.Sprintf("%s %s %x", verb, live.GetUID(), sha256.Sum256(d))
	if verb == "create" {
		return key, true
	}
	l, err := json.Marshal(dryRunRelevant(live))
	if err != nil {
		return "", false
	}
	return fmt.Sprintf("%s %x", key, sha256.Sum256(l)), true
}

// dryRunRelevant returns the parts of a live object that a dry run's answer depends on.
func dryRunRelevant(live *unstructured.Unstructured) map[string]any {
	out := make(map[string]any, len(live.Object))
	for k, v := range live.Object {
		if k != "status" && k != "metadata" {
			out[k] = v
		}
	}
	md := map[string]any{}
	if m, ok := live.Object["metadata"].(map[string]any); ok {
		for k, v := range m {
			switch k {
			case "resourceVersion", "managedFields":
			default:
				md[k] = v
			}
		}
	}
	var owners []any
	for _, e := range live.GetManagedFields() {
		if e.Subresource != "" {
			continue
		}
		var fields string
		if e.FieldsV1 != nil {
			fields = string(e.FieldsV1.Raw)
		}
		owners = append(owners, []string{e.Manager, string(e.Operation), e.APIVersion, fields})
	}
	md["managedFields"] = owners
	out["metadata"] = md
	return out
}

// How long a group-version's published schema is trusted, and how soon a failure to fetch one
// is tried again.
const (
	schemaTTL      = 10 * time.Minute
	schemaRetryTTL = 30 * time.Second
)

// schemaSource implements diff.SchemaSource from the API server's OpenAPI v3 document of each
// group-version, fetched once per group-version and kept in the Cluster.
type schemaSource struct{ c *Cluster }

// schemaAnswer is one cached fetch of a group-version's schema.
type schemaAnswer struct {
	tc  managedfields.TypeConverter
	err error
}

// TypeConverter returns a converter for the kinds of gv, from /openapi/v3/apis/<group>/<version>.
func (s schemaSource) TypeConverter(ctx context.Context, gv schema.GroupVersion) (managedfields.TypeConverter, error) {
	key := gv.String()
	if v, ok := s.c.schemas.Get(key); ok {
		a := v.(schemaAnswer)
		return a.tc, a.err
	}
	v, err, _ := s.c.schemaFetch.Do(key, func() (any, error) {
		tc, err := s.fetch(ctx, gv)
		if err != nil && ctx.Err() != nil {
			return nil, err // the caller gave up: not the server's answer
		}
		ttl := schemaTTL
		if err != nil {
			ttl = schemaRetryTTL
		}
		s.c.schemas.Add(key, schemaAnswer{tc: tc, err: err}, ttl)
		return schemaAnswer{tc: tc, err: err}, nil
	})
	if err != nil {
		return nil, err
	}
	a := v.(schemaAnswer)
	return a.tc, a.err
}

func (s schemaSource) fetch(ctx context.Context, gv schema.GroupVersion) (managedfields.TypeConverter, error) {
	path := "/openapi/v3/apis/" + gv.Group + "/" + gv.Version
	if gv.Group == "" {
		path = "/openapi/v3/api/" + gv.Version
	}
	raw, err := s.c.discovery.RESTClient().Get().AbsPath(path).SetHeader("Accept", "application/json").Do(ctx).Raw()
	if err != nil {
		return nil, fmt.Errorf("OpenAPI schema of %s: %w", gv, err)
	}
	var doc spec3.OpenAPI
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("OpenAPI schema of %s: %w", gv, err)
	}
	if doc.Components == nil {
		return nil, fmt.Errorf("OpenAPI schema of %s: no components", gv)
	}
	tc, err := managedfields.NewTypeConverter(doc.Components.Schemas, false)
	if err != nil {
		return nil, fmt.Errorf("OpenAPI schema of %s: %w", gv, err)
	}
	return tc, nil
}
