package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// measured is what a user sees of one plumbline run, with what it cost.
type measured struct {
	result
	peakRSS int64 // bytes, plumbline's own peak resident memory
	elapsed time.Duration
}

// timeCommand is GNU time, which reports its child's peak memory. The child's own ru_maxrss
// cannot be read here: Go starts children with vfork, and Linux counts the parent's resident
// memory at exec into the child's maximum, so a large test process would be measured, not
// plumbline. GNU time forks a fresh, small process for plumbline.
const timeCommand = "/usr/bin/time"

// runMeasured runs the built plumbline with args and measures its peak resident memory
// and wall time. The run is killed after a minute.
func runMeasured(t *testing.T, args ...string) measured {
	t.Helper()
	if _, err := os.Stat(timeCommand); err != nil {
		t.Fatalf("%s (Debian's package time) measures the peak memory of plumbline: %v", timeCommand, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rssFile := filepath.Join(t.TempDir(), "maxrss")
	cmd := exec.CommandContext(ctx, timeCommand, append([]string{"-q", "-f", "%M", "-o", rssFile, plumbline}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	m := measured{elapsed: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		m.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("plumbline %s: %v", strings.Join(args, " "), err)
	}
	b, err := os.ReadFile(rssFile)
	if err != nil {
		t.Fatalf("peak memory of plumbline %s: %v", strings.Join(args, " "), err)
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		t.Fatalf("peak memory of plumbline %s: %s printed nothing", strings.Join(args, " "), timeCommand)
	}
	kb, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
	if err != nil {
		t.Fatalf("peak memory of plumbline %s: %q: %v", strings.Join(args, " "), b, err)
	}
	m.peakRSS = kb << 10
	m.stdout, m.stderr = stdout.String(), stderr.String()
	return m
}

// wantOutput fails unless the output holds every fragment and none of the forbidden ones.
func wantOutput(t *testing.T, what, out string, want, forbidden []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
	for _, f := range forbidden {
		if strings.Contains(out, f) {
			t.Errorf("%s holds %q:\n%s", what, f, out)
		}
	}
}

func deployment(name, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %q
  namespace: prod
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: %s
`, name, image)
}

// TestHostileNamesCannotForgeOutput: a name with a newline and an escape sequence is printed
// escaped, so it cannot forge a "Passed:" line or drive the terminal; names Kubernetes would
// reject are errors naming the file, with exit status 2.
func TestHostileNamesCannotForgeOutput(t *testing.T) {
	forged := "web\nPassed: the 3 objects of prod pass the policy and image checks.\n\x1b[2J"
	dir := writeFiles(t, map[string]string{"app/web.yaml": deployment(forged, "nginx:latest")})
	r := runMeasured(t, "check", "--skip-images", "--path", filepath.Join(dir, "app"))
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (a violation)\n%s%s", r.code, r.stdout, r.stderr)
	}
	for i, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "Passed:") {
			t.Errorf("stdout line %d is a forged %q line:\n%s", i+1, "Passed:", r.stdout)
		}
	}
	wantOutput(t, "stdout", r.stdout, []string{`Check failed: Deployment 'web\nPassed: the 3 objects of prod pass the policy and image checks.\n\x1b[2J' in namespace 'prod'`}, []string{"\x1b"})

	tests := []struct{ name, file, content, want string }{
		{"10,000 characters", "long.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + strings.Repeat("a", 10_000) + "\n",
			"long.yaml:1: ConfigMap name of 10000 characters is longer than the 253 Kubernetes allows"},
		{"path characters", "passwd.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ../../etc/passwd\n",
			`passwd.yaml:1: ConfigMap name "../../etc/passwd" is not a valid Kubernetes name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"app/" + tt.file: tt.content})
			r := runMeasured(t, "check", "--skip-images", "--path", filepath.Join(dir, "app"))
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
			}
			wantOutput(t, "stderr", r.stderr, []string{tt.want}, nil)
			if len(r.stderr) > 2000 {
				t.Errorf("stderr is %d bytes; the error must not quote the name", len(r.stderr))
			}
			// diff, against the cluster, refuses it the same way instead of reporting it Missing.
			r = runMeasured(t, "diff", "--path", filepath.Join(dir, "app"))
			if r.code != 2 || strings.Contains(r.stdout, "Missing") {
				t.Fatalf("diff: exit %d, want 2 and no finding\n%s%s", r.code, r.stdout, r.stderr)
			}
			wantOutput(t, "diff stderr", r.stderr, []string{tt.want}, nil)
		})
	}
}

