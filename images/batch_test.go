package images

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// TestCheckAll: a batch resolves each reference once per set of credentials, compares layers of
// a rebuilt tag, keeps the order of the uses, and without a resolver checks approvals only.
func TestCheckAll(t *testing.T) {
	reg := newTestRegistry(t)
	layers := randomLayers(t, 3)
	ref := reg.ref(t, "team/nginx:1.21.0")
	approved := reg.pushImage(t, "team/nginx:1.21.0", imageOf(t, layers[0], layers[1]))
	lock, _, err := RefreshLock(Lock{}, []Resolution{{Ref: ref, Digest: approved}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	unpinned := reg.ref(t, "team/web:2.0")
	reg.pushImage(t, "team/web:2.0", imageOf(t, layers[2]))
	served := reg.pushImage(t, "team/nginx:1.21.0", imageOf(t, layers[0], layers[2])) // rebuilt
	reg.reset()

	uses := []Use{
		{Ref: ref, Container: "nginx"},
		{Ref: ref, Container: "sidecar"}, // same credentials: no second request
		{Ref: ref, Container: "nginx", Creds: "ns/sa", Keychain: basicKeychain{"ci", "token"}}, // other credentials: asked again
		{Ref: unpinned, Container: "web"},
	}
	got, err := CheckAll(t.Context(), uses, CheckOptions{Resolver: newResolver(t), Lock: lock})
	if err != nil {
		t.Fatal(err)
	}
	if _, heads, _ := reg.counts(); heads != 3 {
		t.Errorf("%d manifest HEADs, want 3 (one per reference and credentials)", heads)
	}
	for i, want := range []Kind{TagMutated, TagMutated, TagMutated, Unpinned} {
		r := got[i]
		if r.Err != nil || len(r.Results) != 1 || r.Results[0].Kind != want {
			t.Fatalf("use %d: results %+v, err %v; want one %s", i, r.Results, r.Err, want)
		}
	}
	if r := got[0].Results[0]; r.Approved != approved || r.Resolved != served || !r.LayersKnown || r.LayersChanged != 1 {
		t.Errorf("rebuild: %+v; want approved %s, served %s, 1 layer changed", r, approved, served)
	}
	if got[1].Results[0].Container != "sidecar" {
		t.Errorf("results out of the order of the uses: %+v", got[1].Results[0])
	}

	offline, err := CheckAll(t.Context(), uses, CheckOptions{Lock: lock})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(offline[3].Err, ErrOffline) || len(offline[3].Results) != 1 || offline[3].Results[0].Kind != Unpinned {
		t.Errorf("offline unpinned use: %+v", offline[3])
	}
	if len(offline[0].Results) != 0 || !errors.Is(offline[0].Err, ErrOffline) {
		t.Errorf("offline approved use: %+v; want no finding, only ErrOffline", offline[0])
	}
}

// basicKeychain gives the same user and password for every registry.
type basicKeychain struct{ user, password string }

func (k basicKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: k.user, Password: k.password}, nil
}
