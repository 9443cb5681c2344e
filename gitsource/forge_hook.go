package gitsource

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v75/github"
)

// HookKind is what a forge's webhook delivery tells of.
type HookKind string

// Hook kinds.
const (
	// HookPullRequest: a pull (merge) request changed: opened, edited, merged, closed.
	HookPullRequest HookKind = "pull-request"
	// HookPush: a branch moved.
	HookPush HookKind = "push"
	// HookOther: anything else (a ping, an issue); nothing to do.
	HookOther HookKind = "other"
)

// Hook is what Plumbline reads of one webhook delivery.
type Hook struct {
	Kind HookKind
	// Branch is the pull request's head branch (HookPullRequest) or the branch pushed to
	// (HookPush), without refs/heads/.
	Branch string
}

// ErrHookSignature marks a delivery whose signature (or token) does not match the secret.
var ErrHookSignature = errors.New("webhook signature does not match")

// VerifyHook checks that a webhook delivery was signed with secret, the way kind signs them:
// Gitea's X-Gitea-Signature (or X-Hub-Signature-256), GitHub's X-Hub-Signature-256, both
// HMAC-SHA256 of the body (checked by go-github); GitLab's X-Gitlab-Token, compared in constant
// time. An empty secret verifies nothing.
func VerifyHook(kind ForgeKind, secret []byte, h http.Header, body []byte) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: no secret is configured", ErrHookSignature)
	}
	switch kind {
	case ForgeGitea, ForgeGitHub:
		sig := h.Get(github.SHA256SignatureHeader)
		if kind == ForgeGitea && h.Get("X-Gitea-Signature") != "" {
			sig = "sha256=" + h.Get("X-Gitea-Signature")
		}
		if !strings.HasPrefix(sig, "sha256=") {
			return fmt.Errorf("%w: no HMAC-SHA256 signature header", ErrHookSignature)
		}
		if err := github.ValidateSignature(sig, body, secret); err != nil {
			return fmt.Errorf("%w: %s", ErrHookSignature, "the HMAC-SHA256 of the body differs")
		}
		return nil
	case ForgeGitLab:
		token := h.Get("X-Gitlab-Token")
		if token == "" || subtle.ConstantTimeCompare([]byte(token), secret) != 1 {
			return fmt.Errorf("%w: X-Gitlab-Token", ErrHookSignature)
		}
		return nil
	}
	return fmt.Errorf("forge: unknown kind %q: want gitea, github or gitlab", kind)
}

// ParseHook reads what a verified delivery is about from its event header and its JSON body
// (or the JSON in the field payload of a form-encoded body).
func ParseHook(kind ForgeKind, h http.Header, body []byte) (Hook, error) {
	var event string
	switch kind {
	case ForgeGitea:
		event = h.Get("X-Gitea-Event")
	case ForgeGitHub:
		event = h.Get("X-GitHub-Event")
	case ForgeGitLab:
		event = h.Get("X-Gitlab-Event")
	default:
		return Hook{}, fmt.Errorf("forge: unknown kind %q: want gitea, github or gitlab", kind)
	}
	var payload struct {
		Ref         string `json:"ref"`
		PullRequest *struct {
			Head struct {
				Ref string `json:"ref"`
			} `json:"head"`
		} `json:"pull_request"`
		ObjectAttributes *struct {
			SourceBranch string `json:"source_branch"`
		} `json:"object_attributes"`
	}
	switch event {
	case "pull_request", "Merge Request Hook", "push", "Push Hook":
	default:
		return Hook{Kind: HookOther}, nil
	}
	if ct, _, _ := mime.ParseMediaType(h.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		// GitHub's and Gitea's form content type: the JSON is the field payload.
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return Hook{}, fmt.Errorf("%s webhook %q: malformed form: %w", kind, event, err)
		}
		body = []byte(form.Get("payload"))
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		return Hook{}, fmt.Errorf("%s webhook %q: malformed JSON: %w", kind, event, err)
	}
	switch {
	case event == "pull_request" && payload.PullRequest != nil:
		return Hook{Kind: HookPullRequest, Branch: payload.PullRequest.Head.Ref}, nil
	case event == "Merge Request Hook" && payload.ObjectAttributes != nil:
		return Hook{Kind: HookPullRequest, Branch: payload.ObjectAttributes.SourceBranch}, nil
	case (event == "push" || event == "Push Hook") && strings.HasPrefix(payload.Ref, "refs/heads/"):
		return Hook{Kind: HookPush, Branch: strings.TrimPrefix(payload.Ref, "refs/heads/")}, nil
	}
	return Hook{Kind: HookOther}, nil
}