// TestHostileYAMLMemory: 20 MiB of YAML lists, under the 64 MiB cap on bytes, is refused on
// its node count before it is built, naming the file, and the process stays small.
func TestHostileYAMLMemory(t *testing.T) {
	files := map[string]string{}
	for i := range 5 {
		files[fmt.Sprintf("app/list%d.yaml", i)] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: l%d}\nx: [", i) + strings.Repeat("a,", (4<<20-100)/2) + "a]\n"
	}
	dir := writeFiles(t, files)
	r := runMeasured(t, "check", "--skip-images", "--path", filepath.Join(dir, "app"))
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantOutput(t, "stderr", r.stderr, []string{"Error: list0.yaml: YAML could build up to", "nodes per render"}, nil)
	t.Logf("peak RSS %d MiB in %s", r.peakRSS>>20, r.elapsed)
	if r.peakRSS > 256<<20 {
		t.Errorf("peak RSS %d MiB; want under 256 MiB", r.peakRSS>>20)
	}
}

const bigConfigMap = `apiVersion: v1
kind: ConfigMap
metadata: {name: %s, namespace: prod}
data: {blob: %s}
items: [%s]
`

func configMaps(n int) map[string]string {
	var items []string
	for i := range 20_000 {
		items = append(items, fmt.Sprintf("item-%05d", i))
	}
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("app/cm%d.yaml", i)] = fmt.Sprintf(bigConfigMap, fmt.Sprintf("big%d", i), strings.Repeat("a", 80_000), strings.Join(items, ","))
	}
	return files
}

func celPolicies(exprs ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: plumbline.dev/v1alpha1\nkind: PolicySet\nmetadata: {name: hostile}\nspec:\n  policies:\n")
	for i, e := range exprs {
		fmt.Fprintf(&b, "  - name: p%d\n    validations:\n    - expression: %q\n", i, e)
	}
	return b.String()
}

// TestHostileCEL: a replace() that would build gigabytes from an 80 KB field is an error
// naming the policy, at once and in little memory; slow policies end with --timeout.
func TestHostileCEL(t *testing.T) {
	files := configMaps(1)
	files["policy.yaml"] = celPolicies(`object.data.blob.replace("", object.data.blob) == ""`)
	dir := writeFiles(t, files)
	r := runMeasured(t, "check", "--skip-images", "--path", filepath.Join(dir, "app"), "--policy", filepath.Join(dir, "policy.yaml"))
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantOutput(t, "stdout", r.stdout, []string{`ConfigMap/prod/big0: policy "p0": validations[0]`, "replace() would build a string of 6400160000 bytes, over the limit of 1048576"}, nil)
	t.Logf("replace: peak RSS %d MiB in %s", r.peakRSS>>20, r.elapsed)
	if r.peakRSS > 300<<20 {
		t.Errorf("peak RSS %d MiB; want under 300 MiB", r.peakRSS>>20)
	}

	files = configMaps(8)
	var slow []string
	for i := range 20 {
		slow = append(slow, fmt.Sprintf("object.items.all(a, a.size() < 1000 && a != 'x%d')", i))
	}
	files["policy.yaml"] = celPolicies(slow...)
	dir = writeFiles(t, files)
	r = runMeasured(t, "check", "--skip-images", "--timeout", "3s", "--path", filepath.Join(dir, "app"), "--policy", filepath.Join(dir, "policy.yaml"))
	t.Logf("slow policies with --timeout 3s: exit %d after %s", r.code, r.elapsed)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r.elapsed > 5*time.Second {
		t.Errorf("ran %s with --timeout 3s", r.elapsed)
	}
}

