package reconciler

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
)

// TestControllerReadOnlyInstall runs the controller as deploy/'s service account bound to the
// read-only ClusterRole alone (rbac-read.yaml, without rbac-write.yaml): it still alerts on an
// out-of-band edit, and a revert fails with a clear forbidden error, told and shown on the
// Source, never a crash.
func TestControllerReadOnlyInstall(t *testing.T) {
	s := newControllerScene(t, "controller-nginx")
	s.kubectl("apply", "--server-side", "-f", "../deploy/rbac-read.yaml")
	t.Cleanup(func() { // cluster-scoped: the package's other tests share the API server
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "kubectl", "delete", "-f", "../deploy/rbac-read.yaml", "--wait=true")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("kubectl delete -f ../deploy/rbac-read.yaml: %v\n%s", err, out)
		}
	})
	s.applyAsCD("controller-nginx")
	s.createSource(v1alpha1.SourceSpec{Mode: v1alpha1.ModeSpec{Default: v1alpha1.ModeAlert, Modified: v1alpha1.ModeRevert}})
	readOnly := rest.CopyConfig(env.Config)
	readOnly.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:plumbline-system:plumbline",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:plumbline-system", "system:authenticated"}}
	s.startAs(readOnly)
	s.ready(0)

	s.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:latest")
	s.eventually(5*time.Second, "the edit alerted", func() bool {
		return containsLine(openedMessages(s.notes.of(EventOpened)), "Image changed from 'nginx:1.21.0' to 'nginx:latest'")
	})
	s.eventually(5*time.Second, "a failed revert", func() bool { return len(s.notes.of(EventRevertFailed)) > 0 })
	if d := s.notes.of(EventRevertFailed)[0].Detail; !strings.Contains(d, "forbidden") {
		t.Errorf("revert failure %q does not say forbidden", d)
	}
	if got := s.deployment().Spec.Template.Spec.Containers[0].Image; got != "nginx:latest" {
		t.Errorf("image %q: a read-only install wrote", got)
	}
	s.eventually(5*time.Second, "the failure on the Source", func() bool {
		c := findCondition(s.source(), v1alpha1.ConditionDrifted)
		return c != nil && c.Reason == "RevertFailed" && strings.Contains(c.Message, "forbidden")
	})
}
