package diff

import (
	"strings"
	"testing"

	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// FuzzSplitPath feeds untrusted ignore-rule paths (they come from files in Git) to
// splitPath and to pattern matching: neither may panic, and what splitPath accepts must be
// the path cut into well-formed elements with nothing lost.
func FuzzSplitPath(f *testing.F) {
	for _, s := range []string{
		".spec.replicas", `.spec.template.spec.containers[name="nginx"].image`, `.metadata.labels.app\.kubernetes\.io/name`,
		`.data[*]`, `[name="a]b"]`, `.a[k="x\"]y"].b`, "", ".", "..", "[", "]", `["`, `[\`, `.a[`, "x", ".a.b[0]",
	} {
		f.Add(s)
	}
	live := fieldpath.MakePathOrDie("spec", "template", "spec", "containers", "image")
	f.Fuzz(func(t *testing.T, p string) {
		parts, err := splitPath(p)
		_ = matchesPattern([]string{p}, live)
		if err != nil {
			return
		}
		if got := strings.Join(parts, ""); got != p {
			t.Fatalf("splitPath(%q) = %q, which joins to %q", p, parts, got)
		}
		for _, e := range parts {
			switch {
			case strings.HasPrefix(e, "."):
				if len(e) == 1 || strings.ContainsAny(e[1:], ".[") {
					t.Fatalf("splitPath(%q): field element %q is empty or holds a separator", p, e)
				}
			case strings.HasPrefix(e, "["):
				if !strings.HasSuffix(e, "]") || len(e) < 2 {
					t.Fatalf("splitPath(%q): list element %q is not closed", p, e)
				}
			default:
				t.Fatalf("splitPath(%q): element %q starts with neither '.' nor '['", p, e)
			}
		}
	})
}
