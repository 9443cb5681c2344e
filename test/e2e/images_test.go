package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plumbline/plumbline/report"
)

// webApp writes a folder with one Deployment named web whose container runs image.
func webApp(t *testing.T, images ...string) string {
	t.Helper()
	dir := t.TempDir()
	var containers strings.Builder
	for i, img := range images {
		name := "web"
		if i > 0 {
			name = "web-" + string(rune('a'+i))
		}
		containers.WriteString("      - name: " + name + "\n        image: " + img + "\n")
	}
	deployment := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
` + containers.String()
	if err := os.WriteFile(filepath.Join(dir, "deployment.yaml"), []byte(deployment), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// lock runs `plumbline images lock` and fails the test unless it succeeds.
func lock(t *testing.T, dir string, extraEnv ...string) string {
	t.Helper()
	r := runCmd(t, extraEnv, plumbline, "images", "lock", "--path", dir)
	if r.code != 0 {
		t.Fatalf("images lock: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// imageDiff runs `plumbline diff -o json` on a folder with its own digest cache folder.
func imageDiff(t *testing.T, dir, ns, cacheDir string, extraEnv ...string) (result, report.Report) {
	t.Helper()
	r := runCmd(t, extraEnv, plumbline, "diff", "--path", dir, "-n", ns, "-o", "json", "--cache-dir", cacheDir)
	if r.code == 2 && !strings.HasPrefix(strings.TrimSpace(r.stdout), "{") {
		return r, report.Report{}
	}
	return r, decodeReport(t, r.stdout)
}

// TestImageRebuiltUnderSameTag is the mission's first story: nginx:1.21.0 gets a new digest in
// the registry while the manifest does not change.
func TestImageRebuiltUnderSameTag(t *testing.T) {
	reg := newTestRegistry(t)
	image := reg.image("team/nginx:1.21.0")
	approved := reg.pushImage(t, image)
	dir := webApp(t, image)
	ns := newNamespace(t, "rebuilt")

	out := lock(t, dir)
	if !strings.Contains(out, "added     "+image+"  "+approved) {
		t.Errorf("images lock output does not name the approved digest:\n%s", out)
	}
	lockFile, err := os.ReadFile(filepath.Join(dir, "plumbline.lock.yaml"))
	if err != nil || !strings.Contains(string(lockFile), approved) || !strings.Contains(string(lockFile), "approvedAt:") {
		t.Fatalf("lock file: %v\n%s", err, lockFile)
	}
	kubectl(t, "apply", "--server-side", "-n", ns, "-f", filepath.Join(dir, "deployment.yaml"))
	if r, rep := imageDiff(t, dir, ns, t.TempDir()); r.code != 0 {
		t.Fatalf("locked and applied: exit %d, want 0\n%+v\n%s", r.code, rep.Findings, r.stderr)
	}

	rebuilt := reg.pushImage(t, image)
	r, rep := imageDiff(t, dir, ns, t.TempDir())
	if r.code != 1 {
		t.Fatalf("after the rebuild: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	one := 1
	want := []report.Finding{{
		Type:      report.ImageTagMutated,
		Object:    report.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: "web"},
		Message:   "Image: " + image + " was rebuilt under the same tag: approved " + short(approved) + ", registry now serves " + short(rebuilt) + " (1 layer changed)",
		Source:    "deployment.yaml",
		Container: "web",
		Image:     &report.Image{Ref: image, Approved: approved, Resolved: rebuilt, LayersChanged: &one},
	}}
	if d := cmp.Diff(want, rep.Findings); d != "" {
		t.Fatalf("findings (-want +got):\n%s", d)
	}

	out = lock(t, dir)
	if !strings.Contains(out, "changed   "+image+"  "+rebuilt+" (was "+approved+")") {
		t.Errorf("re-lock output:\n%s", out)
	}
	if r, rep := imageDiff(t, dir, ns, t.TempDir()); r.code != 0 {
		t.Fatalf("re-locked: exit %d, want 0\n%+v", r.code, rep.Findings)
	}
}

func short(digest string) string { return digest[:len("sha256:")+12] + "…" }

// TestImageRequests counts registry requests: a second diff inside the TTL asks nothing for the
// tags already resolved, and a digest-pinned reference is never asked about.
func TestImageRequests(t *testing.T) {
	reg := newTestRegistry(t)
	tagged := reg.image("team/api:2.0.1")
	reg.pushImage(t, tagged)
	pinnedDigest := reg.pushImage(t, reg.image("team/sidecar:1.0"))
	pinned := reg.image("team/sidecar:1.0@" + pinnedDigest)
	dir := webApp(t, tagged, pinned)
	ns := newNamespace(t, "requests")
	lock(t, dir)
	kubectl(t, "apply", "--server-side", "-n", ns, "-f", filepath.Join(dir, "deployment.yaml"))
	reg.resetCounts()

	cache := t.TempDir()
	if r, rep := imageDiff(t, dir, ns, cache); r.code != 0 {
		t.Fatalf("first diff: exit %d\n%+v\n%s", r.code, rep, r.stderr)
	}
	if n := reg.requests("team/api"); n != 1 {
		t.Errorf("first diff: %d manifest requests for the tag, want 1 (one HEAD)", n)
	}
	if r, _ := imageDiff(t, dir, ns, cache); r.code != 0 {
		t.Fatalf("second diff: exit %d\n%s", r.code, r.stderr)
	}
	if n := reg.requests("team/api"); n != 1 {
		t.Errorf("second diff inside the TTL: %d manifest requests in all, want still 1", n)
	}
	if n := reg.requests("team/sidecar"); n != 0 {
		t.Errorf("digest-pinned reference: %d manifest requests, want 0", n)
	}
}

// TestRunningImages: pods that run the approved index or one of its platform children are
// fine; a pod that runs a digest nobody approved is named.
func TestRunningImages(t *testing.T) {
	reg := newTestRegistry(t)
	image := reg.image("team/web:3.1")
	index, children := reg.pushIndex(t, image)
	dir := webApp(t, image)
	ns := newNamespace(t, "running")
	lock(t, dir)
	kubectl(t, "apply", "--server-side", "-n", ns, "-f", filepath.Join(dir, "deployment.yaml"))
	app := map[string]string{"app": "web"}
	runPod(t, ns, "web-index", app, image, "docker-pullable://"+reg.host+"/team/web@"+index)
	runPod(t, ns, "web-arm64", app, image, reg.host+"/team/web@"+children["arm64"])
	runPod(t, ns, "web-pending", app, image, "")
	runPod(t, ns, "other-app", map[string]string{"app": "other"}, image, reg.host+"/team/web@sha256:"+strings.Repeat("1", 64))

	if r, rep := imageDiff(t, dir, ns, t.TempDir()); r.code != 0 {
		t.Fatalf("index and platform child: exit %d, want 0\n%+v", r.code, rep.Findings)
	}

	rogue := "sha256:" + strings.Repeat("a", 64)
	runPod(t, ns, "web-rogue", app, image, "containerd://"+reg.host+"/team/web@"+rogue)
	r, rep := imageDiff(t, dir, ns, t.TempDir())
	if r.code != 1 || len(rep.Findings) != 1 || rep.Findings[0].Type != report.RunningImageMismatch {
		t.Fatalf("rogue pod: exit %d, findings %+v", r.code, rep.Findings)
	}
	f := rep.Findings[0]
	if !strings.Contains(f.Message, "pod web-rogue runs "+short(rogue)) || !strings.Contains(f.Message, "different pods run 2 different digests") {
		t.Errorf("message = %q", f.Message)
	}
	if f.Image == nil || f.Image.Approved != index {
		t.Errorf("image block = %+v", f.Image)
	}
}

// TestRegistryFaults: a registry that demands credentials, throttles, or is down gives the right
// error or, after a retry, the right result; never a false finding.
func TestRegistryFaults(t *testing.T) {
	// setUp pushes one image, writes and applies a Deployment that runs it in a fresh namespace.
	setUp := func(t *testing.T, reg *testRegistry, repoTag string) (dir, ns string) {
		image := reg.image(repoTag)
		reg.pushImage(t, image)
		dir = webApp(t, image)
		ns = newNamespace(t, "faults")
		kubectl(t, "apply", "--server-side", "-n", ns, "-f", filepath.Join(dir, "deployment.yaml"))
		return dir, ns
	}

	t.Run("401 then credentials from a Docker config file", func(t *testing.T) {
		reg := newTestRegistry(t)
		reg.user, reg.password = "robot", "registry-secret-value"
		dir, ns := setUp(t, reg, "team/private:1.0")
		r := runCmd(t, []string{"DOCKER_CONFIG=" + t.TempDir()}, plumbline, "images", "lock", "--path", dir)
		if r.code != 2 || !strings.Contains(r.stderr, reg.host) {
			t.Fatalf("lock without credentials: exit %d, want 2 naming %s\n%s", r.code, reg.host, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "plumbline.lock.yaml")); err == nil {
			t.Fatal("a lock file was written although an image could not be resolved")
		}
		config := "DOCKER_CONFIG=" + reg.dockerConfig(t, "robot", "registry-secret-value")
		lock(t, dir, config)
		if r, rep := imageDiff(t, dir, ns, t.TempDir(), config); r.code != 0 {
			t.Fatalf("with credentials: exit %d\n%+v\n%s", r.code, rep, r.stderr)
		}
		r, rep := imageDiff(t, dir, ns, t.TempDir(), "DOCKER_CONFIG="+t.TempDir())
		if r.code != 2 || len(rep.Findings) != 0 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0].Message, reg.host) {
			t.Fatalf("diff without credentials: exit %d, findings %+v, errors %+v", r.code, rep.Findings, rep.Errors)
		}
		if strings.Contains(r.stdout+r.stderr, "registry-secret-value") {
			t.Error("the registry password appears in the output")
		}
	})

	t.Run("429 with Retry-After then success", func(t *testing.T) {
		reg := newTestRegistry(t)
		dir, ns := setUp(t, reg, "team/busy:1.0")
		lock(t, dir)
		reg.resetCounts()
		reg.mu.Lock()
		reg.throttle = 1
		reg.mu.Unlock()
		if r, rep := imageDiff(t, dir, ns, t.TempDir()); r.code != 0 {
			t.Fatalf("exit %d, want 0 after the retry\n%+v\n%s", r.code, rep, r.stderr)
		}
		if n := reg.requests("team/busy"); n != 2 {
			t.Errorf("%d manifest requests, want 2 (a 429, then the retry)", n)
		}
	})

	t.Run("registry down", func(t *testing.T) {
		reg := newTestRegistry(t)
		dir, ns := setUp(t, reg, "team/gone:1.0")
		lock(t, dir)
		reg.Close()
		r, rep := imageDiff(t, dir, ns, t.TempDir())
		if r.code != 2 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0].Message, reg.host) {
			t.Fatalf("exit %d, errors %+v, want 2 and one error naming %s", r.code, rep.Errors, reg.host)
		}
		if len(rep.Findings) != 0 {
			t.Errorf("a registry outage produced findings: %+v", rep.Findings)
		}
	})
}
