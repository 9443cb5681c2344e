package images

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	k8schain "github.com/google/go-containerregistry/pkg/authn/kubernetes"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
)

// DockerKeychain is the keychain of `plumbline diff` and `images lock`: the
// Docker config file (DOCKER_CONFIG, else ~/.docker/config.json, with its
// credential helpers), read again on each resolution so a `docker login`
// takes effect at once. With no config file it is anonymous.
func DockerKeychain() authn.Keychain { return authn.DefaultKeychain }

// WorkloadKeychain is the in-cluster keychain for a workload in namespace:
// the imagePullSecrets of its pod template spec, then those of its
// ServiceAccount (spec.serviceAccountName, "default" when empty), as the
// kubelet would use them. Secrets or a ServiceAccount that do not exist are
// skipped (the pull would be anonymous for them too); any other API error,
// such as missing RBAC to read them, is returned. It needs get on
// serviceaccounts and secrets in namespace. A nil spec means no pull secrets
// and the default ServiceAccount.
func WorkloadKeychain(ctx context.Context, client kubernetes.Interface, namespace string, spec *corev1.PodSpec) (authn.Keychain, error) {
	opts := k8schain.Options{Namespace: namespace}
	if spec != nil {
		opts.ServiceAccountName = spec.ServiceAccountName
		for _, s := range spec.ImagePullSecrets {
			if s.Name != "" {
				opts.ImagePullSecrets = append(opts.ImagePullSecrets, s.Name)
			}
		}
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	sa := opts.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	kc, err := k8schain.New(ctx, client, opts)
	if err != nil {
		return nil, fmt.Errorf("ServiceAccount/%s/%s: image pull secrets: %w", opts.Namespace, sa, err)
	}
	return kc, nil
}
