package main

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

// TestKlogThroughSlog: what client-go and kustomize log through klog comes out of Plumbline's
// own logger, in its format, on the command's stderr.
func TestKlogThroughSlog(t *testing.T) {
	t.Cleanup(klog.ClearLogger)
	var stdout, stderr bytes.Buffer
	if code := execute(t.Context(), []string{"--verbose", "version"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("version: exit %d\n%s", code, stderr.String())
	}
	klog.InfoS("from client-go", "resource", "deployments")
	klog.Flush()
	if got := stderr.String(); !strings.Contains(got, `msg="from client-go"`) || !strings.Contains(got, "resource=deployments") {
		t.Fatalf("klog output did not go through slog; stderr:\n%s", got)
	}
}
