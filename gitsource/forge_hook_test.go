package gitsource

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"testing"
)

func hmacHex(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func TestVerifyHook(t *testing.T) {
	body := `{"ref":"refs/heads/main"}`
	good := hmacHex("s3cret", body)
	tests := []struct {
		name   string
		kind   ForgeKind
		secret string
		header map[string]string
		ok     bool
	}{
		{"gitea X-Gitea-Signature", ForgeGitea, "s3cret", map[string]string{"X-Gitea-Signature": good}, true},
		{"gitea X-Hub-Signature-256", ForgeGitea, "s3cret", map[string]string{"X-Hub-Signature-256": "sha256=" + good}, true},
		{"github", ForgeGitHub, "s3cret", map[string]string{"X-Hub-Signature-256": "sha256=" + good}, true},
		{"github sha1 only", ForgeGitHub, "s3cret", map[string]string{"X-Hub-Signature": "sha1=" + good[:40]}, false},
		{"github other secret", ForgeGitHub, "other", map[string]string{"X-Hub-Signature-256": "sha256=" + good}, false},
		{"github no signature", ForgeGitHub, "s3cret", nil, false},
		{"empty secret accepts nothing", ForgeGitHub, "", map[string]string{"X-Hub-Signature-256": "sha256=" + hmacHex("", body)}, false},
		{"gitlab token", ForgeGitLab, "s3cret", map[string]string{"X-Gitlab-Token": "s3cret"}, true},
		{"gitlab wrong token", ForgeGitLab, "s3cret", map[string]string{"X-Gitlab-Token": "s3cre"}, false},
		{"gitlab signature is not a token", ForgeGitLab, "s3cret", map[string]string{"X-Hub-Signature-256": "sha256=" + good}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			err := VerifyHook(tt.kind, []byte(tt.secret), h, []byte(body))
			if tt.ok && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrHookSignature) {
				t.Errorf("accepted, or refused for another reason: %v", err)
			}
		})
	}
}

func TestParseHook(t *testing.T) {
	tests := []struct {
		name  string
		kind  ForgeKind
		event string
		body  string
		want  Hook
	}{
		{"gitea pull request", ForgeGitea, "pull_request", `{"action":"closed","pull_request":{"merged":true,"head":{"ref":"plumbline/modified-0123"}}}`, Hook{Kind: HookPullRequest, Branch: "plumbline/modified-0123"}},
		{"github pull request", ForgeGitHub, "pull_request", `{"action":"closed","pull_request":{"head":{"ref":"plumbline/extra-4567"}}}`, Hook{Kind: HookPullRequest, Branch: "plumbline/extra-4567"}},
		{"gitlab merge request", ForgeGitLab, "Merge Request Hook", `{"object_kind":"merge_request","object_attributes":{"action":"merge","source_branch":"plumbline/missing-89ab"}}`, Hook{Kind: HookPullRequest, Branch: "plumbline/missing-89ab"}},
		{"gitea push", ForgeGitea, "push", `{"ref":"refs/heads/main"}`, Hook{Kind: HookPush, Branch: "main"}},
		{"gitlab push", ForgeGitLab, "Push Hook", `{"object_kind":"push","ref":"refs/heads/release/1"}`, Hook{Kind: HookPush, Branch: "release/1"}},
		{"tag push", ForgeGitHub, "push", `{"ref":"refs/tags/v1"}`, Hook{Kind: HookOther}},
		{"ping", ForgeGitHub, "ping", `not json at all`, Hook{Kind: HookOther}},
		{"github event header on gitea", ForgeGitea, "", `{"ref":"refs/heads/main"}`, Hook{Kind: HookOther}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			switch tt.kind {
			case ForgeGitea:
				if tt.event != "" {
					h.Set("X-Gitea-Event", tt.event)
				}
				h.Set("X-GitHub-Event", "push")
			case ForgeGitHub:
				h.Set("X-GitHub-Event", tt.event)
			case ForgeGitLab:
				h.Set("X-Gitlab-Event", tt.event)
			}
			got, err := ParseHook(tt.kind, h, []byte(tt.body))
			if err != nil || got != tt.want {
				t.Errorf("ParseHook = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	form := http.Header{"X-Github-Event": {"pull_request"}, "Content-Type": {"application/x-www-form-urlencoded"}}
	body := "payload=" + url.QueryEscape(`{"pull_request":{"head":{"ref":"plumbline/modified-0123"}}}`)
	if got, err := ParseHook(ForgeGitHub, form, []byte(body)); err != nil || got != (Hook{Kind: HookPullRequest, Branch: "plumbline/modified-0123"}) {
		t.Errorf("form-encoded: %+v, %v", got, err)
	}
	if _, err := ParseHook(ForgeGitHub, http.Header{"X-Github-Event": {"push"}}, []byte("{")); err == nil {
		t.Error("malformed push accepted")
	}
}
