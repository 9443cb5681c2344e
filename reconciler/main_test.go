package reconciler

import (
	"context"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/report"
	"github.com/plumbline/plumbline/test/cluster"
)

// env is the real control plane every test of this package runs against.
var env *cluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(cluster.RunTests(m, &env))
}

// scenario is one test's namespace with a fixture folder rendered and applied into it.
type scenario struct {
	t         *testing.T
	ctx       context.Context
	c         *Cluster
	namespace string
	objects   []manifests.Object
	// source is the ownership label value of this scenario's objects: one per test, so that
	// tests do not see each other's objects as pruned from Git.
	source string
}

// newScenario renders testdata/<fixture>, puts every object in a fresh namespace and applies
// them as Plumbline would, with the ownership label of source "test".
func newScenario(t *testing.T, fixture string) *scenario {
	t.Helper()
	ctx := context.Background()
	ns, err := env.NewNamespace(ctx, fixture)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifests.Render(ctx, "testdata", fixture, manifests.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		o.Object.SetNamespace(ns)
	}
	c, err := NewCluster(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	s := &scenario{t: t, ctx: ctx, c: c, namespace: ns, objects: objs, source: "test-" + ns}
	s.apply(s.objects)
	return s
}

func (s *scenario) apply(objs []manifests.Object) {
	s.t.Helper()
	us := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		us[i] = o.Object
	}
	if err := s.c.Apply(s.ctx, us, ApplyOptions{SourceName: s.source}); err != nil {
		s.t.Fatal(err)
	}
}

func (s *scenario) diff(objs []manifests.Object) *report.Report {
	s.t.Helper()
	opts := DefaultDiffOptions()
	opts.SourceName = s.source
	r, err := s.c.Diff(s.ctx, objs, opts)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// without returns the scenario's objects minus the one of that kind and name.
func (s *scenario) without(kind, name string) []manifests.Object {
	var out []manifests.Object
	for _, o := range s.objects {
		if o.Object.GetKind() != kind || o.Object.GetName() != name {
			out = append(out, o)
		}
	}
	return out
}

// toObject turns a typed object into a desired object from the given file.
func toObject(t *testing.T, obj any, source string) manifests.Object {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return manifests.Object{Object: u, Source: source}
}
