package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/reconciler"
)

// benignObjects is how many objects testdata/benign-controllers declares.
const benignObjects = 20

// TestBenignCorpusWithControllers applies a corpus of every common kind (Services ClusterIP and
// headless, a Deployment under an HPA, a StatefulSet with volume claim templates, a CronJob, a
// Job, a PDB, RBAC with an aggregated ClusterRole, an Ingress, a NetworkPolicy, a CRD and its
// custom resources) the three ways it gets applied, waits until kube-controller-manager has acted
// on every object, and expects `plumbline diff` to find nothing. The modes run one after the
// other, each removing its cluster-scoped objects at the end, so that no run sees another's.
func TestBenignCorpusWithControllers(t *testing.T) {
	modes := []struct {
		name  string
		apply func(t *testing.T, dir, sub, ns, source string)
	}{
		{"kubectl apply", kubectlApply("apply")},
		{"kubectl apply --server-side", kubectlApply("apply", "--server-side")},
		{"plumbline apply", plumblineApply},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			ns := newNamespace(t, "benign-ctl")
			source := "benign-" + ns
			dir := benignCorpus(t, ns)
			defer removeClusterScoped(t, ns)

			mode.apply(t, dir, "crds", ns, source)
			kubectl(t, "wait", "--for=condition=Established", "--timeout=60s", "crd/widgets."+ns+".benign.example.com")
			mode.apply(t, dir, "app", ns, source)
			waitForControllers(t, ns)

			r := diff(t, "--path", dir, "-n", ns, "--skip-images", "--source-name", source)
			want := fmt.Sprintf("No drift: %d objects match", benignObjects)
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("after %s and the controllers: exit %d, want 0 and %q\n%s%s", mode.name, r.code, want, r.stdout, r.stderr)
			}
		})
	}
}

// benignCorpus copies testdata/benign-controllers into a temporary folder with NAMESPACE
// replaced by ns, and returns the folder.
func benignCorpus(t *testing.T, ns string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range fixture(t, "benign-controllers") {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(body, "NAMESPACE", ns)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// kubectlApply applies a folder of the corpus with kubectl and the given verb and flags.
func kubectlApply(verb ...string) func(t *testing.T, dir, sub, ns, source string) {
	return func(t *testing.T, dir, sub, ns, _ string) {
		t.Helper()
		kubectl(t, append(verb, "-n", ns, "-f", filepath.Join(dir, sub))...)
	}
}

// plumblineApply applies a folder of the corpus as Plumbline does: rendered by manifests,
// server-side applied by the reconciler as field manager plumbline, with the source's label.
func plumblineApply(t *testing.T, dir, sub, ns, source string) {
	t.Helper()
	objs, err := manifests.Render(t.Context(), dir, sub, manifests.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A new client for each folder: its REST mapping must know the CRD applied before.
	c, err := reconciler.NewCluster(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	us := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		us[i] = o.Object
	}
	if err := c.Apply(t.Context(), us, reconciler.ApplyOptions{SourceName: source, DefaultNamespace: ns}); err != nil {
		t.Fatalf("plumbline apply %s: %v", sub, err)
	}
}

// removeClusterScoped deletes the cluster-scoped objects of one run (the CRD with its custom
// resources, the ClusterRoles and the binding) and waits until they are gone.
func removeClusterScoped(t *testing.T, ns string) {
	t.Helper()
	r := runCmd(t, nil, "kubectl", "delete", "customresourcedefinitions,clusterroles,clusterrolebindings",
		"-l", "benign-corpus="+ns, "--wait", "--timeout=60s")
	if r.code != 0 {
		t.Errorf("remove the cluster-scoped objects: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// waitForControllers waits until kube-controller-manager has acted on every object of the corpus
// in ns, and fails the test naming what it did not do.
func waitForControllers(t *testing.T, ns string) {
	t.Helper()
	checks, err := controllerChecks(ns)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()
	pending := map[string]string{}
	for {
		clear(pending)
		for _, c := range checks {
			ok, err := c.done(ctx)
			if err != nil {
				pending[c.what] = err.Error()
			} else if !ok {
				pending[c.what] = "not yet"
			}
		}
		if len(pending) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			var lines []string
			for what, why := range pending {
				lines = append(lines, what+": "+why)
			}
			t.Fatalf("the controllers did not act within the limit:\n  %s", strings.Join(lines, "\n  "))
		case <-time.After(time.Second):
		}
	}
}
