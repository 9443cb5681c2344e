// Package activity tests audit and Falco events end to end: a real kube-apiserver whose audit
// webhook posts to the controller's events endpoint over TLS, users with client certificates
// and RBAC, kubectl, and the controller in a manager.
package activity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
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
	eventsToken = "audit-webhook-token-for-tests"
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
	cert, caPEM, err := servingCert()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
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

	caFile := filepath.Join(dir, "events-ca.crt")
	webhook := filepath.Join(dir, "webhook-kubeconfig.yaml")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: plumbline
  cluster:
    server: %s/audit
    certificate-authority: %s
users:
- name: kube-apiserver
  user:
    token: %s
contexts:
- name: default
  context: {cluster: plumbline, user: kube-apiserver}
current-context: default
`, eventsURL, caFile, eventsToken)
	if err := os.WriteFile(webhook, []byte(kubeconfig), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	policy, err := filepath.Abs("../../deploy/audit/policy.yaml") // the policy users install
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return cluster.RunTestsWith(m, &env, cluster.Options{APIServerFlags: map[string]string{
		"audit-policy-file":            policy,
		"audit-webhook-config-file":    webhook,
		"audit-webhook-batch-max-wait": "1s",
	}})
}

// servingCert makes a CA and a certificate for 127.0.0.1 signed by it.
func servingCert() (tls.Certificate, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "plumbline events CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "plumbline-events"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caPEM, nil
}
