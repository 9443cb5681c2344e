package activity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

const testToken = "s3cret-token"

func newTestServer(t *testing.T, opts Options) (*Receiver, *httptest.Server) {
	t.Helper()
	if opts.Token == nil {
		opts.Token = []byte(testToken)
	}
	r, err := NewReceiver(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(r.Handler())
	t.Cleanup(srv.Close)
	return r, srv
}

func post(t *testing.T, srv *httptest.Server, path, token string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

const auditBatch = `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[
{"level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/shop/deployments/web?fieldManager=kubectl-set","verb":"patch",
 "user":{"username":"alice@example.com","groups":["dev","system:authenticated"]},"sourceIPs":["10.1.2.3"],"userAgent":"kubectl/v1.32.0 (linux/amd64) kubernetes/70d3cc9",
 "objectRef":{"resource":"deployments","namespace":"shop","name":"web","apiGroup":"apps","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},
 "requestReceivedTimestamp":"2026-12-02T10:00:00.100000Z","stageTimestamp":"2026-12-02T10:00:00.120000Z"},
{"level":"Metadata","auditID":"a2","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/pods/web-1/exec?command=sh&command=-c&command=id&container=nginx","verb":"create",
 "user":{"username":"bob"},"impersonatedUser":{"username":"carol","groups":["ops"]},"userAgent":"kubectl/v1.32.0 (linux/amd64) kubernetes/70d3cc9",
 "objectRef":{"resource":"pods","namespace":"shop","name":"web-1","apiVersion":"v1","subresource":"exec"},"responseStatus":{"metadata":{},"code":400},
 "requestReceivedTimestamp":"2026-12-02T10:00:01.000000Z","stageTimestamp":"2026-12-02T10:00:01.000000Z"},
{"level":"Metadata","auditID":"a3","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/pods/web-1/status","verb":"patch",
 "user":{"username":"system:node:n1"},"objectRef":{"resource":"pods","namespace":"shop","name":"web-1","apiVersion":"v1","subresource":"status"},"responseStatus":{"metadata":{},"code":200},
 "requestReceivedTimestamp":"2026-12-02T10:00:02.000000Z","stageTimestamp":"2026-12-02T10:00:02.000000Z"},
{"level":"Metadata","auditID":"a4","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/shop/deployments/web","verb":"update",
 "user":{"username":"mallory"},"objectRef":{"resource":"deployments","namespace":"shop","name":"web","apiGroup":"apps","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":403},
 "requestReceivedTimestamp":"2026-12-02T10:00:03.000000Z","stageTimestamp":"2026-12-02T10:00:03.000000Z"}]}`

func TestAuditBatchParsedIntoWritesAndAccess(t *testing.T) {
	r, srv := newTestServer(t, Options{})
	if code, body := post(t, srv, "/audit", testToken, []byte(auditBatch)); code != http.StatusOK {
		t.Fatalf("POST /audit: %d %s", code, body)
	}
	var got []Event
	for len(r.Events()) > 0 {
		got = append(got, <-r.Events())
	}
	if len(got) != 2 {
		t.Fatalf("want the write and the exec (not the status patch nor the refused update), got %d: %+v", len(got), got)
	}
	w := got[0]
	if w.Kind != KindWrite || w.Actor.User != "alice@example.com" || w.Actor.FieldManager != "kubectl-set" ||
		strings.Join(w.Actor.Groups, ",") != "dev,system:authenticated" || w.Actor.SourceIPs[0] != "10.1.2.3" ||
		w.Object.Resource != "deployments" || w.Object.Name != "web" || w.Actor.AuditID != "a1" {
		t.Errorf("write: %+v actor %+v", w, w.Actor)
	}
	x := got[1]
	if x.Kind != KindAccess || x.Access != AccessExec || x.Command != "sh -c id" || x.Code != 400 ||
		x.Actor.User != "bob" || x.Actor.ImpersonatedUser != "carol" {
		t.Errorf("exec: %+v actor %+v", x, x.Actor)
	}
}

func TestFalcoSamplesParsed(t *testing.T) {
	r, srv := newTestServer(t, Options{})
	for _, name := range []string{"falco-netcat.json", "falco-nginx-conf.json", "falco-new-binary.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if code, body := post(t, srv, "/falco", testToken, b); code != http.StatusOK {
			t.Fatalf("%s: %d %s", name, code, body)
		}
	}
	want := []struct{ rule, process, file, user string }{
		{"Netcat Remote Code Execution in Container", "/usr/bin/nc", "", "www-data"},
		{"Write below etc", "/usr/bin/vi", "/etc/nginx/nginx.conf", "root"},
		{"Drop and execute new binary in container", "/usr/bin/nc", "", "www-data"},
	}
	for i, w := range want {
		e := <-r.Events()
		rt := e.Runtime
		if e.Kind != KindFalco || e.Namespace != "NAMESPACE" || e.Pod != "POD" || rt.Rule != w.rule || rt.Process != w.process ||
			rt.File != w.file || rt.User != w.user || rt.Container != "nginx" || rt.ContainerID != "3ad7b26ded6d" {
			t.Errorf("event %d: %+v runtime %+v", i, e, rt)
		}
	}
}

func TestBadRequestsRefused(t *testing.T) {
	r, srv := newTestServer(t, Options{MaxEventsPerRequest: 10})
	big := bytes.Repeat([]byte("x"), 10<<20)
	tooMany := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Repeat(`{},`, 10) + `{}]}`
	for _, tc := range []struct {
		name, path, token, body string
		want                    int
		wantText                string
	}{
		{"no token", "/audit", "", auditBatch, 401, "unauthorized"},
		{"wrong token", "/audit", "s3cret-tokem", auditBatch, 401, "unauthorized"},
		{"wrong token on falco", "/falco", "nope", `{"rule":"x"}`, 401, "unauthorized"},
		{"10 MiB body", "/audit", testToken, string(big), 413, "request body over 4194304 bytes"},
		{"malformed JSON", "/audit", testToken, `{"kind":"EventList",`, 400, "audit EventList: unexpected end of JSON input"},
		{"wrong kind", "/audit", testToken, `{"kind":"Policy","apiVersion":"audit.k8s.io/v1"}`, 400, `got apiVersion "audit.k8s.io/v1" kind "Policy"`},
		{"too many events", "/audit", testToken, tooMany, 400, "11 items, at most 10"},
		{"falco malformed", "/falco", testToken, `{"rule":`, 400, "falco event"},
		{"falco without rule", "/falco", testToken, `{"output":"hello"}`, 400, "no rule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, srv, tc.path, tc.token, []byte(tc.body))
			if code != tc.want || !strings.Contains(body, tc.wantText) {
				t.Errorf("got %d %q, want %d containing %q", code, body, tc.want, tc.wantText)
			}
			if strings.Contains(body, "alice") {
				t.Errorf("the answer echoes the request body: %q", body)
			}
		})
	}
	if n := len(r.Events()); n != 0 {
		t.Errorf("refused requests handed on %d events", n)
	}
	s := r.Stats()
	if s.Unauthorized != 3 || s.TooLarge != 1 || s.Malformed != 5 {
		t.Errorf("stats: %+v", s)
	}
}

