package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// AuditWebhook is what an API server needs to post its audit events to a receiver on
// 127.0.0.1 over TLS with a bearer token, and what the receiver needs to serve them: a CA, a
// serving certificate for 127.0.0.1 signed by it, a token, and a free port.
type AuditWebhook struct {
	// Addr is host:port of the receiver; URL its /audit endpoint.
	Addr, URL string
	// CAFile, CertFile and KeyFile are PEM files; TokenFile holds Token.
	CAFile, CertFile, KeyFile, TokenFile string
	Token                                string
	// Kubeconfig is the --audit-webhook-config-file; Policy the --audit-policy-file.
	Kubeconfig, Policy string
}

// NewAuditWebhook writes the files of an audit webhook into dir, with the audit policy at
// policy (the repository's deploy/audit/policy.yaml when empty).
func NewAuditWebhook(dir, policy string) (*AuditWebhook, error) {
	if policy == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		for dir := wd; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "test", "tools", "go.mod")); err == nil {
				policy = filepath.Join(dir, "deploy", "audit", "policy.yaml")
				break
			}
			if filepath.Dir(dir) == dir {
				return nil, fmt.Errorf("audit policy: no repository above %s", wd)
			}
		}
	}
	if _, err := os.Stat(policy); err != nil {
		return nil, fmt.Errorf("audit policy: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	w := &AuditWebhook{Addr: addr, URL: "https://" + addr + "/audit", Token: hex.EncodeToString(tok), Policy: policy,
		CAFile: filepath.Join(dir, "events-ca.crt"), CertFile: filepath.Join(dir, "events.crt"), KeyFile: filepath.Join(dir, "events.key"),
		TokenFile: filepath.Join(dir, "events-token"), Kubeconfig: filepath.Join(dir, "audit-webhook-kubeconfig.yaml")}
	caPEM, certPEM, keyPEM, err := servingCertificate()
	if err != nil {
		return nil, err
	}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: plumbline
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: kube-apiserver
  user:
    token: %s
contexts:
- name: default
  context: {cluster: plumbline, user: kube-apiserver}
current-context: default
`, w.URL, w.CAFile, w.Token)
	for path, data := range map[string][]byte{w.CAFile: caPEM, w.CertFile: certPEM, w.KeyFile: keyPEM, w.TokenFile: []byte(w.Token), w.Kubeconfig: []byte(kubeconfig)} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Flags are the kube-apiserver flags that post audit events to the receiver, in batches sent
// at most a second after their first event, retried quickly.
func (w *AuditWebhook) Flags() map[string]string {
	return map[string]string{
		"audit-policy-file":            w.Policy,
		"audit-webhook-config-file":    w.Kubeconfig,
		"audit-webhook-batch-max-wait": "1s",
		// A receiver that is gone (the command ended) must not hold up the API server's stop.
		"audit-webhook-initial-backoff": "100ms",
	}
}

// servingCertificate makes a CA and a certificate for 127.0.0.1 signed by it, as PEM.
func servingCertificate() (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "plumbline events CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(7 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "plumbline-events"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(7 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
