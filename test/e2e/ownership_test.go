package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/report"
	"github.com/plumbline/plumbline/test/gitserver"
)

// ownershipTree is a source of a Deployment, the Service in front of it and a ClusterRole
// named after the test's namespace, under app/.
func ownershipTree(ns string, resources ...string) map[string]string {
	return map[string]string{
		"app/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- " + strings.Join(resources, "\n- ") + "\n",
		"app/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27.0
`,
		"app/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web}
spec:
  selector: {app: web}
  ports:
  - port: 80
`,
		"app/rbac.yaml": fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: %s-reader
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
`, ns),
	}
}

// applyThePlumblineWay renders dir and applies it as Plumbline does, which records the
// source's inventory.
func applyThePlumblineWay(t *testing.T, dir, ns, source string) {
	t.Helper()
	objs, err := manifests.Render(t.Context(), dir, ".", manifests.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	us := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		us[i] = o.Object
	}
	c, err := reconciler.NewCluster(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(t.Context(), us, reconciler.ApplyOptions{SourceName: source, DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
}

// waitForLabelledEndpoints waits until kube-controller-manager made the Service's Endpoints
// with its labels copied, ownership label included.
func waitForLabelledEndpoints(t *testing.T, ns, service, source string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		ep, err := env.Clientset.CoreV1().Endpoints(ns).Get(ctx, service, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && ep.Labels[reconciler.LabelSource] == source, err
	})
	if err != nil {
		t.Fatalf("Endpoints %s/%s with label %s=%s: %v", ns, service, reconciler.LabelSource, source, err)
	}
}

func deleteClusterRoles(t *testing.T, names ...string) {
	t.Cleanup(func() {
		for _, n := range names {
			err := env.Clientset.RbacV1().ClusterRoles().Delete(context.Background(), n, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				t.Error(err)
			}
		}
	})
}

// TestOwnershipByInventory applies a source the Plumbline way, then drops a Deployment from Git
// and makes a ClusterRole by hand, and reads what `plumbline diff` says each time.
func TestOwnershipByInventory(t *testing.T) {
	ns := newNamespace(t, "owned")
	source := "shop-" + ns
	repo := gitserver.NewRepo(t, ownershipTree(ns, "deployment.yaml", "service.yaml", "rbac.yaml"))
	deleteClusterRoles(t, ns+"-reader", "backdoor-"+ns)
	applyThePlumblineWay(t, filepath.Join(repo, "app"), ns, source)
	waitForLabelledEndpoints(t, ns, "web", source)
	args := []string{"--repo", "file://" + repo, "--ref", "main", "--path", "app", "-n", ns, "--skip-images", "--source-name", source}

	// The Endpoints and EndpointSlice carry the label too, but Plumbline did not apply them.
	if r := diff(t, args...); r.code != 0 || !strings.Contains(r.stdout, "No drift: 3 objects match") {
		t.Fatalf("right after apply: exit %d, want 0 and no drift\n%s%s", r.code, r.stdout, r.stderr)
	}

	gitserver.Commit(t, repo, ownershipTree(ns, "service.yaml", "rbac.yaml"), "drop the Deployment")
	kubectl(t, "create", "clusterrole", "backdoor-"+ns, "--verb=*", "--resource=*")
	r := diff(t, args...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"Drift detected: Deployment 'web' in namespace '" + ns + "'\n  Reason: No longer declared in Git, but Plumbline applied it (inventory of source " + source + ")\n",
		"Drift detected: ClusterRole 'backdoor-" + ns + "'\n  Reason: Not declared in Git: created in the cluster by kubectl-create at ",
		"2 findings on 2 objects",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, never := range []string{"Endpoints", "EndpointSlice", "ReplicaSet", "ClusterRole 'admin'", "ClusterRole 'system:", "ClusterRole 'cluster-admin'"} {
		if strings.Contains(r.stdout, never) {
			t.Errorf("text report names %q:\n%s", never, r.stdout)
		}
	}

	j := diff(t, append(args, "-o", "json")...)
	rep := decodeReport(t, j.stdout)
	var reasons []string
	for _, f := range rep.Findings {
		if f.Type == report.Extra {
			reasons = append(reasons, f.Object.Kind+" "+f.Reason)
		}
	}
	if got := strings.Join(reasons, ", "); got != "ClusterRole not-in-git, Deployment pruned-from-git" {
		t.Errorf("extra findings in JSON: %s", got)
	}
}

// TestOwnershipByLabelWithoutInventory is a source that carries the ownership label in Git and
// is applied with kubectl, so that Plumbline has no inventory of it: the label decides, except
// for what controllers made.
func TestOwnershipByLabelWithoutInventory(t *testing.T) {
	ns := newNamespace(t, "labelled")
	source := "shop-" + ns
	labelled := func(resources ...string) map[string]string {
		tree := ownershipTree(ns, resources...)
		tree["app/kustomization.yaml"] += "labels:\n- pairs:\n    " + reconciler.LabelSource + ": " + source + "\n"
		return tree
	}
	repo := gitserver.NewRepo(t, labelled("deployment.yaml", "service.yaml"))
	kubectl(t, "apply", "-n", ns, "-k", filepath.Join(repo, "app"))
	waitForLabelledEndpoints(t, ns, "web", source)
	args := []string{"--repo", "file://" + repo, "--ref", "main", "--path", "app", "-n", ns, "--skip-images", "--source-name", source}

	if r := diff(t, args...); r.code != 0 {
		t.Fatalf("exit %d, want 0: the Endpoints copy the Service's label, yet a controller made them\n%s%s", r.code, r.stdout, r.stderr)
	}
	gitserver.Commit(t, repo, labelled("deployment.yaml"), "drop the Service")
	r := diff(t, args...)
	want := "Drift detected: Service 'web' in namespace '" + ns + "'\n  Reason: No longer declared in Git, but it carries " + reconciler.LabelSource + "=" + source + "\n"
	if r.code != 1 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "1 finding on 1 object") {
		t.Errorf("exit %d, want 1 and only the Service, as %q\n%s%s", r.code, want, r.stdout, r.stderr)
	}
}
