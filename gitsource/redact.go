package gitsource

import (
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
)

// RedactURL returns raw with every credential removed, for errors, logs and
// cache keys. It never fails and never returns text that was part of the
// userinfo of raw.
//
// For URLs with a scheme other than file (https://, http://, ssh://...), all
// text up to the last '@' after "://" is dropped together with the query and
// the fragment: "https://user:token@host/org/repo.git?x=y" becomes
// "https://host/org/repo.git". A path that itself contains '@' is shortened
// as well, which is the price of never guessing where a password ends.
// For SCP-like SSH addresses, "git@host:org/repo.git" becomes
// "host:org/repo.git". file:// URLs and local paths are returned unchanged,
// except that userinfo in a file:// authority is dropped. The empty string
// stays empty.
func RedactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if raw == "" || strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, ".") {
			return raw
		}
		// An SCP-like address ([user@]host:path) or a relative path.
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return raw[i+1:]
		}
		return raw
	}
	if strings.EqualFold(scheme, "file") {
		authority, path, _ := strings.Cut(rest, "/")
		if i := strings.LastIndex(authority, "@"); i >= 0 {
			rest = authority[i+1:] + "/" + path
		}
		return scheme + "://" + rest
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	return scheme + "://" + rest
}

// scrubber removes known secrets from error text. Its zero value removes
// nothing.
type scrubber struct {
	// pairs holds old, new pairs for strings.NewReplacer, longest old first.
	pairs []string
}

// newScrubber returns a scrubber for the secrets of a and for those that
// rawURL carries (see urlSecrets). a may be nil.
func newScrubber(rawURL string, a *Auth) scrubber {
	var secrets []string
	if a != nil {
		secrets = append(secrets, a.Password, a.BearerToken, string(a.SSHPassphrase))
		if a.Username != "" || a.Password != "" {
			secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte(a.Username+":"+a.Password)))
		}
	}
	secrets = append(secrets, urlSecrets(rawURL)...)
	seen := map[string]bool{}
	var olds []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, v := range []string{s, url.QueryEscape(s), url.PathEscape(s), url.UserPassword("x", s).String()[2:]} {
			if v != "" && !seen[v] {
				seen[v] = true
				olds = append(olds, v)
			}
		}
	}
	sort.Slice(olds, func(i, j int) bool { return len(olds[i]) > len(olds[j]) })
	s := scrubber{}
	for _, o := range olds {
		s.pairs = append(s.pairs, o, "[redacted]")
	}
	return s
}

// urlSecrets returns the credentials rawURL carries: the password of its
// userinfo; for http(s) a user name without a password too, since that is
// where a token goes (https://TOKEN@host/..., as GitHub and GitLab accept);
// and the value of every query parameter (?access_token=, ?private_token=).
// A user name next to a password (git, oauth2, x-access-token) is not secret
// and is kept, so that errors still say who was refused.
func urlSecrets(rawURL string) []string {
	const minQuerySecret = 6
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok || strings.EqualFold(scheme, "file") {
		return nil
	}
	var out []string
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		user, pass, hasPass := strings.Cut(rest[:i], ":")
		switch {
		case hasPass:
			out = append(out, pass)
		case strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "http"):
			out = append(out, user)
		}
		rest = rest[i+1:]
	}
	if _, query, ok := strings.Cut(rest, "?"); ok {
		query, _, _ = strings.Cut(query, "#")
		for _, kv := range strings.Split(query, "&") {
			// A value this short is no token, and masking it would mangle every number.
			if _, v, _ := strings.Cut(kv, "="); len(v) >= minQuerySecret {
				out = append(out, v)
				if u, err := url.QueryUnescape(v); err == nil {
					out = append(out, u)
				}
			}
		}
	}
	return out
}

// scrub returns text without any secret that s knows.
func (s scrubber) scrub(text string) string {
	if len(s.pairs) == 0 {
		return text
	}
	return strings.NewReplacer(s.pairs...).Replace(text)
}

// wrap returns err with its text scrubbed; errors.Is and errors.As still
// reach err. wrap(nil) is nil.
func (s scrubber) wrap(err error) error {
	if err == nil {
		return nil
	}
	return &scrubbedError{text: s.scrub(err.Error()), err: err}
}

// scrubbedError is an error whose text had its secrets removed.
type scrubbedError struct {
	text string
	err  error
}

func (e *scrubbedError) Error() string { return e.text }

func (e *scrubbedError) Unwrap() error { return e.err }
