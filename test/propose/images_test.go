package propose

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdk "code.gitea.io/sdk/gitea"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/test/gitea"
)

// TestRebuiltImageLockProposed: an image rebuilt under the same tag opens a pull request that
// moves the lock file's entry to the served digest; merging it leaves nothing to report.
func TestRebuiltImageLockProposed(t *testing.T) {
	t.Parallel()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	ref := strings.TrimPrefix(reg.URL, "http://") + "/team/web:1.0"
	first := pushRandom(t, ref)
	deploy := strings.Replace(webDeployment, "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000001", ref, 1)
	lock := "# approved by the platform team\napiVersion: plumbline.dev/v1alpha1\nkind: ImageLock\nimages:\n  - image: " + ref + "\n    digest: " + first + "\n    approvedAt: \"2026-01-01T00:00:00Z\"\n"
	s := newScene(t, map[string]string{"apps/web.yaml": deploy, "apps/" + images.LockFileName: lock}, "apps")
	var err error
	s.images, err = images.NewResolver(images.WithCacheTTL(time.Second), images.WithRetry(images.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	spec := s.proposeSpec("apps")
	s.start(spec)
	s.eventually(30*time.Second, "the Source is watched", func() bool { return s.source().Status.LastFetchedRevision != "" })
	second := pushRandom(t, ref)

	pr := s.onePull()
	if want := "plumbline: approve " + ref + " rebuild (sha256:" + strings.TrimPrefix(second, "sha256:")[:12] + "…)"; pr.Title != want {
		t.Errorf("title %q, want %q", pr.Title, want)
	}
	diff := s.diffOf(pr)
	if got := changedFiles(diff); len(got) != 1 || got[0] != "apps/"+images.LockFileName {
		t.Errorf("changed files %q", got)
	}
	lines := changedLines(diff)
	if len(lines) != 4 || lines[0] != "-    digest: "+first || lines[2] != "+    digest: "+second || !strings.HasPrefix(lines[3], "+    approvedAt: ") {
		t.Errorf("changed lines:\n%s", strings.Join(lines, "\n"))
	}
	if ok, _, err := s.gitea.MergePullRequest(gitea.AdminUser, s.repoName, pr.Index, sdk.MergePullRequestOption{Style: sdk.MergeStyleMerge}); err != nil || !ok {
		t.Fatalf("merge: %v %v", ok, err)
	}
	s.eventually(60*time.Second, "the incident resolves", func() bool { return len(s.notes.of(reconciler.EventResolved)) == 1 })
	time.Sleep(3 * time.Second) // another poll: still clean
	src := s.source()
	if len(src.Status.Incidents) != 0 || src.Status.Findings["ImageTagMutated"] != 0 {
		t.Errorf("after the merge: incidents %+v, findings %v", src.Status.Incidents, src.Status.Findings)
	}
}

// TestUnpinnedImagePinned: an image by tag that the lock file does not approve opens a pull
// request that adds its entry, at the digest the registry serves, below the entries and comment
// already there; merging it leaves nothing to report.
func TestUnpinnedImagePinned(t *testing.T) {
	t.Parallel()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	sidecarRef, ref := host+"/team/sidecar:2.0", host+"/team/web:1.0"
	sidecar, digest := pushRandom(t, sidecarRef), pushRandom(t, ref)
	deploy := strings.Replace(webDeployment, "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000001", ref, 1)
	lock := "# approved by the platform team\napiVersion: plumbline.dev/v1alpha1\nkind: ImageLock\nimages:\n  - image: " + sidecarRef + "\n    digest: " + sidecar + "\n    approvedAt: \"2026-01-01T00:00:00Z\"\n"
	s := newScene(t, map[string]string{"apps/web.yaml": deploy, "apps/" + images.LockFileName: lock}, "apps")
	var err error
	s.images, err = images.NewResolver(images.WithCacheTTL(time.Second), images.WithRetry(images.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	s.start(s.proposeSpec("apps"))

	pr := s.onePull()
	if want := "plumbline: pin " + ref + " (sha256:" + strings.TrimPrefix(digest, "sha256:")[:12] + "…)"; pr.Title != want {
		t.Errorf("title %q, want %q", pr.Title, want)
	}
	diff := s.diffOf(pr)
	if got := changedFiles(diff); len(got) != 1 || got[0] != "apps/"+images.LockFileName {
		t.Errorf("changed files %q", got)
	}
	lines := changedLines(diff)
	if len(lines) != 3 || lines[0] != "+  - image: "+ref || lines[1] != "+    digest: "+digest || !strings.HasPrefix(lines[2], "+    approvedAt: ") {
		t.Errorf("changed lines:\n%s", strings.Join(lines, "\n"))
	}
	if ok, _, err := s.gitea.MergePullRequest(gitea.AdminUser, s.repoName, pr.Index, sdk.MergePullRequestOption{Style: sdk.MergeStyleMerge}); err != nil || !ok {
		t.Fatalf("merge: %v %v", ok, err)
	}
	s.eventually(60*time.Second, "the incident resolves", func() bool { return len(s.notes.of(reconciler.EventResolved)) >= 1 })
	time.Sleep(3 * time.Second) // another poll: still clean
	src := s.source()
	if len(src.Status.Incidents) != 0 || src.Status.Findings["ImageUnpinned"] != 0 {
		t.Errorf("after the merge: incidents %+v, findings %v", src.Status.Incidents, src.Status.Findings)
	}
}

// pushRandom pushes a new random image under ref and returns its digest.
func pushRandom(t *testing.T, ref string) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}
