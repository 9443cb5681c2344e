package reconciler

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// serviceAccountTokenFile is where a pod finds its service account token.
const serviceAccountTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// WhoAmI returns the username the API server of cfg authenticates the controller as: in a pod,
// its service account (the subject of the mounted token); elsewhere, the answer of a
// SelfSubjectReview (authentication.k8s.io/v1), whatever the kubeconfig holds (certificate,
// token, exec plugin). Impersonation in cfg is honoured: the review answers for the
// impersonated user.
func WhoAmI(ctx context.Context, cfg *rest.Config) (string, error) {
	if cfg.Impersonate.UserName == "" {
		if sub, ok := inClusterSubject(cfg); ok {
			return sub, nil
		}
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("who am I: SelfSubjectReview: %w", err)
	}
	if r.Status.UserInfo.Username == "" {
		return "", fmt.Errorf("who am I: the SelfSubjectReview named no user")
	}
	return r.Status.UserInfo.Username, nil
}

// inClusterSubject reads the subject of the pod's service account token when cfg uses it. The
// token is not verified here (the API server does that on every request); only its subject is
// read, and the token itself never leaves this function.
func inClusterSubject(cfg *rest.Config) (string, bool) {
	if cfg.BearerTokenFile != serviceAccountTokenFile {
		return "", false
	}
	data, err := os.ReadFile(serviceAccountTokenFile)
	if err != nil {
		return "", false
	}
	parts := strings.Split(strings.TrimSpace(string(data)), ".")
	if len(parts) != 3 {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil || !strings.HasPrefix(claims.Sub, "system:serviceaccount:") {
		return "", false
	}
	return claims.Sub, true
}
