package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestDemoInsideStory tells the demo's inside story against its own registry; it needs no
// cluster.
func TestDemoInsideStory(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg, err := startRegistry()
	if err != nil {
		t.Fatal(err)
	}
	defer reg.close()
	var out, errOut bytes.Buffer
	d := &demo{out: &out, errOut: &errOut, registry: reg, dir: t.TempDir()}
	if err := d.insideStory(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(d.failures) > 0 {
		t.Fatalf("the story did not go as told:\n  %s\n%s%s", strings.Join(d.failures, "\n  "), out.String(), errOut.String())
	}
	t.Log(out.String())
}