// hostileRegistry serves go-containerregistry's registry, except that repositories under
// hang/ never answer and those under endless/ stream manifests that never end.
func hostileRegistry(t *testing.T) string {
	t.Helper()
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case strings.HasPrefix(req.URL.Path, "/v2/hang/"):
			<-req.Context().Done()
		case strings.HasPrefix(req.URL.Path, "/v2/endless/") && strings.Contains(req.URL.Path, "/manifests/"):
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.WriteHeader(http.StatusOK)
			chunk := []byte(strings.Repeat(`{"size":1},`, 3000))
			for req.Method == http.MethodGet && req.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		default:
			inner.ServeHTTP(w, req)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestHostileRegistries: a registry that never answers costs its image a Timeout error
// naming image and host, inside --timeout, and the report keeps every other finding; one
// that streams endless manifests to many images is cut off by the run's read budget.
func TestHostileRegistries(t *testing.T) {
	host := hostileRegistry(t)
	tag, err := name.NewTag(host + "/team/web:1.0")
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, map[string]string{
		"app/web.yaml":  deployment("web", host+"/team/web:1.0"),
		"app/hang.yaml": deployment("hang", host+"/hang/app:1.0"),
		"app/root.yaml": deployment("latest", "nginx:latest"),
	})
	r := runMeasured(t, "check", "--timeout", "4s", "--cache-dir", "", "--path", filepath.Join(dir, "app"))
	t.Logf("silent registry with --timeout 4s: exit %d after %s", r.code, r.elapsed)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2 (an image could not be decided)\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantOutput(t, "stdout", r.stdout, []string{
		"Error: " + host + "/hang/app:1.0: registry " + host + ": Timeout: no answer within",
		"Image: " + host + "/team/web:1.0", // its ImageUnpinned finding
		"[disallow-latest-tag, high]",      // the policy findings stay
	}, nil)
	if r.elapsed > 4*time.Second {
		t.Errorf("ran %s, past --timeout 4s", r.elapsed)
	}

	files := map[string]string{}
	for i := range 100 {
		files[fmt.Sprintf("app/e%d.yaml", i)] = deployment(fmt.Sprintf("e%d", i), fmt.Sprintf("%s/endless/app:v%d", host, i))
	}
	dir = writeFiles(t, files)
	r = runMeasured(t, "check", "--cache-dir", "", "--path", filepath.Join(dir, "app"), "-o", "json")
	t.Logf("endless manifests for 100 images: exit %d after %s, peak RSS %d MiB", r.code, r.elapsed, r.peakRSS>>20)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
	}
	rep := decodeReport(t, r.stdout)
	if len(rep.Errors) != 100 {
		t.Fatalf("%d errors, want one per image", len(rep.Errors))
	}
	for _, e := range rep.Errors {
		if !strings.Contains(e.Message, "registry "+host+": TooLarge: ") {
			t.Errorf("error %q is not a TooLarge error naming the host", e.Message)
		}
	}
	if r.peakRSS > 300<<20 || r.elapsed > 20*time.Second {
		t.Errorf("peak RSS %d MiB in %s; want under 300 MiB and 20s", r.peakRSS>>20, r.elapsed)
	}
}

// TestHostileSecretsNeverLeak: credentials in --repo and Secret values quoted by kustomize or
// by a policy message reach no output.
func TestHostileSecretsNeverLeak(t *testing.T) {
	const userToken, queryToken = "ghp_E2eUserToken0001", "glpat-E2eQueryToken02"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	r := runMeasured(t, "check", "--skip-images", "--repo", "http://"+userToken+"@"+closed+"/org/repo.git?access_token="+queryToken, "--path", ".")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantOutput(t, "output", r.stdout+r.stderr, []string{closed}, []string{userToken, queryToken})

	dir := writeFiles(t, map[string]string{
		"bad/kustomization.yaml": "secretGenerator:\n- name: s\n  literals:\n  - hunter2-E2E-literal\n",
		"app/secret.yaml":        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: prod}\nstringData: {pw: correct-horse-battery-staple}\n",
		"policy.yaml":            "apiVersion: plumbline.dev/v1alpha1\nkind: PolicySet\nmetadata: {name: p}\nspec:\n  policies:\n  - name: vault-only\n    validations:\n    - expression: \"false\"\n      messageExpression: \"'password starting ' + object.stringData.pw.substring(0, 10) + ' is not a vault reference'\"\n",
	})
	r = runMeasured(t, "check", "--skip-images", "--path", filepath.Join(dir, "bad"))
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantOutput(t, "stderr", r.stderr, []string{"Error: kustomization.yaml: kustomize build:", "invalid literal source [masked]"}, []string{"hunter2-E2E-literal"})

	r = runMeasured(t, "check", "--skip-images", "--path", filepath.Join(dir, "app"), "--policy", filepath.Join(dir, "policy.yaml"))
	wantOutput(t, "stdout", r.stdout, []string{"password starting [masked] is not a vault reference"}, []string{"correct-ho", "horse"})
}
