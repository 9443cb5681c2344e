package e2e

import (
	"strings"
	"testing"
)

// TestDemo runs `plumbline demo` as `make demo` does. The demo checks each story's exit status
// and report text itself and exits 1 when one does not go as told.
func TestDemo(t *testing.T) {
	r := runCmd(t, nil, plumbline, "demo")
	if r.code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"Reason: Image changed from '",
		"Policy Violation: Use of 'latest' tag is disallowed.",
		"was rebuilt under the same tag",
		"is managed by Plumbline (source shop, repo file://",
		"] opened: Deployment/",
		"] reverted: Deployment/",
		"[disallow-privileged, critical]",
		"All stories told.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
