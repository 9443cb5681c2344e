package images

import (
	"context"
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestWorkloadKeychain resolves against a registry that demands Basic auth,
// with credentials from the workload's imagePullSecrets or its
// ServiceAccount's. The API server is client-go's fake: this is a unit test
// of the keychain wiring, the registry side is real.
func TestWorkloadKeychain(t *testing.T) {
	ctx := context.Background()
	reg, ref, digest := pushed(t)
	reg.set(func(r *testRegistry) { r.user, r.pass = "robot", "pull-pass" })

	secret := func(name, pass string) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
			Type:       corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(fmt.Sprintf(
				`{"auths":{%q:{"username":"robot","password":%q}}}`, reg.host, pass))},
		}
	}
	client := fake.NewClientset(
		secret("pod-pull", "pull-pass"),
		secret("sa-pull", "pull-pass"),
		secret("stale-pull", "old-pass"),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "sa-pull"}}},
	)
	tests := []struct {
		name     string
		spec     *corev1.PodSpec
		wantKind ErrorKind
	}{
		{"pod imagePullSecrets", &corev1.PodSpec{ServiceAccountName: "none-such", ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pod-pull"}}}, ""},
		{"service account imagePullSecrets", &corev1.PodSpec{ServiceAccountName: "web"}, ""},
		{"missing secret is skipped, SA still used", &corev1.PodSpec{ServiceAccountName: "web", ImagePullSecrets: []corev1.LocalObjectReference{{Name: "gone"}}}, ""},
		{"wrong password", &corev1.PodSpec{ServiceAccountName: "none-such", ImagePullSecrets: []corev1.LocalObjectReference{{Name: "stale-pull"}}}, Unauthorized},
		{"no secrets at all", nil, Unauthorized},
	}
	r := newResolver(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc, err := WorkloadKeychain(ctx, client, "shop", tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Resolve(ctx, ref, kc)
			if tt.wantKind == "" {
				if err != nil || res.Digest != digest {
					t.Fatalf("Resolve = %v, %v", res.Digest, err)
				}
				return
			}
			var re *RegistryError
			if !errors.As(err, &re) || re.Kind != tt.wantKind {
				t.Fatalf("err = %v, want %s", err, tt.wantKind)
			}
		})
	}
}