func TestClientCertificateAuthenticates(t *testing.T) {
	ca, caKey := newCert(t, nil, nil, true)
	client, clientKey := newCert(t, ca, caKey, false)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	r, err := NewReceiver(Options{ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	serving, servingKey := newCert(t, ca, caKey, false)
	srv := httptest.NewUnstartedServer(r.Handler())
	srv.TLS = r.TLSConfig(tls.Certificate{Certificate: [][]byte{serving.Raw}, PrivateKey: servingKey})
	srv.StartTLS()
	defer srv.Close()
	roots := pool
	other, otherKey := newCert(t, nil, nil, true) // signed by no CA the receiver trusts
	for _, tc := range []struct {
		name  string
		certs []tls.Certificate
		want  int
	}{
		{"no certificate", nil, 401},
		{"certificate of the CA", []tls.Certificate{{Certificate: [][]byte{client.Raw}, PrivateKey: clientKey}}, 200},
		{"certificate of another CA", []tls.Certificate{{Certificate: [][]byte{other.Raw}, PrivateKey: otherKey}}, -1},
	} {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: tc.certs}}}
		resp, err := c.Post(srv.URL+"/falco", "application/json", strings.NewReader(`{"rule":"r","output_fields":{}}`))
		if tc.want == -1 {
			if err == nil {
				resp.Body.Close()
				t.Errorf("%s: accepted with %d", tc.name, resp.StatusCode)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

// newCert makes a CA (isCA) or a client certificate signed by parent.
func newCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "falcosidekick"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature
		tmpl.Subject.CommonName = "test CA"
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestStormIsSampledAndBounded(t *testing.T) {
	r, srv := newTestServer(t, Options{Rate: 100, Burst: 100, SampleEvery: 100, Buffer: 500, MaxEventsPerRequest: 1000,
		Now: func() time.Time { return time.Unix(0, 0) }})
	one := `{"rule":"Terminal shell in container","priority":"Notice","output_fields":{"k8s.ns.name":"a","k8s.pod.name":"b","proc.exepath":"/bin/sh"}}`
	batch := "[" + strings.TrimSuffix(strings.Repeat(one+",", 1000), ",") + "]"
	for range 10 {
		if code, body := post(t, srv, "/falco", testToken, []byte(batch)); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	s := r.Stats()
	if s.Events != 10000 {
		t.Fatalf("events: %+v", s)
	}
	// 100 within the burst (the rate adds a few in the time the test takes), then 1 in 100.
	if s.Accepted > 500 || s.Accepted < 100 || s.Accepted+s.Sampled+s.Dropped != s.Events {
		t.Errorf("the storm was not sampled: %+v", s)
	}
	// Within the storm, another rule's first event is not sampled out.
	other := `{"rule":"Write below etc","priority":"Error","output_fields":{"k8s.ns.name":"a","k8s.pod.name":"b","fd.name":"/etc/passwd"}}`
	if code, body := post(t, srv, "/falco", testToken, []byte(other)); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	counted, others := 0, 0
	for len(r.Events()) > 0 {
		e := <-r.Events()
		if e.Runtime.Rule == "Write below etc" {
			others++
			continue
		}
		counted += e.Runtime.Count
	}
	if others != 1 {
		t.Errorf("the other rule's event was handed on %d times, want 1", others)
	}
	if counted < 9000 || counted > 11000 {
		t.Errorf("the events handed on stand for %d events, want about 10000", counted)
	}
}
