package reconciler

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/plumbline/plumbline/manifests"
)

// requestCounter counts the dry-run and OpenAPI requests that pass through it.
type requestCounter struct {
	next            http.RoundTripper
	dryRuns, schema atomic.Int64
}

func (c *requestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Query().Has("dryRun") {
		c.dryRuns.Add(1)
	}
	if strings.HasPrefix(req.URL.Path, "/openapi/") {
		c.schema.Add(1)
	}
	return c.next.RoundTrip(req)
}

// countingCluster returns a Cluster whose requests go through a requestCounter.
func countingCluster(t *testing.T) (*Cluster, *requestCounter) {
	t.Helper()
	counter := &requestCounter{}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		counter.next = rt
		return counter
	})
	c, err := NewCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, counter
}

// Objects applied client-side have kubectl's client-side manager as the owner of every default,
// so each costs a dry-run create to tell defaults from a person's additions. Steady state must
// cost none: the answers are cached by the live object's version and the desired object.
func TestDryRunsCachedInSteadyState(t *testing.T) {
	s, _, crd, cr := crdScenario(t, func(s *scenario, crd *unstructured.Unstructured) { createClientSide(s.t, crdGVR, crd) })
	objs, err := manifests.Render(s.ctx, "testdata", "benign-corpus", manifests.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		o.Object.SetNamespace(s.namespace)
		m, err := s.c.mappingFor(o.Object.GroupVersionKind())
		if err != nil {
			t.Fatal(err)
		}
		createClientSide(t, m.gvr, o.Object)
	}
	objs = append(objs, crd, cr)
	counted, counter := countingCluster(t)

	start := time.Now()
	first := s.diffDeclared(counted, objs)
	clean(t, first)
	dryRuns, schemas := counter.dryRuns.Load(), counter.schema.Load()
	t.Logf("first run over %d objects: %d dry runs, %d schema requests, %s", len(objs), dryRuns, schemas, time.Since(start))
	if dryRuns == 0 {
		t.Fatal("the first run made no dry runs: the objects were not applied client-side")
	}

	counter.dryRuns.Store(0)
	counter.schema.Store(0)
	start = time.Now()
	clean(t, s.diffDeclared(counted, objs))
	t.Logf("steady state: %d dry runs, %d schema requests, %s", counter.dryRuns.Load(), counter.schema.Load(), time.Since(start))
	if n, m := counter.dryRuns.Load(), counter.schema.Load(); n != 0 || m != 0 {
		t.Errorf("steady state made %d dry runs and %d schema requests, want none", n, m)
	}

	// A change of a declared field makes the changed object alone asked again, by one dry-run
	// apply (its create is the same as before: Git did not change).
	edit(t, depGVR, s.namespace, "web", "kubectl-edit", types.JSONPatchType,
		`[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"registry.example.com/web:2.4.0"}]`)
	counter.dryRuns.Store(0)
	r := s.diffDeclared(counted, objs)
	if len(r.Findings) != 1 || r.Findings[0].Object.Name != "web" {
		t.Errorf("after the edit, findings = %+v, want one on web", r.Findings)
	}
	if n := counter.dryRuns.Load(); n != 1 {
		t.Errorf("after one edit, %d dry runs, want 1 (that object's apply)", n)
	}
}
