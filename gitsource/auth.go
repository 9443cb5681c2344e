package gitsource

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Keys of a Kubernetes Secret that AuthFromSecretData reads. They follow the
// conventions of Flux's GitRepository secrets.
const (
	// SecretKeyUsername is the HTTPS Basic user name, or the SSH user when
	// the URL names none.
	SecretKeyUsername = "username"
	// SecretKeyPassword is the HTTPS Basic password or token; with an
	// identity it is also the passphrase of that identity.
	SecretKeyPassword = "password"
	// SecretKeyBearerToken is an HTTPS Bearer token.
	SecretKeyBearerToken = "bearerToken"
	// SecretKeyIdentity is a PEM or OpenSSH private key for SSH.
	SecretKeyIdentity = "identity"
	// SecretKeyKnownHosts holds the known_hosts lines that pin SSH host keys.
	SecretKeyKnownHosts = "known_hosts"
	// SecretKeyCA is a PEM bundle of extra certificate authorities for HTTPS.
	SecretKeyCA = "ca.crt"
	// SecretKeyCAFile is the older Flux name of SecretKeyCA.
	SecretKeyCAFile = "caFile"
)

// Auth holds the credentials of one Git source. The zero value and a nil
// *Auth mean anonymous access, which works for file:// URLs and public
// HTTPS remotes but never for SSH, which needs at least SSHPrivateKey and
// KnownHosts.
//
// Which fields apply depends on the URL's scheme: HTTPS uses Username and
// Password (Basic) or BearerToken, plus CABundle; SSH uses SSHPrivateKey,
// SSHPassphrase, KnownHosts and, when the URL names no user, Username
// (default "git"). Fields that do not apply to the scheme are ignored.
//
// String and GoString print which fields are set, never their values, so an
// Auth that reaches a log by mistake leaks nothing.
type Auth struct {
	// Username is the HTTPS Basic user name, or the SSH user when the URL
	// has none. Not secret.
	Username string
	// Password is the HTTPS Basic password or access token.
	Password string
	// BearerToken is sent as "Authorization: Bearer <token>" over HTTPS.
	// It cannot be combined with Password.
	BearerToken string
	// SSHPrivateKey is a PEM or OpenSSH private key.
	SSHPrivateKey []byte
	// SSHPassphrase decrypts SSHPrivateKey; empty for an unencrypted key.
	SSHPassphrase []byte
	// KnownHosts holds OpenSSH known_hosts lines. Required for SSH: host
	// keys are always verified, and an empty KnownHosts is an error.
	KnownHosts []byte
	// CABundle holds PEM certificates trusted for HTTPS in addition to the
	// system pool. Empty means the system pool only.
	CABundle []byte
}

// AuthFromSecretData builds an Auth from the data of a Kubernetes Secret (or
// from files named like its keys), in Flux's conventions: username,
// password, bearerToken, identity, known_hosts, and ca.crt or caFile. When
// identity is present, password is also its passphrase. Unknown keys, such as
// identity.pub, are ignored. nil or empty data gives an empty Auth
// (anonymous access).
//
// It checks what can be checked without a URL: password and bearerToken are
// not both set, the identity parses (with its passphrase), known_hosts parses
// and the CA bundle holds a certificate. Errors name the offending key, never
// its value.
func AuthFromSecretData(data map[string][]byte) (*Auth, error) {
	a := &Auth{
		Username:      strings.TrimSpace(string(data[SecretKeyUsername])),
		Password:      string(data[SecretKeyPassword]),
		BearerToken:   strings.TrimSpace(string(data[SecretKeyBearerToken])),
		SSHPrivateKey: data[SecretKeyIdentity],
		KnownHosts:    data[SecretKeyKnownHosts],
		CABundle:      data[SecretKeyCA],
	}
	if len(a.CABundle) == 0 {
		a.CABundle = data[SecretKeyCAFile]
	}
	if len(a.SSHPrivateKey) > 0 && a.Password != "" {
		a.SSHPassphrase = []byte(a.Password)
	}
	if err := a.validate(); err != nil {
		return nil, fmt.Errorf("secret data: %w", err)
	}
	return a, nil
}

// validate checks the fields of a that do not depend on the URL.
func (a *Auth) validate() error {
	if a.BearerToken != "" && a.Password != "" && len(a.SSHPrivateKey) == 0 {
		return fmt.Errorf("%s and %s cannot both be set", SecretKeyPassword, SecretKeyBearerToken)
	}
	if len(a.SSHPrivateKey) > 0 {
		if _, err := a.signer(); err != nil {
			return err
		}
	}
	if len(bytes.TrimSpace(a.KnownHosts)) > 0 {
		if err := parseKnownHosts(a.KnownHosts); err != nil {
			return err
		}
	}
	if len(a.CABundle) > 0 && !x509.NewCertPool().AppendCertsFromPEM(a.CABundle) {
		return fmt.Errorf("%s: no PEM certificate found", SecretKeyCA)
	}
	return nil
}

// signer parses SSHPrivateKey with SSHPassphrase. Its errors never contain
// key material.
func (a *Auth) signer() (ssh.Signer, error) {
	s, err := ssh.ParsePrivateKey(a.SSHPrivateKey)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if len(a.SSHPassphrase) == 0 {
			return nil, fmt.Errorf("%s: key is encrypted and no passphrase (%s) is given", SecretKeyIdentity, SecretKeyPassword)
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(a.SSHPrivateKey, a.SSHPassphrase)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: parse private key: %w", SecretKeyIdentity, err)
	}
	return s, nil
}

// parseKnownHosts checks that every non-comment line of b is a known_hosts
// entry.
func parseKnownHosts(b []byte) error {
	rest := b
	for len(bytes.TrimSpace(rest)) > 0 {
		var err error
		_, _, _, _, rest, err = ssh.ParseKnownHosts(rest)
		if err != nil {
			return fmt.Errorf("%s: %w", SecretKeyKnownHosts, err)
		}
	}
	return nil
}

// String says which credentials a holds, never their values. It is safe on a
// nil *Auth.
func (a *Auth) String() string {
	if a == nil {
		return "gitsource.Auth{}"
	}
	var set []string
	add := func(name string, ok bool) {
		if ok {
			set = append(set, name)
		}
	}
	add("Username:"+a.Username, a.Username != "")
	add("Password", a.Password != "")
	add("BearerToken", a.BearerToken != "")
	add("SSHPrivateKey", len(a.SSHPrivateKey) > 0)
	add("SSHPassphrase", len(a.SSHPassphrase) > 0)
	add("KnownHosts", len(a.KnownHosts) > 0)
	add("CABundle", len(a.CABundle) > 0)
	return "gitsource.Auth{" + strings.Join(set, " ") + "}"
}

// GoString is String, so that %#v leaks nothing either.
func (a *Auth) GoString() string { return a.String() }

// Format makes every fmt verb print String, so that %v and %+v of an Auth
// value or pointer, alone or inside another struct, leak nothing.
func (a Auth) Format(f fmt.State, _ rune) {
	_, _ = f.Write([]byte(a.String()))
}
