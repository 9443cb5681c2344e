package gitsource

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// remote is what Fetch needs to talk to one remote: go-git's URL, its auth
// method and the TLS roots to trust.
type remote struct {
	url      string
	endpoint *transport.Endpoint
	auth     transport.AuthMethod
	caBundle []byte
}

// newRemote parses rawURL and builds the auth method for its scheme. It
// makes no connection.
func newRemote(rawURL string, a *Auth, insecureHTTP bool, timeout time.Duration) (*remote, error) {
	if rawURL == "" {
		return nil, errors.New("no URL given")
	}
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		// go-git's url.Error texts contain the raw URL; say less.
		return nil, errors.New("cannot parse URL")
	}
	if ep.Password != "" {
		return nil, errors.New("the URL contains a password: give credentials in a Secret or file instead")
	}
	if a == nil {
		a = &Auth{}
	}
	if err := a.validate(); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	r := &remote{url: rawURL, endpoint: ep}
	switch ep.Protocol {
	case "file":
		return r, nil
	case "https", "http":
		r.auth = httpAuth(a)
		if ep.Protocol == "http" && r.auth != nil && !insecureHTTP {
			return nil, errors.New("refusing to send credentials over plain http://; use https:// or set InsecureHTTP")
		}
		if ep.Protocol == "https" {
			r.caBundle = a.CABundle
		}
		return r, nil
	case "ssh":
		r.auth, err = sshAuth(ep, a, timeout)
		if err != nil {
			return nil, err
		}
		return r, nil
	default:
		return nil, fmt.Errorf("unsupported scheme %q: use https://, ssh://, file:// or a local path", ep.Protocol)
	}
}

// httpAuth returns Bearer or Basic auth, or nil for anonymous access.
func httpAuth(a *Auth) transport.AuthMethod {
	switch {
	case a.BearerToken != "":
		return &githttp.TokenAuth{Token: a.BearerToken}
	case a.Username != "" || a.Password != "":
		return &githttp.BasicAuth{Username: a.Username, Password: a.Password}
	}
	return nil
}

// sshAuth builds public-key auth that verifies the host key against
// a.KnownHosts. A missing known_hosts is ErrHostKey and a missing identity is
// ErrAuth, both before any connection.
func sshAuth(ep *transport.Endpoint, a *Auth, timeout time.Duration) (*sshKeyAuth, error) {
	if len(bytes.TrimSpace(a.KnownHosts)) == 0 {
		return nil, fmt.Errorf("%w: no %s given for an SSH URL; host keys are always verified", ErrHostKey, SecretKeyKnownHosts)
	}
	if len(a.SSHPrivateKey) == 0 {
		return nil, fmt.Errorf("%w: no %s (private key) given for an SSH URL", ErrAuth, SecretKeyIdentity)
	}
	signer, err := a.signer()
	if err != nil {
		return nil, err
	}
	db, err := knownHostsDB(a.KnownHosts)
	if err != nil {
		return nil, err
	}
	user := ep.User
	if user == "" {
		user = a.Username
	}
	if user == "" {
		user = gitssh.DefaultUsername
	}
	port := ep.Port
	if port <= 0 {
		port = gitssh.DefaultPort
	}
	hostWithPort := net.JoinHostPort(ep.Host, strconv.Itoa(port))
	return &sshKeyAuth{
		user:     user,
		signer:   signer,
		callback: db.HostKeyCallback(),
		// go-git derives HostKeyAlgorithms only for its own known_hosts
		// callback. Without them the server may offer a key type that
		// known_hosts does not pin, and a correct known_hosts fails with
		// "knownhosts: key mismatch".
		algorithms: db.HostKeyAlgorithms(hostWithPort),
		timeout:    timeout,
	}, nil
}

// knownHostsDB parses known_hosts bytes. The parsers of x/crypto and
// skeema/knownhosts read files only, so the (public) lines go through a
// temporary file that is removed before returning.
func knownHostsDB(knownHosts []byte) (db hostKeyDB, err error) {
	if err := parseKnownHosts(knownHosts); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "plumbline-known_hosts-")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SecretKeyKnownHosts, err)
	}
	defer func() {
		if rmErr := os.Remove(f.Name()); rmErr != nil && err == nil {
			db, err = nil, fmt.Errorf("%s: %w", SecretKeyKnownHosts, rmErr)
		}
	}()
	_, werr := f.Write(knownHosts)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("%s: %w", SecretKeyKnownHosts, werr)
	}
	hkdb, err := gitssh.NewKnownHostsDb(f.Name())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SecretKeyKnownHosts, err)
	}
	return hkdb, nil
}

// hostKeyDB is the part of skeema/knownhosts' HostKeyDB that sshAuth uses.
type hostKeyDB interface {
	HostKeyCallback() ssh.HostKeyCallback
	HostKeyAlgorithms(hostWithPort string) []string
}

// sshKeyAuth is go-git SSH auth with a private key, a fixed host key
// callback and its algorithms, and a dial time-out (go-git's SSH dial does
// not follow the context).
type sshKeyAuth struct {
	user       string
	signer     ssh.Signer
	callback   ssh.HostKeyCallback
	algorithms []string
	timeout    time.Duration
}

// Name is go-git's name for public-key auth.
func (a *sshKeyAuth) Name() string { return gitssh.PublicKeysName }

// String names the user and the key type, never the key.
func (a *sshKeyAuth) String() string {
	return fmt.Sprintf("user: %s, name: %s, key: %s", a.user, a.Name(), a.signer.PublicKey().Type())
}

// ClientConfig returns the SSH client configuration for one connection.
func (a *sshKeyAuth) ClientConfig() (*ssh.ClientConfig, error) {
	return &ssh.ClientConfig{
		User:              a.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(a.signer)},
		HostKeyCallback:   a.callback,
		HostKeyAlgorithms: a.algorithms,
		Timeout:           a.timeout,
	}, nil
}
