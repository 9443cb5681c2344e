package gitsource

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshGitServer is a real SSH server (golang.org/x/crypto/ssh) that runs
// `git upload-pack` (and `git receive-pack`, for pushes) for the repositories under root, for one authorized
// client key.
type sshGitServer struct {
	addr        string
	connections atomic.Int32 // TCP connections accepted
}

// newSSHGitServer starts a server with the given host keys that accepts
// only the client key authorized.
func newSSHGitServer(t *testing.T, root string, authorized ssh.PublicKey, hostKeys ...ssh.Signer) *sshGitServer {
	t.Helper()
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), authorized.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		},
	}
	for _, k := range hostKeys {
		cfg.AddHostKey(k)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sshGitServer{addr: l.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close listener: %v", err)
		}
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			s.connections.Add(1)
			wg.Go(func() { serveSSHConn(conn, cfg, root) })
		}
	})
	return s
}

// serveSSHConn runs one client connection: sessions whose exec request is
// git-upload-pack for a path under root.
func serveSSHConn(conn net.Conn, cfg *ssh.ServerConfig, root string) {
	defer conn.Close()
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			return
		}
		go serveSSHSession(ch, requests, root)
	}
}

func serveSSHSession(ch ssh.Channel, requests <-chan *ssh.Request, root string) {
	defer ch.Close()
	for req := range requests {
		if req.Type != "exec" || len(req.Payload) < 4 {
			_ = req.Reply(req.Type == "env", nil)
			continue
		}
		command := string(req.Payload[4:])
		prog, path, _ := strings.Cut(command, " ")
		if prog != "git-upload-pack" && prog != "git-receive-pack" {
			_ = req.Reply(false, nil)
			continue
		}
		_ = req.Reply(true, nil)
		dir := filepath.Join(root, filepath.Clean("/"+strings.Trim(path, "'")))
		cmd := exec.Command("git", strings.TrimPrefix(prog, "git-"), dir)
		cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
		stdin, err := cmd.StdinPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err == nil {
			// Not waited for: the client closes its side only after exit.
			go func() { _, _ = io.Copy(stdin, ch); _ = stdin.Close() }()
			err = cmd.Wait()
		}
		status := make([]byte, 4)
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			binary.BigEndian.PutUint32(status, uint32(exitErr.ExitCode()))
		} else if err != nil {
			binary.BigEndian.PutUint32(status, 255)
		}
		_, _ = ch.SendRequest("exit-status", false, status)
		return
	}
}

// newEd25519 returns a new ed25519 signer and its private key in OpenSSH
// PEM form.
func newEd25519(t *testing.T) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signerAndPEM(t, priv)
}

// newRSA returns a new 2048-bit RSA signer and its private key as PEM.
func newRSA(t *testing.T) (ssh.Signer, []byte) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signerAndPEM(t, priv)
}

func signerAndPEM(t *testing.T, priv any) (ssh.Signer, []byte) {
	t.Helper()
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return s, pem.EncodeToMemory(block)
}

// knownHostsLine returns the known_hosts line that pins key for addr.
func knownHostsLine(addr string, key ssh.PublicKey) string {
	return knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
}
