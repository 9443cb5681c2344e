package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// newDemo starts the registry, writes the Git repository and creates the namespace.
func newDemo(ctx context.Context, out, errOut io.Writer, g *globalFlags) (*demo, error) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		return nil, fmt.Errorf("the demo runs kubectl as a person would: %w", err)
	}
	kf := kubeFlags{}
	cfg, _, err := kf.config()
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	d := &demo{out: out, errOut: errOut, g: g, kube: cs}
	if d.registry, err = startRegistry(); err != nil {
		return nil, err
	}
	if d.dir, err = os.MkdirTemp("", "plumbline-demo-"); err != nil {
		d.registry.close()
		return nil, err
	}
	d.repo = filepath.Join(d.dir, "platform-apps")
	suffix := make([]byte, 3)
	rand.Read(suffix) // never fails (crypto/rand)
	name := "shop-" + hex.EncodeToString(suffix)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{demoLabel: "true"}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return nil, errors.Join(fmt.Errorf("create namespace %s: %w", name, err), d.close(ctx, false))
	}
	d.namespace = name // from here on, close deletes it
	return d, nil
}

// demoRegistry is go-containerregistry's registry, served on loopback.
type demoRegistry struct {
	srv  *http.Server
	host string
	base v1.Image // the image both builds of nginx:1.21.0 share all but their top layer with
}

func startRegistry() (*demoRegistry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("demo registry: %v", err)
		}
	}()
	base, err := random.Image(2048, 2)
	if err != nil {
		return nil, err
	}
	return &demoRegistry{srv: srv, host: ln.Addr().String(), base: base}, nil
}

func (r *demoRegistry) close() {
	if r != nil {
		r.srv.Close()
	}
}

// image returns the reference of a repository and tag in this registry.
func (r *demoRegistry) image(repoTag string) string { return r.host + "/" + repoTag }

// push builds an image (the shared base plus one fresh layer) and pushes it under ref. It
// returns the digest the registry serves.
func (r *demoRegistry) push(ctx context.Context, ref string) (string, error) {
	layer, err := random.Layer(1024, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(r.base, layer)
	if err != nil {
		return "", err
	}
	tag, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	digest, err := img.Digest()
	return digest.String(), err
}

// commit writes files (path → content) into the demo repository and commits them as the
// platform team.
func (d *demo) commit(files map[string]string, message string) (string, error) {
	repo, err := git.PlainOpen(d.repo)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.PlainInitWithOptions(d.repo, &git.PlainInitOptions{
			InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
		})
	}
	if err != nil {
		return "", err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", err
	}
	for rel, content := range files {
		p := d.path(rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	if err := wt.AddGlob("."); err != nil {
		return "", err
	}
	sig := &object.Signature{Name: "Platform Team", Email: "platform@example.com", When: time.Now()}
	h, err := wt.Commit(message, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return "", err
	}
	return h.String()[:12], nil
}

// runPod creates a pod of the nginx Deployment as its ReplicaSet would, and writes the status
// a kubelet would report: the digest it pulled. The local control plane runs neither.
func (d *demo) runPod(ctx context.Context, podName, image, digest string) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: d.namespace, Labels: map[string]string{"app": "nginx"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: image}}},
	}
	pods := d.kube.CoreV1().Pods(d.namespace)
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create pod %s: %w", podName, err)
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		return err
	}
	repo := ref.Context().Name()
	created.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "nginx", Image: image, ImageID: "docker-pullable://" + repo + "@" + digest, Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
	}}}
	if _, err := pods.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("pod %s status: %w", podName, err)
	}
	return nil
}
