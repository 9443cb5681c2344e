package gitsource

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// gitlabRequest is one request the fake GitLab API received.
type gitlabRequest struct {
	Method, Path, Query string
	Body                map[string]any
}

// gitlabAPI answers as GitLab's REST API (v4) documents for the merge requests of one project,
// group/sub/desired (id 42), and records every request. A fork (project 99) has an open merge
// request from a branch of the same name. Any other path answers 404, as GitLab does.
type gitlabAPI struct {
	mu       sync.Mutex
	requests []gitlabRequest
	tokens   []string // PRIVATE-TOKEN of each request
	bearer   []string // Authorization of each request
	mr       map[string]any
}

const gitlabProjectPath = "/api/v4/projects/group%2Fsub%2Fdesired/merge_requests"

func (g *gitlabAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, `{"message":"400 Bad request"}`, http.StatusBadRequest)
			return
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = append(g.requests, gitlabRequest{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: body})
	g.tokens = append(g.tokens, r.Header.Get("PRIVATE-TOKEN"))
	g.bearer = append(g.bearer, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/json")
	switch path := r.URL.EscapedPath(); {
	case r.Method == "GET" && path == gitlabProjectPath:
		q := r.URL.Query()
		fork := map[string]any{"id": 2001, "iid": 3, "project_id": 42, "source_project_id": 99, "target_project_id": 42,
			"state": "opened", "title": "not ours", "description": "", "source_branch": "plumbline/modified-abc", "target_branch": "main",
			"web_url": "https://gitlab.example/group/sub/desired/-/merge_requests/3"}
		list := []any{}
		for _, mr := range []map[string]any{fork, g.mr} {
			if mr != nil && mr["state"] == q.Get("state") && mr["source_branch"] == q.Get("source_branch") {
				list = append(list, mr)
			}
		}
		_ = json.NewEncoder(w).Encode(list)
	case r.Method == "POST" && path == gitlabProjectPath:
		g.mr = map[string]any{"id": 1042, "iid": 7, "project_id": 42, "source_project_id": 42, "target_project_id": 42,
			"state": "opened", "title": body["title"], "description": body["description"],
			"source_branch": body["source_branch"], "target_branch": body["target_branch"],
			"merged_by": nil, "merge_user": nil, "closed_by": nil,
			"web_url": "https://gitlab.example/group/sub/desired/-/merge_requests/7"}
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(g.mr)
	case g.mr != nil && r.Method == "PUT" && path == gitlabProjectPath+"/7":
		for _, k := range []string{"title", "description"} {
			if v, ok := body[k]; ok {
				g.mr[k] = v
			}
		}
		if body["state_event"] == "close" {
			g.mr["state"] = "closed"
			g.mr["closed_by"] = map[string]any{"id": 5, "username": "reviewer", "name": "Re Viewer", "state": "active"}
		}
		_ = json.NewEncoder(w).Encode(g.mr)
	case g.mr != nil && r.Method == "POST" && path == gitlabProjectPath+"/7/notes":
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": 301, "body": body["body"], "noteable_type": "MergeRequest", "noteable_iid": 7})
	case g.mr != nil && r.Method == "GET" && path == gitlabProjectPath+"/7":
		_ = json.NewEncoder(w).Encode(g.mr)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"404 Not found"}`))
	}
}

// TestGitLabForgeRequests: on a project of a nested group, with the API URL left to its
// default, find (none), create, find (ours, not the fork's), update, comment, close and get
// send the requests and bodies GitLab's API documents, with the token only in PRIVATE-TOKEN.
func TestGitLabForgeRequests(t *testing.T) {
	api := &gitlabAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	forge, err := NewForge(ForgeOptions{Kind: ForgeGitLab, RepoURL: srv.URL + "/group/sub/desired.git", Token: "glpat-secret"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if pr, err := forge.FindOpen(ctx, "plumbline/modified-abc"); err != nil || pr != nil {
		t.Fatalf("find before create: %+v, %v", pr, err)
	}
	created, err := forge.Create(ctx, NewPullRequest{Branch: "plumbline/modified-abc", Base: "main", Title: "plumbline: keep", Body: "the body"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	want := &PullRequest{Number: 7, URL: "https://gitlab.example/group/sub/desired/-/merge_requests/7", Branch: "plumbline/modified-abc",
		Base: "main", Title: "plumbline: keep", Body: "the body", State: PullRequestOpen}
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("create (-want +got):\n%s", diff)
	}
	found, err := forge.FindOpen(ctx, "plumbline/modified-abc")
	if err != nil {
		t.Fatalf("find after create: %v", err)
	}
	if diff := cmp.Diff(want, found); diff != "" {
		t.Errorf("find after create (-want +got):\n%s", diff)
	}
	updated, err := forge.Update(ctx, 7, "plumbline: keep (2)", "body two")
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if updated.Title != "plumbline: keep (2)" || updated.Body != "body two" || updated.State != PullRequestOpen {
		t.Errorf("update: %+v", updated)
	}
	if err := forge.Comment(ctx, 7, "the drift is gone"); err != nil {
		t.Fatalf("comment: %v", err)
	}
	if err := forge.Close(ctx, 7); err != nil {
		t.Fatalf("close: %v", err)
	}
	got, err := forge.Get(ctx, 7)
	if err != nil || got.Number != 7 || got.State != PullRequestClosed || got.By != "reviewer" {
		t.Fatalf("get: %+v, %v", got, err)
	}

	list := "source_branch=plumbline%2Fmodified-abc&state=opened"
	wantRequests := []gitlabRequest{
		{Method: "GET", Path: gitlabProjectPath, Query: list},
		{Method: "POST", Path: gitlabProjectPath, Body: map[string]any{"title": "plumbline: keep", "description": "the body",
			"source_branch": "plumbline/modified-abc", "target_branch": "main", "remove_source_branch": true}},
		{Method: "GET", Path: gitlabProjectPath, Query: list},
		{Method: "PUT", Path: gitlabProjectPath + "/7", Body: map[string]any{"title": "plumbline: keep (2)", "description": "body two"}},
		{Method: "POST", Path: gitlabProjectPath + "/7/notes", Body: map[string]any{"body": "the drift is gone"}},
		{Method: "PUT", Path: gitlabProjectPath + "/7", Body: map[string]any{"state_event": "close"}},
		{Method: "GET", Path: gitlabProjectPath + "/7"},
	}
	if diff := cmp.Diff(wantRequests, api.requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	for i := range api.requests {
		if api.tokens[i] != "glpat-secret" || api.bearer[i] != "" {
			t.Errorf("request %d: PRIVATE-TOKEN %q, Authorization %q", i, api.tokens[i], api.bearer[i])
		}
	}
}

// TestGitLabForgeUnauthorized: a refused token fails every call with an error that wraps
// ErrForge, names gitlab, the project and the operation, and never carries the token, even
// where the server echoes it.
func TestGitLabForgeUnauthorized(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "401 Unauthorized: " + r.Header.Get("PRIVATE-TOKEN")})
	}))
	defer srv.Close()
	const token = "glpat-not-the-token-0123"
	forge, err := NewForge(ForgeOptions{Kind: ForgeGitLab, RepoURL: srv.URL + "/group/sub/desired.git", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"find merge request": func() error { _, err := forge.FindOpen(ctx, "plumbline/x"); return err },
		"create merge request": func() error {
			_, err := forge.Create(ctx, NewPullRequest{Branch: "plumbline/x", Base: "main", Title: "t", Body: "b"})
			return err
		},
		"update merge request": func() error { _, err := forge.Update(ctx, 7, "t", "b"); return err },
		"comment":              func() error { return forge.Comment(ctx, 7, "c") },
		"close merge request":  func() error { return forge.Close(ctx, 7) },
		"get merge request":    func() error { _, err := forge.Get(ctx, 7); return err },
	}
	for op, call := range calls {
		err := call()
		if err == nil {
			t.Errorf("%s: no error", op)
			continue
		}
		msg := err.Error()
		if !errors.Is(err, ErrForge) || !strings.Contains(msg, "gitlab group/sub/desired: "+op+": ") || !strings.Contains(msg, "401") {
			t.Errorf("%s: %v", op, err)
		}
		if strings.Contains(msg, token) {
			t.Errorf("%s: the token is in the error: %v", op, err)
		}
	}
}

// TestGitLabForgeGetStates: Get maps GitLab's states onto the Forge's, and says who merged or
// closed the merge request.
func TestGitLabForgeGetStates(t *testing.T) {
	tests := []struct {
		name      string
		mr        string
		wantState PullRequestState
		wantBy    string
	}{
		{name: "opened", mr: `"state": "opened"`, wantState: PullRequestOpen},
		{name: "locked while it merges", mr: `"state": "locked"`, wantState: PullRequestOpen},
		{name: "merged", mr: `"state": "merged", "merged_by": {"id": 3, "username": "approver"}`,
			wantState: PullRequestMerged, wantBy: "approver"},
		{name: "merged, merge_user only", mr: `"state": "merged", "merged_by": null, "merge_user": {"id": 3, "username": "approver"}`,
			wantState: PullRequestMerged, wantBy: "approver"},
		{name: "closed", mr: `"state": "closed", "closed_by": {"id": 5, "username": "reviewer"}`, wantState: PullRequestClosed, wantBy: "reviewer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != "GET" || r.URL.EscapedPath() != gitlabProjectPath+"/7" {
					w.WriteHeader(http.StatusNotFound)
					_, _ = w.Write([]byte(`{"message":"404 Not found"}`))
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"id": 1042, "iid": 7, "project_id": 42, "title": "plumbline: keep", "description": "the body",
					"source_branch": "plumbline/modified-abc", "target_branch": "main",
					"web_url": "https://gitlab.example/group/sub/desired/-/merge_requests/7", ` + tt.mr + `}`))
			}))
			defer srv.Close()
			forge, err := NewForge(ForgeOptions{Kind: ForgeGitLab, APIURL: srv.URL + "/api/v4", RepoURL: "https://gitlab.example/group/sub/desired.git", Token: "glpat-secret"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := forge.Get(context.Background(), 7)
			if err != nil {
				t.Fatal(err)
			}
			want := &PullRequest{Number: 7, URL: "https://gitlab.example/group/sub/desired/-/merge_requests/7", Branch: "plumbline/modified-abc",
				Base: "main", Title: "plumbline: keep", Body: "the body", State: tt.wantState, By: tt.wantBy}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("get (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGitLabForgeDefaults: the project path keeps every group of the repository URL, and the
// API URL defaults to the repository's host (HTTPS for SSH remotes) under /api/v4.
func TestGitLabForgeDefaults(t *testing.T) {
	tests := []struct {
		name        string
		opts        ForgeOptions
		wantProject string
		wantAPI     string
	}{
		{name: "https, nested groups", opts: ForgeOptions{RepoURL: "https://gitlab.example/group/sub/repo.git"},
			wantProject: "group/sub/repo", wantAPI: "https://gitlab.example/api/v4/"},
		{name: "scp-like ssh", opts: ForgeOptions{RepoURL: "git@gitlab.example:group/sub/deeper/repo.git"},
			wantProject: "group/sub/deeper/repo", wantAPI: "https://gitlab.example/api/v4/"},
		{name: "ssh with a port", opts: ForgeOptions{RepoURL: "ssh://git@gitlab.example:2222/team/repo.git"},
			wantProject: "team/repo", wantAPI: "https://gitlab.example/api/v4/"},
		{name: "explicit api URL", opts: ForgeOptions{APIURL: "https://gitlab.example/gitlab/api/v4", RepoURL: "https://gitlab.example/gitlab/group/repo.git"},
			wantProject: "gitlab/group/repo", wantAPI: "https://gitlab.example/gitlab/api/v4/"},
		{name: "explicit namespace", opts: ForgeOptions{APIURL: "https://gitlab.example/api/v4", Owner: "group/sub", Repo: "repo"},
			wantProject: "group/sub/repo", wantAPI: "https://gitlab.example/api/v4/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Kind, tt.opts.Token = ForgeGitLab, "glpat-secret"
			f, err := NewForge(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			g := f.(*gitlabForge)
			if g.project != tt.wantProject || g.c.BaseURL().String() != tt.wantAPI {
				t.Errorf("project %q, API %q; want %q, %q", g.project, g.c.BaseURL(), tt.wantProject, tt.wantAPI)
			}
		})
	}
}
