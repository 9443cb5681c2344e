package reconciler

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/gitsource"
)

// maxHookBody is the largest webhook delivery read. Forges send pushes of many commits in one
// delivery; GitHub caps them at 25 MB, but what Plumbline reads of them is small.
const maxHookBody = 1 << 20

// WebhookSecretKey is the key of spec.propose.secretRef's Secret that holds the secret the forge
// signs its webhook deliveries with.
const WebhookSecretKey = "webhookSecret"

// ForgeWebhook returns the handler of the forges' webhooks, POST /hooks/<namespace>/<name>.
// A delivery signed with the Source's webhook secret (key webhookSecret of the Secret in
// spec.propose.secretRef) makes the Source act now instead of at its next interval: a pull
// request event of a plumbline/ branch makes it look at its pull requests (a merge resolves the
// incident in seconds, a close reverts); a push to the Source's branch makes it fetch Git.
// Anything else is answered and ignored. The endpoint reads only the Source and its Secret, at
// most perSecond requests a second (0: 20) so that a flood costs the API server little; a
// delivery that is not signed changes nothing.
func (c *Controller) ForgeWebhook(perSecond rate.Limit) http.Handler {
	if perSecond <= 0 {
		perSecond = 20
	}
	limit := rate.NewLimiter(perSecond, 2*max(int(perSecond), 1))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if !limit.Allow() {
			c.metrics.ForgeWebhooks.WithLabelValues("rate-limited").Inc()
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many webhook deliveries", http.StatusTooManyRequests)
			return
		}
		code, msg, result := c.forgeHook(r)
		c.metrics.ForgeWebhooks.WithLabelValues(result).Inc()
		if code >= 400 {
			c.opts.Log.Warn("forge webhook refused", "path", truncate(r.URL.Path, 256), "status", code, "why", msg)
		}
		http.Error(w, msg, code)
	})
}

// forgeHook handles one delivery and returns the status and the text to answer with, and the
// result to count.
func (c *Controller) forgeHook(r *http.Request) (int, string, string) {
	code, msg, acted := c.forgeHookStatus(r)
	if code == http.StatusAccepted {
		return code, msg, string(acted)
	}
	return code, msg, map[int]string{http.StatusOK: "ignored", http.StatusUnauthorized: "unauthorized", http.StatusNotFound: "not-found",
		http.StatusRequestEntityTooLarge: "too-large", http.StatusBadRequest: "bad-request", http.StatusServiceUnavailable: "unavailable"}[code]
}

// forgeHookStatus is forgeHook's work; acted is the kind of a delivery acted on.
func (c *Controller) forgeHookStatus(r *http.Request) (code int, msg string, acted gitsource.HookKind) {
	ns, name, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/hooks/"), "/")
	if !strings.HasPrefix(r.URL.Path, "/hooks/") || !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return http.StatusNotFound, "want POST /hooks/<namespace>/<source>", ""
	}
	key := types.NamespacedName{Namespace: ns, Name: name}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxHookBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("webhook body over %d bytes", maxHookBody), ""
	}
	if err != nil {
		return http.StatusBadRequest, "read the webhook body: " + err.Error(), ""
	}
	ctx := r.Context()
	var src v1alpha1.Source
	if err := c.client.Get(ctx, key, &src); err != nil {
		if apierrors.IsNotFound(err) {
			return http.StatusNotFound, "no Source " + key.String() + " with a webhook secret", ""
		}
		return http.StatusServiceUnavailable, "read Source " + key.String() + ": try again", ""
	}
	if src.Spec.Propose == nil {
		return http.StatusNotFound, "no Source " + key.String() + " with a webhook secret", ""
	}
	var secret corev1.Secret
	skey := types.NamespacedName{Namespace: ns, Name: src.Spec.Propose.SecretRef.Name}
	if err := c.client.Get(ctx, skey, &secret); err != nil && !apierrors.IsNotFound(err) {
		return http.StatusServiceUnavailable, "read the Source's Secret: try again", ""
	}
	hookSecret := []byte(strings.TrimSpace(string(secret.Data[WebhookSecretKey])))
	if len(hookSecret) == 0 {
		return http.StatusNotFound, "no Source " + key.String() + " with a webhook secret", ""
	}
	kind := gitsource.ForgeKind(src.Spec.Propose.Forge)
	if err := gitsource.VerifyHook(kind, hookSecret, r.Header, body); err != nil {
		return http.StatusUnauthorized, "the delivery's signature does not match the Source's webhook secret", ""
	}
	hook, err := gitsource.ParseHook(kind, r.Header, body)
	if err != nil {
		return http.StatusBadRequest, err.Error(), ""
	}
	st := c.state(key)
	switch {
	case hook.Kind == gitsource.HookPullRequest && strings.HasPrefix(hook.Branch, "plumbline/"):
		memo := c.proposalMemo(st)
		c.mu.Lock()
		memo.hooked = true
		c.mu.Unlock()
		c.reconcileSoon(key)
		c.opts.Log.Info("forge webhook: looking at the pull requests now", "source", key.String(), "branch", hook.Branch)
		return http.StatusAccepted, "the pull requests of " + key.String() + " are looked at now", gitsource.HookPullRequest
	case hook.Kind == gitsource.HookPush && !strings.HasPrefix(hook.Branch, "plumbline/") && (src.Spec.Ref == "" || strings.TrimPrefix(src.Spec.Ref, "refs/heads/") == hook.Branch):
		c.mu.Lock()
		st.pollNow = true
		c.mu.Unlock()
		c.reconcileSoon(key)
		c.opts.Log.Info("forge webhook: fetching Git now", "source", key.String(), "branch", hook.Branch)
		return http.StatusAccepted, key.String() + " fetches Git now", gitsource.HookPush
	}
	return http.StatusOK, "nothing to do for " + key.String(), ""
}

// takePollNow reports whether a webhook asked the Source to fetch Git now, and clears it.
func (c *Controller) takePollNow(st *sourceState) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := st.pollNow
	st.pollNow = false
	return now
}
