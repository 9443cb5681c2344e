package gitsource

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"
)

const gitHTTPBackend = "/usr/lib/git-core/git-http-backend"

// gitHTTPServer is Debian's git http-backend behind net/http/cgi, with its
// own Basic and Bearer check in front and a log of the requests it served.
type gitHTTPServer struct {
	*httptest.Server
	root string // GIT_PROJECT_ROOT
	ca   []byte // PEM of the server's certificate

	mu       sync.Mutex
	requests []string // "GET /repo/info/refs?service=git-upload-pack", "POST /repo/git-upload-pack (deepen 1)"
}

// newGitHTTPServer serves the repositories under root over HTTPS. With user
// and password set it requires Basic auth; with token set it also accepts
// Bearer auth; with neither it is anonymous. status, when not 0, is answered
// to every request instead.
func newGitHTTPServer(t *testing.T, root, user, password, token string, status int) *gitHTTPServer {
	t.Helper()
	if _, err := os.Stat(gitHTTPBackend); err != nil {
		// Not a skip: a missing component must not pass as a green run.
		t.Fatalf("the HTTPS fetch tests need git http-backend at %s, which Debian's git package ships (apt-get install git): %v", gitHTTPBackend, err)
	}
	s := &gitHTTPServer{root: root}
	backend := &cgi.Handler{
		Path: gitHTTPBackend,
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := r.Method + " " + r.URL.RequestURI()
		if r.Method == http.MethodPost {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if bytes.Contains(body, []byte("deepen 1")) {
				req += " (deepen 1)"
			}
		}
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		if status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		if user != "" || token != "" {
			u, p, basic := r.BasicAuth()
			okBasic := basic && user != "" && u == user && p == password
			okBearer := token != "" && r.Header.Get("Authorization") == "Bearer "+token
			if !okBasic && !okBearer {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		backend.ServeHTTP(w, r)
	}))
	// Untrusted-certificate tests make the server log handshake errors.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	s.ca = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	return s
}

// takeRequests returns the requests served since the last call.
func (s *gitHTTPServer) takeRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests
	s.requests = nil
	return r
}

func TestFetchHTTPAuth(t *testing.T) {
	const (
		user     = "plumbline"
		password = "p4ssw0rd-that-must-not-leak"
		token    = "tok3n-that-must-not-leak"
	)
	root := t.TempDir()
	r := newTestRepo(t, filepath.Join(root, "repo"))
	c := r.commit("c", map[string]string{"deploy/app.yaml": "replicas: 3\n"})
	srv := newGitHTTPServer(t, root, user, password, token, 0)

	tests := []struct {
		name    string
		auth    Auth
		noCA    bool  // leave the test server's certificate untrusted
		wantErr bool  // the fetch must fail
		kind    error // the kind of that failure; nil: none of the kinds
	}{
		{name: "basic", auth: Auth{Username: user, Password: password}},
		{name: "bearer", auth: Auth{BearerToken: token}},
		{name: "basic, wrong password", auth: Auth{Username: user, Password: "wr0ng-" + password}, wantErr: true, kind: ErrAuth},
		{name: "bearer, wrong token", auth: Auth{BearerToken: "wr0ng-" + token}, wantErr: true, kind: ErrAuth},
		{name: "anonymous", wantErr: true, kind: ErrAuth},
		{name: "untrusted certificate", auth: Auth{Username: user, Password: password}, noCA: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.auth
			if !tt.noCA {
				a.CABundle = srv.ca
			}
			opts := DefaultFetchOptions()
			opts.URL, opts.Auth = srv.URL+"/repo", &a
			res, err := Fetch(context.Background(), opts)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				closeResult(t, res)
				want := fetched{Ref: "refs/heads/main", Commit: c.String(), Files: r.files[c]}
				if diff := cmp.Diff(want, summarize(t, res)); diff != "" {
					t.Errorf("Fetch (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				closeResult(t, res)
				t.Fatal("Fetch succeeded, want an error")
			}
			if got := classify(err); got != tt.kind {
				t.Errorf("Fetch error = %v, kind %v, want kind %v", err, got, tt.kind)
			}
			for _, s := range []string{a.Password, a.BearerToken, password, token} {
				if s != "" && strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains the secret %q", err, s)
				}
			}
			if !strings.Contains(err.Error(), srv.URL+"/repo") {
				t.Errorf("error %q does not name the URL", err)
			}
		})
	}
}

