package manifests

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// nodesBuilt parses data with go-yaml as parseYAML does and counts the nodes it builds
// before it finishes or fails.
func nodesBuilt(data []byte) (n int64) {
	defer func() { _ = recover() }() // a parser panic builds nothing more
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var count func(*yaml.Node)
	count = func(x *yaml.Node) {
		n++
		for _, c := range x.Content {
			count(c)
		}
	}
	for {
		var d yaml.Node
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) || err != nil {
			return n
		}
		count(&d)
	}
}

var estimateSeeds = []string{
	"", "a", "?", "-", ":", ",", "[", "{", "---", "...", "? \n? \n", "-\n-\n-\n", "- - - -\n", "[:]", "[:,:,:]", "{a,b,c}", "{:}",
	"[a,b,[c,[d]]]", "a:\n b:\n  c:\n", "--- |\n text\n--- >\n more\n", "---\n---\n---\n", "a: &x [1]\nb: *x\n",
	configMap, aliasBomb, `{"a":1,"b":[1,2,{"c":null}]}`, "a: 'it''s' # c\nb: \"x\\\"y\"\n", "!!map {? a : b}\n",
	"- ? a\n  : b\n- ? \n  : \n", "a: [\n  1,\n  2,\n]\n", "%YAML 1.2\n---\na: b\n",
	"data:\n  script.sh: |\n    echo a b c\n    x: [1, 2]\n  other: v\n", "- key: |\n  other: [a,a,a,a]\n", "- |\n  a\n- [b, c]\n",
	"k: [\"x: |\n  \", a, a, a, a]\n", "k: v 'q\nj: [\"x ' : |\n  \", a, a, a]\n", "a: b\n  key: |\n   - x\n   - y\n",
	"- b\n  - |\n   # c\n   - x\n   - y\n", "a: |2\n    x\n  y: [1,2,3]\n", "a: >-\n\n  t\n\n  u\nb: [1, 2]\n", "a: |\n\tb: [1,2]\n",
}

// FuzzEstimateNodes checks that estimateNodes is an upper bound of what go-yaml builds of any
// input, valid or not: the bound parseYAML relies on to refuse before building.
func FuzzEstimateNodes(f *testing.F) {
	for _, s := range estimateSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			t.Skip()
		}
		if got, est := nodesBuilt(data), estimateNodes(data); got > est {
			t.Errorf("go-yaml built %d nodes of %q; the estimate was %d", got, data, est)
		}
	})
}

func TestEstimateNodesIsABoundOnSeeds(t *testing.T) {
	for _, s := range estimateSeeds {
		if got, est := nodesBuilt([]byte(s)), estimateNodes([]byte(s)); got > est {
			t.Errorf("go-yaml built %d nodes of %q; the estimate was %d", got, s, est)
		}
	}
	// A dashboard's JSON in a block scalar costs the budget nothing of its size.
	dash := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dashboards}\ndata:\n  web.json: |\n" +
		strings.Repeat(`    {"title": "latency", "targets": [{"expr": "rate(x[5m])", "legend": "{{pod}}"}], "gridPos": {"x": 0}},`+"\n", 20_000)
	if est := estimateNodes([]byte(dash)); est > 100 {
		t.Errorf("estimate %d for a ConfigMap of %d bytes of JSON in a block scalar; want under 100", est, len(dash))
	}
	// Manifests: close to what is built, so that the budget is not spent on estimates.
	m := []byte(strings.Repeat(configMap+"---\n", 100))
	if got, est := nodesBuilt(m), estimateNodes(m); est > 3*got {
		t.Errorf("estimate %d for a manifest of %d nodes; want within 3x", est, got)
	}
}

// TestRenderKeepsLargeBlockScalars: a ConfigMap of 3 MiB of dashboards in a block scalar, as
// monitoring stacks ship them, renders under the default node cap.
func TestRenderKeepsLargeBlockScalars(t *testing.T) {
	root := t.TempDir()
	dash := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dashboards}\ndata:\n  web.json: |\n" +
		strings.Repeat(`    {"title": "latency", "targets": [{"expr": "rate(x[5m])", "legend": "{{pod}}"}], "gridPos": {"x": 0}},`+"\n", 30_000)
	writeTree(t, root, map[string]string{"app/dashboards.yaml": dash})
	objs, err := Render(context.Background(), root, "app", DefaultOptions())
	if err != nil {
		t.Fatalf("Render of %d bytes: %v", len(dash), err)
	}
	if len(objs) != 1 {
		t.Errorf("got %d objects, want 1", len(objs))
	}
}

// TestRenderRefusesNodeBombsNamingTheFile: a file that could build more nodes than the
// render has left is refused before it is parsed, naming it, with ErrLimitExceeded.
func TestRenderRefusesNodeBombsNamingTheFile(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"app/a.yaml":    configMap,
		"app/bomb.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\nx: [" + strings.Repeat("a,", 200_000) + "a]\n",
	})
	opts := DefaultOptions()
	opts.MaxNodes = 100_000
	_, err := Render(context.Background(), root, "app", opts)
	wantError(t, err, ErrLimitExceeded, "app/bomb.yaml: YAML could build up to", "of the limit of 100000 nodes per render")
}
