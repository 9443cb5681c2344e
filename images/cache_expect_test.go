package images

import (
	"context"
	"testing"
)

// TestExpectedDigestBypassesADisagreeingCache: a cached digest that agrees with the approved one
// is trusted (no request); one that disagrees is asked again, so a stale cache never reports a
// rebuild that the registry no longer serves.
func TestExpectedDigestBypassesADisagreeingCache(t *testing.T) {
	ctx := context.Background()
	reg, ref, first := pushed(t)
	r := newResolver(t)
	if _, err := r.Resolve(ctx, ref, nil); err != nil {
		t.Fatal(err)
	}
	second := reg.pushImage(t, "team/nginx:1.21.0", imageOf(t, randomLayers(t, 2)...))
	reg.reset()

	out, err := r.ResolveAll(ctx, []Request{{Ref: ref, Expect: first}})
	if err != nil || out[0].Err != nil || out[0].Resolution.Digest != first {
		t.Fatalf("agreeing cache: %+v, %v", out, err)
	}
	if all, _, _ := reg.counts(); all != 0 {
		t.Fatalf("a cached digest that agrees with the approval cost %d requests", all)
	}

	out, err = r.ResolveAll(ctx, []Request{{Ref: ref, Expect: second}})
	if err != nil || out[0].Err != nil || out[0].Resolution.Digest != second {
		t.Fatalf("disagreeing cache: got %+v, want the registry's %s", out, second)
	}
	if _, heads, _ := reg.counts(); heads != 1 {
		t.Fatalf("a cached digest that disagrees with the approval: %d HEADs, want 1", heads)
	}
}
