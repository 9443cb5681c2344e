package gitsource

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFetchSSH(t *testing.T) {
	root := t.TempDir()
	r := newTestRepo(t, filepath.Join(root, "repo"))
	c := r.commit("c", map[string]string{"deploy/app.yaml": "replicas: 1\n"})
	r.tag("v1", c, true)

	client, clientPEM := newEd25519(t)
	_, otherClientPEM := newEd25519(t)
	hostEd, _ := newEd25519(t)
	hostRSA, _ := newRSA(t)
	otherHost, _ := newEd25519(t)
	// The server offers an RSA and an ed25519 host key. x/crypto prefers
	// RSA, so the ed25519-only known_hosts works only if HostKeyAlgorithms
	// are derived from it.
	srv := newSSHGitServer(t, root, client.PublicKey(), hostRSA, hostEd)
	url := "ssh://git@" + srv.addr + "/repo"

	tests := []struct {
		name       string
		ref        string
		identity   []byte
		knownHosts string
		kind       error // nil: the fetch must succeed
		wantRef    string
	}{
		{"ed25519 host key pinned", "main", clientPEM, knownHostsLine(srv.addr, hostEd.PublicKey()), nil, "refs/heads/main"},
		{"RSA host key pinned", "v1", clientPEM, knownHostsLine(srv.addr, hostRSA.PublicKey()), nil, "refs/tags/v1"},
		{"other hosts in known_hosts too", "", clientPEM,
			knownHostsLine("example.com:22", otherHost.PublicKey()) + knownHostsLine(srv.addr, hostEd.PublicKey()), nil, "refs/heads/main"},
		{"host key mismatch", "main", clientPEM, knownHostsLine(srv.addr, otherHost.PublicKey()), ErrHostKey, ""},
		{"host unknown", "main", clientPEM, knownHostsLine("127.0.0.2:22", hostEd.PublicKey()), ErrHostKey, ""},
		{"client key not authorized", "main", otherClientPEM, knownHostsLine(srv.addr, hostEd.PublicKey()), ErrAuth, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := DefaultFetchOptions()
			opts.URL, opts.Ref = url, tt.ref
			opts.Auth = &Auth{SSHPrivateKey: tt.identity, KnownHosts: []byte(tt.knownHosts)}
			res, err := Fetch(context.Background(), opts)
			if tt.kind != nil {
				if err == nil {
					closeResult(t, res)
					t.Fatal("Fetch succeeded, want an error")
				}
				if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), srv.addr) {
					t.Errorf("Fetch error = %v, want kind %v naming %s", err, tt.kind, srv.addr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			closeResult(t, res)
			want := fetched{Ref: tt.wantRef, Commit: c.String(), Files: r.files[c]}
			if diff := cmp.Diff(want, summarize(t, res)); diff != "" {
				t.Errorf("Fetch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFetchSSHWithoutKnownHostsConnectsNowhere(t *testing.T) {
	client, clientPEM := newEd25519(t)
	host, _ := newEd25519(t)
	srv := newSSHGitServer(t, t.TempDir(), client.PublicKey(), host)

	for _, knownHosts := range []string{"", " \n"} {
		opts := DefaultFetchOptions()
		opts.URL = "ssh://git@" + srv.addr + "/repo"
		opts.Auth = &Auth{SSHPrivateKey: clientPEM, KnownHosts: []byte(knownHosts)}
		_, err := Fetch(context.Background(), opts)
		if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "known_hosts") {
			t.Errorf("known_hosts %q: Fetch error = %v, want ErrHostKey about known_hosts", knownHosts, err)
		}
	}
	// No Auth at all: same refusal.
	_, err := Fetch(context.Background(), FetchOptions{URL: "git@" + srv.addr + ":repo"})
	if !errors.Is(err, ErrHostKey) {
		t.Errorf("no Auth: Fetch error = %v, want ErrHostKey", err)
	}
	if n := srv.connections.Load(); n != 0 {
		t.Errorf("server accepted %d connections, want 0", n)
	}
}

func TestFetchSSHUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	_, clientPEM := newEd25519(t)
	host, _ := newEd25519(t)
	opts := DefaultFetchOptions()
	opts.URL = "ssh://git@" + addr + "/repo"
	opts.Auth = &Auth{SSHPrivateKey: clientPEM, KnownHosts: []byte(knownHostsLine(addr, host.PublicKey()))}
	_, err = Fetch(context.Background(), opts)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), addr) {
		t.Errorf("Fetch error = %v, want ErrUnreachable naming %s", err, addr)
	}
}
