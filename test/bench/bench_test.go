package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plumbline/plumbline/report"
	"github.com/plumbline/plumbline/test/cluster"
)

// BenchmarkDiffVersusKubectl runs `kubectl diff -k` and `plumbline diff` on the same kustomize
// folder of ~1,000 objects against the same API server: once with no drift, once with 10
// drifted objects. It fails when the two tools name different drifted objects, and reports
// wall clock, CPU and peak RSS of each, and the speed-up.
//
//	go test -run '^$' -bench . -benchtime 1x ./test/bench/
func BenchmarkDiffVersusKubectl(b *testing.B) {
	env, err := cluster.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			b.Error(err)
		}
	}()
	plumbline := buildPlumbline(b)
	kube := []string{"KUBECONFIG=" + env.Kubeconfig}
	for _, c := range []struct {
		name   string
		corpus Corpus
	}{
		{"resources-only", Corpus{Prefix: "plain"}},
		{"with-labels-transformer", Corpus{Prefix: "labels", Labels: true}},
	} {
		b.Run(c.name, func(b *testing.B) { benchCorpus(b, c.corpus, plumbline, kube) })
	}
}

func benchCorpus(b *testing.B, corpus Corpus, plumbline string, kube []string) {
	dir := b.TempDir()
	objects, err := corpus.Write(dir)
	if err != nil {
		b.Fatal(err)
	}
	if r := run(b, kube, "kubectl", "apply", "--server-side", "-k", dir); r.code != 0 {
		b.Fatalf("kubectl apply: %s", r.stderr)
	}
	b.Logf("corpus: %d objects in %s", objects, dir)

	compare := func(b *testing.B, wantDrifted []string) {
		for b.Loop() {
			k := run(b, kube, "kubectl", "diff", "-k", dir)
			// kubectl does not look at registries: compare like with like.
			p := run(b, kube, plumbline, "diff", "--path", dir, "-o", "json", "--skip-images")
			wantCode := 0
			if len(wantDrifted) > 0 {
				wantCode = 1
			}
			if k.code != wantCode || p.code != wantCode {
				b.Fatalf("exit codes: kubectl %d, plumbline %d, want %d\n%s\n%s\n%s", k.code, p.code, wantCode, k.stderr, p.stderr, reportErrors(p.stdout))
			}
			kd, pd := kubectlDrifted(k.stdout), plumblineDrifted(b, p.stdout)
			if !slices.Equal(kd, pd) || !slices.Equal(pd, wantDrifted) {
				b.Fatalf("drifted objects differ:\nkubectl   %v\nplumbline %v\nwant      %v", kd, pd, wantDrifted)
			}
			b.ReportMetric(k.wall.Seconds(), "kubectl-s")
			b.ReportMetric(k.cpu.Seconds(), "kubectl-cpu-s")
			b.ReportMetric(p.wall.Seconds(), "plumbline-s")
			b.ReportMetric(p.cpu.Seconds(), "plumbline-cpu-s")
			b.ReportMetric(float64(p.maxRSS)/1024, "plumbline-MiB")
			b.ReportMetric(k.wall.Seconds()/p.wall.Seconds(), "speedup-x")
			b.Logf("kubectl diff: %v wall, %v CPU, %d MiB; plumbline diff: %v wall, %v CPU, %d MiB; %.0fx faster",
				k.wall.Round(time.Millisecond), k.cpu.Round(time.Millisecond), k.maxRSS/1024,
				p.wall.Round(time.Millisecond), p.cpu.Round(time.Millisecond), p.maxRSS/1024, k.wall.Seconds()/p.wall.Seconds())
		}
	}
	b.Run("no-drift", func(b *testing.B) { compare(b, nil) })

	var want []string
	for i := range 5 {
		ns, name := corpus.Namespace(i), fmt.Sprintf("app-%02d", i)
		mustRun(b, kube, "kubectl", "set", "image", "-n", ns, "deployment/"+name, "app=registry.example.com/team/"+name+":1.4.3-hotfix")
		want = append(want, "Deployment/"+ns+"/"+name)
	}
	for i := 5; i < 7; i++ {
		ns, name := corpus.Namespace(i), fmt.Sprintf("app-%02d", i)
		mustRun(b, kube, "kubectl", "scale", "-n", ns, "deployment/"+name, "--replicas=7")
		want = append(want, "Deployment/"+ns+"/"+name)
	}
	for i := 7; i < 10; i++ {
		ns, name := corpus.Namespace(i), fmt.Sprintf("config-%02d", i)
		mustRun(b, kube, "kubectl", "patch", "-n", ns, "configmap/"+name, "-p", `{"data":{"index":"edited"}}`)
		want = append(want, "ConfigMap/"+ns+"/"+name)
	}
	slices.Sort(want)
	b.Run("10-drifted", func(b *testing.B) { compare(b, want) })
}

// kubectlDrifted reads the objects that `kubectl diff` shows, from its `diff -u -N` headers.
func kubectlDrifted(out string) []string {
	re := regexp.MustCompile(`(?m)^diff -u -N \S+ \S+/MERGED-\d+/(\S+)$`)
	var names []string
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		parts := strings.Split(m[1], ".") // [group.]version.Kind.namespace.name
		n := len(parts)
		names = append(names, parts[n-3]+"/"+parts[n-2]+"/"+parts[n-1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func plumblineDrifted(b *testing.B, out string) []string {
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		b.Fatalf("plumbline output: %v\n%s", err, out)
	}
	var names []string
	for _, f := range r.Findings {
		names = append(names, f.Object.Kind+"/"+f.Object.Namespace+"/"+f.Object.Name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// reportErrors returns the errors of a JSON report, or the output itself when it is not one.
func reportErrors(out string) string {
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return out
	}
	b, _ := json.MarshalIndent(r.Errors, "", "  ")
	return string(b)
}

// measured is one process run with its resource use.
type measured struct {
	stdout, stderr string
	code           int
	wall, cpu      time.Duration
	maxRSS         int64 // KiB
}

func run(b *testing.B, extraEnv []string, name string, args ...string) measured {
	b.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	m := measured{stdout: stdout.String(), stderr: stderr.String(), wall: time.Since(start)}
	if cmd.ProcessState == nil {
		b.Fatalf("%s: %v", name, err)
	}
	m.code = cmd.ProcessState.ExitCode()
	m.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.maxRSS = ru.Maxrss
	}
	return m
}

func mustRun(b *testing.B, extraEnv []string, name string, args ...string) {
	b.Helper()
	if r := run(b, extraEnv, name, args...); r.code != 0 {
		b.Fatalf("%s %s: %s", name, strings.Join(args, " "), r.stderr)
	}
}

func buildPlumbline(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "plumbline")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/plumbline/plumbline/cmd/plumbline").CombinedOutput()
	if err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}
