package gitsource

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"https without userinfo", "https://github.com/org/repo.git", "https://github.com/org/repo.git"},
		{"https user and token", "https://user:ghp_secret@github.com/org/repo.git", "https://github.com/org/repo.git"},
		{"https token only", "https://ghp_secret@github.com/org/repo", "https://github.com/org/repo"},
		{"password with @ and :", "https://u:p@ss:w@rd@host:8443/r", "https://host:8443/r"},
		{"password with /", "https://u:pa/ss@host/r", "https://host/r"},
		{"query and fragment dropped", "https://host/r.git?private_token=abc#frag", "https://host/r.git"},
		{"ssh URL", "ssh://git@github.com:22/org/repo.git", "ssh://github.com:22/org/repo.git"},
		{"scp-like", "git@github.com:org/repo.git", "github.com:org/repo.git"},
		{"file URL", "file:///srv/git/repo@v1", "file:///srv/git/repo@v1"},
		{"file URL with userinfo", "file://me@localhost/srv/repo", "file://localhost/srv/repo"},
		{"absolute path", "/srv/git/repo@v1", "/srv/git/repo@v1"},
		{"relative path", "./repo", "./repo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, RedactURL(tt.in)); diff != "" {
				t.Errorf("RedactURL(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// FuzzRedactURL checks that no password placed in the userinfo of a URL
// survives redaction, whatever its characters.
func FuzzRedactURL(f *testing.F) {
	f.Add("https", "user", "s3cr3t-token", "github.com", "org/repo.git")
	f.Add("ssh", "git", "p@ss/w:rd?#", "host:2222", "repo")
	f.Add("http", "", "tok%40en", "127.0.0.1", "a@b/c?d")
	f.Fuzz(func(t *testing.T, scheme, user, pass, host, path string) {
		if len(pass) < 6 || strings.Contains(scheme, "://") || strings.EqualFold(scheme, "file") {
			t.Skip()
		}
		raw := scheme + "://" + user + ":" + pass + "@" + host + "/" + path
		// Only a password that is not also a part of the rest can be told
		// apart in the output.
		if strings.Contains(scheme+"://"+host+"/"+path, pass) {
			t.Skip()
		}
		if got := RedactURL(raw); strings.Contains(got, pass) {
			t.Errorf("RedactURL(%q) = %q, contains the password", raw, got)
		}
	})
}

func TestScrubberRemovesSecretsFromErrors(t *testing.T) {
	a := &Auth{Username: "bot", Password: "pa ss/w@rd", BearerToken: "bearer-tok", SSHPassphrase: []byte("phrase-123")}
	s := newScrubber("https://bot:inline-pw@host/repo", a)
	cause := fmt.Errorf("dial: %w", fs.ErrNotExist)
	leaky := fmt.Errorf("user bot: server said %q, %s, %s, %s, %s, %s, %s: %w",
		a.Password, url.QueryEscape(a.Password), url.PathEscape(a.Password), a.BearerToken, a.SSHPassphrase,
		base64.StdEncoding.EncodeToString([]byte("bot:"+a.Password)), "inline-pw", cause)

	err := s.wrap(leaky)
	for _, secret := range []string{a.Password, url.QueryEscape(a.Password), url.PathEscape(a.Password),
		a.BearerToken, string(a.SSHPassphrase), "inline-pw", base64.StdEncoding.EncodeToString([]byte("bot:" + a.Password))} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("scrubbed error %q contains %q", err, secret)
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("scrubbed error lost its cause: errors.Is(%v, fs.ErrNotExist) = false", err)
	}
	if !strings.Contains(err.Error(), "bot") {
		t.Errorf("scrubbed error %q lost the user name, which is not secret", err)
	}
	if s.wrap(nil) != nil {
		t.Error("wrap(nil) != nil")
	}
}

func TestErrorTextIsScrubbedThroughFail(t *testing.T) {
	opts := FetchOptions{URL: "https://host/repo", Ref: "main", Auth: &Auth{Password: "hunter22"}}
	f := fetcher{opts: opts, redacted: RedactURL(opts.URL), scrub: newScrubber(opts.URL, opts.Auth)}
	err := f.fail("list refs", fmt.Errorf("remote said hunter22: %w", ErrAuth))
	want := "https://host/repo (ref main): list refs: authentication failed: remote said [redacted]: authentication failed"
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("Error() (-want +got):\n%s", diff)
	}
	if !errors.Is(err, ErrAuth) {
		t.Error("errors.Is(err, ErrAuth) = false")
	}
}
