package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	demoNamespace = regexp.MustCompile(`Namespace (shop-[0-9a-f]{6}) of your cluster`)
	demoRepo      = regexp.MustCompile(`Git repository (\S+) \(commit`)
)

// assertDemoCleanedUp checks that the demo left nothing behind: its namespace is gone (so is
// everything in it), no object anywhere carries its ownership label, and its folder is removed.
func assertDemoCleanedUp(t *testing.T, out string) {
	t.Helper()
	m := demoNamespace.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the demo did not say its namespace:\n%s", out)
	}
	ns := m[1]
	_, err := env.Clientset.CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s after the demo: %v, want it gone", ns, err)
	}
	sel := metav1.ListOptions{LabelSelector: "plumbline.dev/source=demo-shop"}
	cs := env.Clientset
	var left []string
	if l, err := cs.AppsV1().Deployments("").List(t.Context(), sel); err == nil {
		for _, o := range l.Items {
			left = append(left, "Deployment "+o.Namespace+"/"+o.Name)
		}
	} else {
		t.Error(err)
	}
	if l, err := cs.CoreV1().Services("").List(t.Context(), sel); err == nil {
		for _, o := range l.Items {
			left = append(left, "Service "+o.Namespace+"/"+o.Name)
		}
	} else {
		t.Error(err)
	}
	if l, err := cs.CoreV1().ConfigMaps("").List(t.Context(), sel); err == nil {
		for _, o := range l.Items {
			left = append(left, "ConfigMap "+o.Namespace+"/"+o.Name)
		}
	} else {
		t.Error(err)
	}
	if l, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{}); err == nil {
		for _, o := range l.Items {
			left = append(left, "Pod "+o.Namespace+"/"+o.Name)
		}
	} else {
		t.Error(err)
	}
	if len(left) > 0 {
		t.Errorf("the demo left objects behind: %v", left)
	}
	if m := demoRepo.FindStringSubmatch(out); m == nil {
		t.Errorf("the demo did not say where its repository is:\n%s", out)
	} else if _, err := os.Stat(m[1]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the demo repository %s is still on disk: %v", m[1], err)
	}
}

// TestDemoCleansUp runs `plumbline demo` against the test cluster: whatever its stories say
// (its own exit status is TestDemo's), it deletes what it made.
func TestDemoCleansUp(t *testing.T) {
	r := runCmd(t, nil, plumbline, "demo")
	t.Logf("demo: exit %d", r.code)
	if !strings.Contains(r.stdout, "Cleaning up: deleting namespace shop-") {
		t.Errorf("the demo did not say it cleans up:\n%s", r.stdout)
	}
	assertDemoCleanedUp(t, r.stdout)
}

// TestDemoInterruptedCleansUp sends SIGINT (Ctrl-C) to `plumbline demo` in the middle of its
// stories, once it has applied objects to its namespace: it stops, says so, and cleans up.
func TestDemoInterruptedCleansUp(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), plumbline, "demo")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "HOME="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	lines := bufio.NewScanner(stdout)
	interrupted := false
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
		if !interrupted && strings.HasPrefix(lines.Text(), "=== Story: an out-of-band edit") {
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			interrupted = true
		}
	}
	err = cmd.Wait()
	if !interrupted {
		t.Fatalf("the demo ended before its first story: %v\n%s%s", err, out.String(), stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("interrupted demo: %v, want exit status 2", err)
	}
	if !strings.Contains(stderr.String(), "demo interrupted") {
		t.Errorf("the demo did not say it was interrupted:\n%s", stderr.String())
	}
	if strings.Contains(out.String(), "All stories told.") {
		t.Errorf("the demo went on after Ctrl-C:\n%s", out.String())
	}
	assertDemoCleanedUp(t, out.String())
}
