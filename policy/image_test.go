package policy

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewImageFacts(t *testing.T) {
	tests := []struct {
		name    string
		image   string
		want    ImageFacts
		wantErr bool
	}{
		{name: "short name gets registry, library and latest", image: "nginx",
			want: ImageFacts{Container: "c", Image: "nginx", Registry: "index.docker.io", Repository: "library/nginx", Tag: "latest"}},
		{name: "docker.io is index.docker.io", image: "docker.io/nginx:1.27",
			want: ImageFacts{Container: "c", Image: "docker.io/nginx:1.27", Registry: "index.docker.io", Repository: "library/nginx", Tag: "1.27"}},
		{name: "index.docker.io with a user namespace", image: "index.docker.io/bitnami/redis:7",
			want: ImageFacts{Container: "c", Image: "index.docker.io/bitnami/redis:7", Registry: "index.docker.io", Repository: "bitnami/redis", Tag: "7"}},
		{name: "tag and digest are both kept", image: "ghcr.io/acme/app:1.2@" + goodDigest,
			want: ImageFacts{Container: "c", Image: "ghcr.io/acme/app:1.2@" + goodDigest, Registry: "ghcr.io", Repository: "acme/app", Tag: "1.2", Digest: goodDigest}},
		{name: "digest only has no tag", image: "ghcr.io/acme/app@" + goodDigest,
			want: ImageFacts{Container: "c", Image: "ghcr.io/acme/app@" + goodDigest, Registry: "ghcr.io", Repository: "acme/app", Digest: goodDigest}},
		{name: "registry with a port is not a tag", image: "localhost:5000/app",
			want: ImageFacts{Container: "c", Image: "localhost:5000/app", Registry: "localhost:5000", Repository: "app", Tag: "latest"}},
		{name: "registry host is lower-cased", image: "Registry.Example.com/team/app:v1",
			want: ImageFacts{Container: "c", Image: "Registry.Example.com/team/app:v1", Registry: "registry.example.com", Repository: "team/app", Tag: "v1"}},
		{name: "upper-case repository is invalid", image: "ghcr.io/Acme/app:1", wantErr: true,
			want: ImageFacts{Container: "c", Image: "ghcr.io/Acme/app:1"}},
		{name: "bad digest is invalid", image: "nginx@sha256:abc", wantErr: true,
			want: ImageFacts{Container: "c", Image: "nginx@sha256:abc"}},
		{name: "empty is invalid", image: "", wantErr: true, want: ImageFacts{Container: "c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NewImageFacts("c", tc.image)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRestrictRegistriesBoundaries runs the rule end to end: allowed
// prefixes match on the normalised reference and only on a '/' boundary.
func TestRestrictRegistriesBoundaries(t *testing.T) {
	tests := []struct {
		name    string
		allowed string // YAML list
		image   string
		want    bool // violation expected
	}{
		{"docker.io allows official images", `["docker.io"]`, "nginx:1.27", false},
		{"docker.io allows index.docker.io", `["docker.io"]`, "index.docker.io/library/nginx:1.27", false},
		{"docker.io does not allow docker.io.evil.com", `["docker.io"]`, "docker.io.evil.com/library/nginx:1.27", true},
		{"index.docker.io/library/ allows nginx", `["index.docker.io/library/"]`, "nginx:1.27", false},
		{"docker.io/library does not allow other namespaces", `["docker.io/library"]`, "bitnami/redis:7", true},
		{"ghcr.io/acme/ allows its repositories", `["ghcr.io/acme/"]`, "ghcr.io/acme/x:1", false},
		{"ghcr.io/acme/ allows nested paths", `["ghcr.io/acme/"]`, "ghcr.io/acme/team/x:1", false},
		{"ghcr.io/acme/ does not allow ghcr.io/acmeevil", `["ghcr.io/acme/"]`, "ghcr.io/acmeevil/x:1", true},
		{"ghcr.io/acme without slash keeps the boundary", `["ghcr.io/acme"]`, "ghcr.io/acmeevil/x:1", true},
		{"ghcr.io/acme/x allows exactly that repository", `["ghcr.io/acme/x"]`, "ghcr.io/acme/x@" + goodDigest, false},
		{"host match is case-insensitive", `["Registry.Example.com/"]`, "registry.example.com/app:1", false},
		{"registry with port", `["localhost:5000"]`, "localhost:5000/app:1", false},
		{"other port is another registry", `["localhost:5000"]`, "localhost:5001/app:1", true},
		{"second entry matches", `["registry.example.com/", "ghcr.io/acme/"]`, "ghcr.io/acme/app:1", false},
		{"invalid reference cannot be proven allowed", `["ghcr.io/acme/"]`, "ghcr.io/acme/UPPER:1", true},
		{"empty list enforces nothing", `[]`, "evil.io/x:1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			engine := mustEngine(t, `
apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
spec:
  params: {allowedRegistries: `+tc.allowed+`}
  builtins:
    disallow-latest-tag: {enabled: false}
    run-as-non-root: {enabled: false}
    disallow-privileged: {enabled: false}
    require-resource-limits: {enabled: false}
    require-read-only-root-fs: {enabled: false}
`)
			obj := mustObject(t, `
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
spec: {containers: [{name: app, image: "`+tc.image+`"}]}`)
			got, err := engine.Evaluate(context.Background(), Input{Object: obj})
			if err != nil {
				t.Fatal(err)
			}
			if (len(got) > 0) != tc.want {
				t.Errorf("violations = %+v, want violation %v", got, tc.want)
			}
			for _, v := range got {
				if v.Rule != RuleRestrictRegistries {
					t.Errorf("unexpected rule %s", v.Rule)
				}
			}
		})
	}
}

func TestAllowedRegistriesEntriesAreChecked(t *testing.T) {
	tests := []struct {
		entry   string
		wantErr string
	}{
		{"https://ghcr.io/acme", "without a scheme"},
		{"nginx", "does not start with a registry host"},
		{"ghcr.io/*", "wildcards"},
		{"", "empty entry"},
	}
	for _, tc := range tests {
		t.Run(tc.entry, func(t *testing.T) {
			_, err := ParsePolicySet([]byte(`
apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
spec:
  params:
    allowedRegistries:
    - "`+tc.entry+`"
`), "p.yaml")
			if err == nil || !containsStr(err.Error(), tc.wantErr) || !containsStr(err.Error(), "p.yaml:7:") {
				t.Fatalf("err = %v, want it to contain %q at p.yaml:7", err, tc.wantErr)
			}
		})
	}
}

// TestFactsFromCaller: the caller's facts win over the image string, blanks
// are filled from it, and a caller-known digest suppresses the implied
// 'latest'.
func TestFactsFromCaller(t *testing.T) {
	tests := []struct {
		name  string
		given ImageFacts
		image string
		want  ImageFacts
	}{
		{"no facts", ImageFacts{}, "nginx",
			ImageFacts{Container: "app", Image: "nginx", Registry: "index.docker.io", Repository: "library/nginx", Tag: "latest"}},
		{"approved and resolved kept, rest derived", ImageFacts{Container: "app", Approved: "sha256:a", Resolved: "sha256:b", Running: []string{"sha256:c"}}, "nginx:1",
			ImageFacts{Container: "app", Image: "nginx:1", Registry: "index.docker.io", Repository: "library/nginx", Tag: "1",
				Approved: "sha256:a", Resolved: "sha256:b", Running: []string{"sha256:c"}}},
		{"caller digest means no implied latest", ImageFacts{Container: "app", Digest: goodDigest}, "nginx",
			ImageFacts{Container: "app", Image: "nginx", Registry: "index.docker.io", Repository: "library/nginx", Digest: goodDigest}},
		{"caller registry wins", ImageFacts{Container: "app", Registry: "mirror.example.com"}, "nginx:1",
			ImageFacts{Container: "app", Image: "nginx:1", Registry: "mirror.example.com", Repository: "library/nginx", Tag: "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := completeFacts(tc.given, "app", tc.image, parseImageRef)
			if !ok {
				t.Fatal("completeFacts: not ok")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
		})
	}
}
