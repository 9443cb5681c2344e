package gitsource

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestFetchErrorsNeverQuoteURLCredentials fetches from remotes that fail in the ways that
// make Go's HTTP client and go-git quote the URL (connection refused, an answer that is not
// Git, a 401), with a token as the user name and another as a query parameter, and checks
// that neither token is in the error.
func TestFetchErrorsNeverQuoteURLCredentials(t *testing.T) {
	const userToken, queryToken, password = "ghp_UserinfoToken1234", "glpat-QueryToken5678", "pw-Secret9012"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A hostile or broken server that quotes what it was sent.
		u, p, _ := r.BasicAuth()
		http.Error(w, fmt.Sprintf("no repository at %s for %s:%s", r.URL, u, p), http.StatusInternalServerError)
	}))
	t.Cleanup(echo.Close)
	deny := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
		http.Error(w, "denied "+r.URL.String(), http.StatusUnauthorized)
	}))
	t.Cleanup(deny.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	hosts := map[string]string{"refused": closed, "echo": strings.TrimPrefix(echo.URL, "http://"), "401": strings.TrimPrefix(deny.URL, "http://")}
	for name, host := range hosts {
		for _, form := range []string{
			"http://" + userToken + "@" + host + "/org/repo.git?access_token=" + queryToken,
			"http://x-access-token:" + password + "@" + host + "/org/repo.git?private_token=" + queryToken,
		} {
			t.Run(name+"/"+form[:12], func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				res, err := Fetch(ctx, FetchOptions{URL: form, Ref: "main", InsecureHTTP: true, Timeout: 5 * time.Second})
				if err == nil {
					res.Close()
					t.Fatal("Fetch succeeded; want an error")
				}
				t.Logf("error: %v", err)
				for _, secret := range []string{userToken, queryToken, password} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q contains the credential %q", err, secret)
					}
				}
				if !strings.Contains(err.Error(), host) {
					t.Errorf("error %q does not name the host %s", err, host)
				}
			})
		}
	}
}

func TestURLSecrets(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"https://TOKEN123@host/r", []string{"TOKEN123"}},
		{"https://user:pw@host/r", []string{"pw"}},
		{"ssh://git@host/r", nil},
		{"https://host/r?access_token=abc%2Bdefg&depth=1", []string{"abc%2Bdefg", "abc+defg"}},
		{"file:///srv/r?x=abcdefgh", nil},
		{"/srv/r", nil},
	}
	for _, tt := range tests {
		got := urlSecrets(tt.in)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("urlSecrets(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
