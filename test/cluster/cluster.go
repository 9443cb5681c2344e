package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Cluster is a running control plane.
type Cluster struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for the same admin, for the CLI and kubectl.
	Kubeconfig string
	// Clientset is a typed client for Config.
	Clientset *kubernetes.Clientset

	env *envtest.Environment
	kcm *controllerManager
	dir string
}

// AssetsDir returns the folder that holds kube-apiserver and etcd: KUBEBUILDER_ASSETS when set,
// else test/bin of the repository that contains the working directory.
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "test", "tools", "go.mod")); err == nil {
			return filepath.Join(dir, "test", "bin"), nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no KUBEBUILDER_ASSETS and no repository above %s", wd)
		}
	}
}

// Options add to the control plane Start makes. The zero value changes nothing.
type Options struct {
	// APIServerFlags are further kube-apiserver flags (name without dashes → value), e.g. the
	// audit webhook's.
	APIServerFlags map[string]string
}

// Start starts etcd, kube-apiserver with a /16 service range (envtest's default /24 holds only
// ~250 ClusterIP Services) and kube-controller-manager with every controller. Stop it with Stop.
func Start() (*Cluster, error) { return StartWith(Options{}) }

// StartWith is Start with opts.
func StartWith(opts Options) (*Cluster, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	for _, bin := range []string{"kube-apiserver", "etcd", "kube-controller-manager"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("control plane: %s not found in %s: run `make control-plane` first", bin, assets)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	for name, value := range opts.APIServerFlags {
		env.ControlPlane.GetAPIServer().Configure().Set(name, value)
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("control plane: start: %w", err)
	}
	c := &Cluster{env: env}
	if err := c.finish(cfg); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := c.startControllerManager(ctx, assets); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return c, nil
}

func (c *Cluster) finish(cfg *rest.Config) error {
	cfg.QPS, cfg.Burst = 1000, 2000
	user, err := c.env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		return fmt.Errorf("control plane: add admin user: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("control plane: kubeconfig: %w", err)
	}
	c.dir, err = os.MkdirTemp("", "plumbline-cluster-")
	if err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, kubeconfig, 0o600); err != nil {
		return err
	}
	c.Config = user.Config()
	c.Config.QPS, c.Config.Burst = 1000, 2000
	c.Clientset, err = kubernetes.NewForConfig(c.Config)
	return err
}

// Stop stops the control plane and removes its kubeconfig.
func (c *Cluster) Stop() error {
	err := c.kcm.stop()
	err = errors.Join(err, c.env.Stop())
	if c.dir != "" {
		err = errors.Join(err, os.RemoveAll(c.dir))
	}
	return err
}

// NewNamespace creates a namespace with a random suffix and returns its name. Tests do not
// wait for a namespace's deletion.
func (c *Cluster) NewNamespace(ctx context.Context, prefix string) (string, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	name := strings.ToLower(prefix) + "-" + hex.EncodeToString(b)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("create namespace %s: %w", name, err)
	}
	return name, nil
}

// RunTests starts a control plane for a test binary's TestMain, sets *env to it, runs the tests
// and stops it. It returns the exit code for os.Exit.
func RunTests(m *testing.M, env **Cluster) int { return RunTestsWith(m, env, Options{}) }

// RunTestsWith is RunTests with a control plane started with opts.
func RunTestsWith(m *testing.M, env **Cluster, opts Options) int {
	c, err := StartWith(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	*env = c
	return m.Run()
}

// AddUser adds a user authenticated by a client certificate, in groups, and returns the path
// of a kubeconfig file for it and its rest.Config. RBAC decides what it may do.
func (c *Cluster) AddUser(name string, groups []string) (string, *rest.Config, error) {
	user, err := c.env.AddUser(envtest.User{Name: name, Groups: groups}, c.Config)
	if err != nil {
		return "", nil, fmt.Errorf("control plane: add user %s: %w", name, err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(c.dir, "kubeconfig-"+name)
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		return "", nil, err
	}
	return path, user.Config(), nil
}