func TestFetchHTTPCacheListsOnlyUntilTheTipMoves(t *testing.T) {
	root := t.TempDir()
	r := newTestRepo(t, filepath.Join(root, "repo"))
	c1 := r.commit("c1", map[string]string{"app.yaml": "replicas: 1\n"})
	srv := newGitHTTPServer(t, root, "", "", "tok", 0)

	opts := DefaultFetchOptions()
	opts.URL, opts.Ref, opts.CacheDir = srv.URL+"/repo", "main", cacheDir(t)
	opts.Auth = &Auth{BearerToken: "tok", CABundle: srv.ca}
	const (
		advertise  = "GET /repo/info/refs?service=git-upload-pack"
		uploadPack = "POST /repo/git-upload-pack (deepen 1)" // a shallow fetch
	)
	steps := []struct {
		name         string
		commit       func() string // makes the commit the remote serves now; nil: unchanged
		wantCache    bool
		wantRequests []string
	}{
		{"first fetch clones", func() string { return c1.String() }, false,
			[]string{advertise, advertise, uploadPack}},
		{"unmoved tip: only the ref listing", nil, true,
			[]string{advertise}},
		{"new commit: fetches again", func() string {
			return r.commit("c2", map[string]string{"app.yaml": "replicas: 2\n", "new.yaml": "x: y\n"}).String()
		}, false, []string{advertise, advertise, uploadPack}},
		{"unmoved again", nil, true, []string{advertise}},
	}
	var last string
	for _, st := range steps {
		if st.commit != nil {
			last = st.commit()
		}
		res, err := Fetch(context.Background(), opts)
		if err != nil {
			t.Fatalf("%s: Fetch: %v", st.name, err)
		}
		want := fetched{Ref: "refs/heads/main", Commit: last, FromCache: st.wantCache, Files: r.files[plumbing.NewHash(last)]}
		if diff := cmp.Diff(want, summarize(t, res)); diff != "" {
			t.Errorf("%s: Fetch (-want +got):\n%s", st.name, diff)
		}
		if diff := cmp.Diff(st.wantRequests, srv.takeRequests()); diff != "" {
			t.Errorf("%s: requests (-want +got):\n%s", st.name, diff)
		}
		if err := res.Close(); err != nil {
			t.Errorf("%s: Close: %v", st.name, err)
		}
		if _, err := os.Stat(res.Dir); err != nil {
			t.Errorf("%s: Close removed a cached tree: %v", st.name, err)
		}
	}
}

func TestFetchHTTPRefusesCredentialsOverPlainHTTP(t *testing.T) {
	var requests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		http.Error(w, "no", http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	opts := DefaultFetchOptions()
	opts.URL, opts.Auth = srv.URL+"/repo", &Auth{Username: "u", Password: "plain-text-secret"}
	_, err := Fetch(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "plain http://") || strings.Contains(err.Error(), "plain-text-secret") {
		t.Errorf("Fetch error = %v, want a refusal without the secret", err)
	}
	if requests != 0 {
		t.Errorf("server saw %d requests, want 0", requests)
	}
}

func TestFetchHTTPUnreachable(t *testing.T) {
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	unavailable := newGitHTTPServer(t, t.TempDir(), "", "", "", http.StatusServiceUnavailable)

	tests := []struct {
		name, url string
		ca        []byte
	}{
		{"connection refused", "https://" + closedAddr + "/repo", nil},
		{"HTTP 503", unavailable.URL + "/repo", unavailable.ca},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := DefaultFetchOptions()
			opts.URL, opts.Ref, opts.Auth = tt.url, "main", &Auth{CABundle: tt.ca}
			_, err := Fetch(context.Background(), opts)
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("Fetch error = %v, want ErrUnreachable", err)
			}
			host := strings.TrimPrefix(strings.TrimSuffix(tt.url, "/repo"), "https://")
			if !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), "main") {
				t.Errorf("error %q does not name the host %q and the ref", err, host)
			}
		})
	}
}

func TestFetchHTTPCommitStrategies(t *testing.T) {
	const (
		advertise = "GET /repo/info/refs?service=git-upload-pack"
		shallow   = "POST /repo/git-upload-pack (deepen 1)"
		full      = "POST /repo/git-upload-pack"
	)
	tests := []struct {
		name           string
		allowReachable bool
		ref            func(h history) string
		wantRequests   []string
	}{
		{"commit at a tip: shallow fetch of the ref", false, func(h history) string { return h.c3.String() },
			[]string{advertise, advertise, shallow}},
		{"unadvertised commit, server allows it: shallow fetch by SHA", true, func(h history) string { return h.c0.String() },
			[]string{advertise, advertise, shallow}},
		// go-git sees no allow-*-sha1-in-want capability and asks nothing.
		{"unadvertised commit, server refuses: full fetch", false, func(h history) string { return h.c0.String() },
			[]string{advertise, advertise, advertise, full}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHistory(t)
			if tt.allowReachable {
				h.repo.setConfig("uploadpack", "allowReachableSHA1InWant", "true")
			}
			srv := newGitHTTPServer(t, filepath.Dir(h.repo.dir), "", "", "", 0)
			opts := DefaultFetchOptions()
			opts.URL, opts.Ref, opts.Auth = srv.URL+"/repo", tt.ref(h), &Auth{CABundle: srv.ca}
			res, err := Fetch(context.Background(), opts)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			closeResult(t, res)
			commit := plumbing.NewHash(opts.Ref)
			want := fetched{Ref: opts.Ref, Commit: opts.Ref, Files: h.repo.files[commit]}
			if diff := cmp.Diff(want, summarize(t, res)); diff != "" {
				t.Errorf("Fetch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRequests, srv.takeRequests()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}
