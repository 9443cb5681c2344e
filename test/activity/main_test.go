// Package activity tests audit and Falco events end to end: a real kube-apiserver whose audit
// webhook posts to the controller's events endpoint over TLS, users with client certificates
// and RBAC, kubectl, and the controller in a manager.
package activity

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/plumbline/plumbline/activity"
	"github.com/plumbline/plumbline/test/cluster"
)

// env is the control plane; events the receiver that its audit webhook posts to, served on
// eventsURL; eventsToken the bearer token; eventsCA the CA of the endpoint's certificate.
var (
	env         *cluster.Cluster
	receiver    *activity.Receiver
	eventsURL   string
	eventsToken string
	eventsCA    *x509.CertPool
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "plumbline-activity-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The TLS listener first: the API server's audit webhook needs its address at start.
	policy, err := filepath.Abs("../../deploy/audit/policy.yaml") // the policy users install
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	hook, err := cluster.NewAuditWebhook(dir, policy)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cert, err := tls.LoadX509KeyPair(hook.CertFile, hook.KeyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	caPEM, err := os.ReadFile(hook.CAFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", hook.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	eventsToken = hook.Token
	receiver, err = activity.NewReceiver(activity.Options{Token: []byte(eventsToken)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	eventsCA = x509.NewCertPool()
	eventsCA.AppendCertsFromPEM(caPEM)
	srv := &http.Server{Handler: receiver.Handler(), TLSConfig: receiver.TLSConfig(cert), ReadHeaderTimeout: 10 * time.Second}
	go srv.ServeTLS(ln, "", "") //nolint:errcheck // ends with Close below
	defer srv.Close()
	eventsURL = "https://" + ln.Addr().String()
	return cluster.RunTestsWith(m, &env, cluster.Options{APIServerFlags: hook.Flags()})
}
