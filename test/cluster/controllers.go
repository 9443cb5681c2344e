package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// controllerManager is a kube-controller-manager process beside envtest's API server.
type controllerManager struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

// startControllerManager starts kube-controller-manager from assets with every controller on,
// talking to the API server through kubeconfig, and signing service-account tokens with the key
// whose public half envtest's API server verifies. It returns once the controllers work: the
// service-account controller has made the default namespace's ServiceAccount.
func (c *Cluster) startControllerManager(ctx context.Context, assets string) error {
	bin := filepath.Join(assets, "kube-controller-manager")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("control plane: kube-controller-manager not found in %s: run `make control-plane` first", assets)
	}
	saKey := filepath.Join(c.env.ControlPlane.APIServer.CertDir, "sa-signer.key")
	if _, err := os.Stat(saKey); err != nil {
		return fmt.Errorf("control plane: service-account signing key: %w", err)
	}
	logPath := filepath.Join(c.dir, "kube-controller-manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin,
		"--kubeconfig="+c.Kubeconfig,
		"--leader-elect=false",
		"--controllers=*",
		"--service-account-private-key-file="+saKey,
		"--use-service-account-credentials=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		// Quick garbage collection and namespace clean-up, so tests see them within seconds.
		"--concurrent-gc-syncs=20",
		"--namespace-sync-period=10s",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group: a Ctrl-C to the test run reaches the harness, which stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("control plane: start kube-controller-manager: %w", err)
	}
	cm := &controllerManager{cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() {
		cm.done <- cmd.Wait()
		logFile.Close()
	}()
	c.kcm = cm
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-cm.done:
			cm.done <- err
			return false, fmt.Errorf("kube-controller-manager exited: %v (log: %s)", err, cm.tail())
		default:
		}
		_, err := c.Clientset.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("control plane: kube-controller-manager not ready: %w", err)
	}
	return nil
}

// stop ends the process: SIGTERM, then SIGKILL after 10 s.
func (cm *controllerManager) stop() error {
	if cm == nil {
		return nil
	}
	_ = cm.cmd.Process.Signal(syscall.SIGTERM) // it may have exited already; Wait says how
	select {
	case <-cm.done:
		return nil
	case <-time.After(10 * time.Second):
		if err := cm.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("kill kube-controller-manager: %w", err)
		}
		<-cm.done
		return nil
	}
}

// tail returns the end of the controller manager's log, for an error message.
func (cm *controllerManager) tail() string {
	b, err := os.ReadFile(cm.log)
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
