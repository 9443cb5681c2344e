package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestDeployPassesTheBaseline: the install in deploy/, alone and with both of its optional
// components, passes Plumbline's own baseline policy. Its image is not published from here, so
// there is no digest to approve: images are skipped.
func TestDeployPassesTheBaseline(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"../../deploy", "Passed: the 17 objects of ../../deploy"},
		{"testdata/deploy-with-components", "Passed: the 20 objects of testdata/deploy-with-components"},
	} {
		r := runCmd(t, nil, plumbline, "check", "--path", tc.path, "--skip-images")
		if r.code != 0 {
			t.Errorf("check %s: exit %d\n%s%s", tc.path, r.code, r.stdout, r.stderr)
			continue
		}
		if !strings.Contains(r.stdout, tc.want) {
			t.Errorf("check %s printed:\n%s\nwant %q", tc.path, r.stdout, tc.want)
		}
	}
}

// TestDeployInstalls: `kubectl apply -k deploy/` installs on a real API server, and the sample
// Source shows in `kubectl get sources -A` with the printer columns.
func TestDeployInstalls(t *testing.T) {
	installDeploy(t, "../../deploy")
	ns := newNamespace(t, "sample")
	kubectl(t, "apply", "-n", ns, "-f", "../../deploy/samples/source.yaml")
	out := kubectl(t, "get", "sources", "-A")
	if !strings.Contains(out, "NAMESPACE") || !strings.Contains(out, "REVISION") || !strings.Contains(out, "sample") {
		t.Errorf("kubectl get sources -A:\n%s", out)
	}
	sa := kubectl(t, "auth", "can-i", "patch", "deployments", "--as=system:serviceaccount:plumbline-system:plumbline", "-A")
	if strings.TrimSpace(sa) != "yes" {
		t.Errorf("the controller's account may not patch Deployments: %s", sa)
	}
}

// installDeploy applies the install kustomization at dir with kubectl and, when the test ends,
// deletes its cluster-scoped RBAC, which this package's other tests must not see as orphans.
// The CRD and the namespace stay: other tests use them.
func installDeploy(t *testing.T, dir string) {
	t.Helper()
	kubectl(t, "apply", "--server-side", "-k", dir)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, args := range [][]string{
			{"delete", "clusterrole", "plumbline-read", "plumbline-write", "plumbline-runtime", "plumbline-admission"},
			{"delete", "clusterrolebinding", "plumbline-read", "plumbline-write", "plumbline-runtime", "plumbline-admission"},
		} {
			if r, err := execute(ctx, append(os.Environ(), "KUBECONFIG="+env.Kubeconfig), "kubectl", args...); err != nil || r.code != 0 {
				t.Errorf("kubectl %s: %v %s", strings.Join(args, " "), err, r.stderr)
			}
		}
	})
}

// TestImageIsStaticAndNonRoot takes the binary the Dockerfile builds (CGO_ENABLED=0, static: the
// one TestMain built), packs it into an image with the Dockerfile's USER and ENTRYPOINT through go-containerregistry,
// pushes it to a registry and reads it back: the config runs as non-root, the entrypoint is a
// static executable in the image, and it runs.
func TestImageIsStaticAndNonRoot(t *testing.T) {
	user, entrypoint, cmd := dockerfileFinalStage(t, "../../Dockerfile")
	if user == "" || strings.HasPrefix(user, "0") || user == "root" {
		t.Fatalf("Dockerfile USER %q: want a non-root user", user)
	}
	layer := tarLayer(t, strings.TrimPrefix(entrypoint[0], "/"), plumbline)
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{User: user, Entrypoint: entrypoint, Cmd: cmd})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/plumbline/plumbline:test")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := pulled.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || strings.Join(cf.Config.Entrypoint, " ") != "/usr/local/bin/plumbline" || strings.Join(cf.Config.Cmd, " ") != "run" {
		t.Errorf("image config: user %q entrypoint %q cmd %q", cf.Config.User, cf.Config.Entrypoint, cf.Config.Cmd)
	}
	extracted := extractFile(t, pulled, strings.TrimPrefix(entrypoint[0], "/"))
	f, err := elf.Open(extracted)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary needs a dynamic loader: not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary links %v", libs)
	}
	if out, err := exec.CommandContext(t.Context(), extracted, "version").CombinedOutput(); err != nil {
		t.Errorf("the image's binary does not run: %v\n%s", err, out)
	}
}

// dockerfileFinalStage reads USER, ENTRYPOINT and CMD of the Dockerfile's last stage.
func dockerfileFinalStage(t *testing.T, path string) (user string, entrypoint, cmd []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.SplitN(strings.TrimSpace(sc.Text()), " ", 2)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "FROM":
			user, entrypoint, cmd = "", nil, nil
		case "USER":
			user = fields[1]
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(fields[1]), &entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT %s: %v", fields[1], err)
			}
		case "CMD":
			if err := json.Unmarshal([]byte(fields[1]), &cmd); err != nil {
				t.Fatalf("CMD %s: %v", fields[1], err)
			}
		}
	}
	if len(entrypoint) == 0 {
		t.Fatal("the Dockerfile's last stage has no ENTRYPOINT")
	}
	return user, entrypoint, cmd
}

// tarLayer is a layer holding one executable file at path.
func tarLayer(t *testing.T, path, file string) v1.Layer {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: path, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return layer
}

// extractFile writes the file at path of the image's flattened file system to a temporary file.
func extractFile(t *testing.T, img v1.Image, path string) string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s is not in the image", path)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != path {
			continue
		}
		out := filepath.Join(t.TempDir(), filepath.Base(path))
		f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return out
	}
}
