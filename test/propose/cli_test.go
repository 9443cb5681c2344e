package propose

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var buildCLI = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "plumbline-propose-cli-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "plumbline")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/plumbline/plumbline/cmd/plumbline").CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return "build plumbline: " + e.err.Error() + "\n" + e.out }

// TestProposeCommand: `plumbline propose` opens the pull request once; run again, it updates
// the same one.
func TestProposeCommand(t *testing.T) {
	t.Parallel()
	bin, err := buildCLI()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(bin)) })
	s := newScene(t, map[string]string{"apps/web.yaml": webDeployment}, "apps")
	s.kubectl("scale", "deployment/web", "--replicas=9")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(srv.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() (string, int) {
		cmd := exec.CommandContext(t.Context(), bin, "propose", "--repo", s.cloneURL, "--ref", "main", "--path", "apps", "-n", s.ns,
			"--source-name", s.ns+".apps", "--forge", "gitea", "--token-file", tokenFile,
			"--git-insecure-http", "--skip-images", "--author-name", "Platform Bot")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), code
	}
	out, code := run()
	prs := s.pulls()
	if code != 0 || len(prs) != 1 {
		t.Fatalf("exit %d, %d pull requests:\n%s", code, len(prs), out)
	}
	if want := "Modified Deployment/" + s.ns + "/web: pull request " + prs[0].HTMLURL + " (branch plumbline/modified-"; !strings.Contains(out, want) {
		t.Errorf("output:\n%s\nwant %q", out, want)
	}
	if got := changedLines(s.diffOf(prs[0])); strings.Join(got, "\n") != "-  replicas: 2 # two is enough, until it is not\n+  replicas: 9 # two is enough, until it is not" {
		t.Errorf("changed lines:\n%s", strings.Join(got, "\n"))
	}
	if strings.Contains(out, srv.Token) {
		t.Error("the token is in the output")
	}
	out, code = run()
	if code != 0 || len(s.pulls()) != 1 || !strings.Contains(out, prs[0].HTMLURL) {
		t.Fatalf("second run: exit %d, %d pull requests:\n%s", code, len(s.pulls()), out)
	}
}
