package gitsource

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recordedRequest is one request the fake GitHub API received.
type recordedRequest struct {
	Method, Path, Query string
	Body                map[string]any
	Auth                string
}

// githubAPI answers as GitHub's REST API documents for one pull request, and records every
// request.
type githubAPI struct {
	mu       sync.Mutex
	requests []recordedRequest
	state    string
}

func (g *githubAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	if len(b) > 0 {
		_ = json.Unmarshal(b, &body)
	}
	g.mu.Lock()
	g.requests = append(g.requests, recordedRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, Auth: r.Header.Get("Authorization")})
	if s, ok := body["state"].(string); ok {
		g.state = s
	}
	state := g.state
	g.mu.Unlock()
	pr := map[string]any{"number": 7, "html_url": "https://github.example/acme/desired/pull/7", "state": state,
		"title": "plumbline: keep", "body": "b", "merged": false,
		"head": map[string]any{"ref": "plumbline/modified-abc"}, "base": map[string]any{"ref": "main"}}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/pulls") && len(g.requests) == 1:
		_, _ = w.Write([]byte("[]"))
	case r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/pulls"):
		_ = json.NewEncoder(w).Encode([]any{pr})
	case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/pulls"):
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(pr)
	case strings.HasSuffix(r.URL.Path, "/comments"):
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id": 1, "body": "gone"}`))
	case strings.Contains(r.URL.Path, "/issues/7"):
		_, _ = w.Write([]byte(`{"number": 7, "state": "closed", "closed_by": {"login": "octocat"}}`))
	default:
		_ = json.NewEncoder(w).Encode(pr)
	}
}

// TestGitHubForgeRequests: find (none), create, find (one), update, comment, close and get
// send the requests and bodies GitHub's API documents, with the token only in the header.
func TestGitHubForgeRequests(t *testing.T) {
	api := &githubAPI{state: "open"}
	srv := httptest.NewServer(api)
	defer srv.Close()
	forge, err := NewForge(ForgeOptions{Kind: ForgeGitHub, APIURL: srv.URL + "/api/v3/", RepoURL: "https://github.example/acme/desired.git", Token: "ghp_secret"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if pr, err := forge.FindOpen(ctx, "plumbline/modified-abc"); err != nil || pr != nil {
		t.Fatalf("find before create: %+v, %v", pr, err)
	}
	pr, err := forge.Create(ctx, NewPullRequest{Branch: "plumbline/modified-abc", Base: "main", Title: "plumbline: keep", Body: "the body"})
	if err != nil || pr.Number != 7 || pr.URL != "https://github.example/acme/desired/pull/7" {
		t.Fatalf("create: %+v, %v", pr, err)
	}
	if found, err := forge.FindOpen(ctx, "plumbline/modified-abc"); err != nil || found == nil || found.Number != 7 {
		t.Fatalf("find after create: %+v, %v", found, err)
	}
	if _, err := forge.Update(ctx, 7, "plumbline: keep (2)", "body two"); err != nil {
		t.Fatal(err)
	}
	if err := forge.Comment(ctx, 7, "the drift is gone"); err != nil {
		t.Fatal(err)
	}
	if err := forge.Close(ctx, 7); err != nil {
		t.Fatal(err)
	}
	got, err := forge.Get(ctx, 7)
	if err != nil || got.State != PullRequestClosed || got.By != "octocat" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	want := []recordedRequest{
		{Method: "GET", Path: "/api/v3/repos/acme/desired/pulls", Query: "head=acme%3Aplumbline%2Fmodified-abc&state=open"},
		{Method: "POST", Path: "/api/v3/repos/acme/desired/pulls", Body: map[string]any{"title": "plumbline: keep", "head": "plumbline/modified-abc", "base": "main", "body": "the body"}},
		{Method: "GET", Path: "/api/v3/repos/acme/desired/pulls", Query: "head=acme%3Aplumbline%2Fmodified-abc&state=open"},
		{Method: "PATCH", Path: "/api/v3/repos/acme/desired/pulls/7", Body: map[string]any{"title": "plumbline: keep (2)", "body": "body two"}},
		{Method: "POST", Path: "/api/v3/repos/acme/desired/issues/7/comments", Body: map[string]any{"body": "the drift is gone"}},
		{Method: "PATCH", Path: "/api/v3/repos/acme/desired/pulls/7", Body: map[string]any{"state": "closed"}},
		{Method: "GET", Path: "/api/v3/repos/acme/desired/pulls/7"},
		{Method: "GET", Path: "/api/v3/repos/acme/desired/issues/7"},
	}
	for i := range api.requests {
		if api.requests[i].Auth != "Bearer ghp_secret" {
			t.Errorf("request %d: Authorization %q", i, api.requests[i].Auth)
		}
		api.requests[i].Auth = ""
	}
	if diff := cmp.Diff(want, api.requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}
