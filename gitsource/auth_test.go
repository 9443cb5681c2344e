package gitsource

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
)

func TestAuthFromSecretData(t *testing.T) {
	_, identity := newEd25519(t)
	host, _ := newEd25519(t)
	knownHosts := []byte(knownHostsLine("github.com:22", host.PublicKey()))
	encrypted := encryptedIdentity(t, "letmein")
	ca := testCA(t)

	tests := []struct {
		name    string
		data    map[string][]byte
		want    *Auth
		wantErr string // substring of the error; empty: no error
	}{
		{name: "nil data is anonymous", data: nil, want: &Auth{}},
		{name: "basic", data: map[string][]byte{"username": []byte("bot"), "password": []byte("tok")},
			want: &Auth{Username: "bot", Password: "tok"}},
		{name: "bearer, trimmed", data: map[string][]byte{"bearerToken": []byte("tok\n")},
			want: &Auth{BearerToken: "tok"}},
		{name: "ssh", data: map[string][]byte{"identity": identity, "identity.pub": []byte("ignored"), "known_hosts": knownHosts},
			want: &Auth{SSHPrivateKey: identity, KnownHosts: knownHosts}},
		{name: "ssh, password is the passphrase", data: map[string][]byte{"identity": encrypted, "password": []byte("letmein"), "known_hosts": knownHosts},
			want: &Auth{Password: "letmein", SSHPrivateKey: encrypted, SSHPassphrase: []byte("letmein"), KnownHosts: knownHosts}},
		{name: "ca.crt", data: map[string][]byte{"ca.crt": ca}, want: &Auth{CABundle: ca}},
		{name: "caFile", data: map[string][]byte{"caFile": ca}, want: &Auth{CABundle: ca}},
		{name: "password and bearer token", data: map[string][]byte{"password": []byte("a"), "bearerToken": []byte("b")},
			wantErr: "password and bearerToken cannot both be set"},
		{name: "encrypted identity without password", data: map[string][]byte{"identity": encrypted},
			wantErr: "identity: key is encrypted"},
		{name: "wrong passphrase", data: map[string][]byte{"identity": encrypted, "password": []byte("nope-secret")},
			wantErr: "identity: parse private key"},
		{name: "identity is not a key", data: map[string][]byte{"identity": []byte("not-a-key-secret")},
			wantErr: "identity: parse private key"},
		{name: "known_hosts is garbage", data: map[string][]byte{"known_hosts": []byte("github.com not-a-key-type AAAA\n")},
			wantErr: "known_hosts"},
		{name: "ca.crt is not PEM", data: map[string][]byte{"ca.crt": []byte("nope")},
			wantErr: "ca.crt: no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AuthFromSecretData(tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("AuthFromSecretData error = %v, want one containing %q", err, tt.wantErr)
				}
				for _, v := range tt.data {
					if len(v) > 4 && strings.Contains(err.Error(), string(v)) {
						t.Errorf("error %q contains a secret value", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("AuthFromSecretData: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("AuthFromSecretData (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuthPrintsNoSecret(t *testing.T) {
	a := &Auth{Username: "bot", Password: "pw-secret", BearerToken: "tok-secret",
		SSHPrivateKey: []byte("key-secret"), SSHPassphrase: []byte("phrase-secret"), KnownHosts: []byte("kh")}
	wrapper := struct{ Auth *Auth }{a}
	for _, s := range []string{
		fmt.Sprint(a), fmt.Sprintf("%v %+v %#v %s", a, a, a, a), fmt.Sprintf("%v %+v %#v", *a, *a, *a),
		fmt.Sprintf("%+v", wrapper), a.String(),
	} {
		if strings.Contains(s, "secret") {
			t.Errorf("printed Auth %q contains a secret", s)
		}
	}
	want := "gitsource.Auth{Username:bot Password BearerToken SSHPrivateKey SSHPassphrase KnownHosts}"
	if diff := cmp.Diff(want, a.String()); diff != "" {
		t.Errorf("String (-want +got):\n%s", diff)
	}
	var nilAuth *Auth
	if got := nilAuth.String(); got != "gitsource.Auth{}" {
		t.Errorf("nil String = %q", got)
	}
}

// encryptedIdentity returns a new ed25519 key in OpenSSH form, encrypted
// with passphrase.
func encryptedIdentity(t *testing.T, passphrase string) []byte {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

// testCA returns the PEM certificate of an httptest TLS server.
func testCA(t *testing.T) []byte {
	t.Helper()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}
