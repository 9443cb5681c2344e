package v1alpha1_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/test/cluster"
)

var env *cluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(cluster.RunTests(m, &env))
}

// newClient installs the CRD from deploy/crd, as `kubectl apply -k deploy/` would, and returns a
// typed client for Sources.
func newClient(t *testing.T) client.Client {
	t.Helper()
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{"../../deploy/crd"}, ErrorIfPathMissing: true}); err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSourceDefaults: a Source that names only its repository gets the documented defaults
// from the API server itself.
func TestSourceDefaults(t *testing.T) {
	c := newClient(t)
	ns, err := env.NewNamespace(t.Context(), "defaults")
	if err != nil {
		t.Fatal(err)
	}
	src := &v1alpha1.Source{
		ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: ns},
		Spec:       v1alpha1.SourceSpec{Repo: "https://git.example.com/platform/apps.git"},
	}
	if err := c.Create(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	want := v1alpha1.SourceSpec{
		Repo:             "https://git.example.com/platform/apps.git",
		Path:             ".",
		Interval:         &metav1.Duration{Duration: time.Minute},
		Mode:             v1alpha1.ModeSpec{Default: v1alpha1.ModeAlert},
		PruneMaxFraction: "0.25",
		BlockSeverity:    "high",
		Prevent:          v1alpha1.PreventOff,
	}
	if diff := cmp.Diff(want, src.Spec); diff != "" {
		t.Errorf("defaulted spec (-want +got):\n%s", diff)
	}
	if got := src.Spec.Mode.For("Modified"); got != v1alpha1.ModeAlert {
		t.Errorf("mode for Modified = %q, want alert", got)
	}
}

// TestSourceValidation: the API server refuses a bad spec with a message that names the field.
func TestSourceValidation(t *testing.T) {
	c := newClient(t)
	ns, err := env.NewNamespace(t.Context(), "validation")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		spec  v1alpha1.SourceSpec
		field string
	}{
		{"no repo", v1alpha1.SourceSpec{}, "spec.repo"},
		{"unknown mode", v1alpha1.SourceSpec{Repo: "file:///r", Mode: v1alpha1.ModeSpec{Modified: "yolo"}}, "spec.mode.Modified"},
		{"fraction over one", v1alpha1.SourceSpec{Repo: "file:///r", PruneMaxFraction: "1.5"}, "spec.pruneMaxFraction"},
		{"ignore rule without paths", v1alpha1.SourceSpec{Repo: "file:///r", Ignore: []v1alpha1.IgnoreRule{{Kinds: []string{"Deployment"}}}}, "spec.ignore[0].paths"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &v1alpha1.Source{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns}, Spec: tc.spec}
			err := c.Create(t.Context(), src)
			if err == nil {
				t.Fatalf("created a Source with %s", tc.name)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error does not name %s: %v", tc.field, err)
			}
		})
	}
}

// TestPrinterColumns: `kubectl get sources` shows revision, readiness and drift.
func TestPrinterColumns(t *testing.T) {
	c := newClient(t)
	ns, err := env.NewNamespace(t.Context(), "columns")
	if err != nil {
		t.Fatal(err)
	}
	src := &v1alpha1.Source{
		ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: ns},
		Spec:       v1alpha1.SourceSpec{Repo: "file:///repo"},
	}
	if err := c.Create(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	src.Status = v1alpha1.SourceStatus{
		LastFetchedRevision: "3f2c1ab",
		Conditions: []metav1.Condition{
			{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Synced", LastTransitionTime: metav1.Now()},
			{Type: v1alpha1.ConditionDrifted, Status: metav1.ConditionFalse, Reason: "NoDrift", LastTransitionTime: metav1.Now()},
		},
	}
	if err := c.Status().Update(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "kubectl", "get", "sources", "-n", ns)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get sources: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("kubectl get sources printed:\n%s", out)
	}
	if got := strings.Fields(lines[0]); !cmp.Equal(got, []string{"NAME", "REVISION", "READY", "DRIFT", "AGE"}) {
		t.Errorf("header = %v", got)
	}
	if got := strings.Fields(lines[1]); len(got) != 5 || got[0] != "apps" || got[1] != "3f2c1ab" || got[2] != "True" || got[3] != "False" {
		t.Errorf("row = %v", got)
	}
}
