package manifests

import (
	"bytes"
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
	// Manifests: close to what is built, so that the budget is not spent on estimates.
	m := []byte(strings.Repeat(configMap+"---\n", 100))
	if got, est := nodesBuilt(m), estimateNodes(m); est > 3*got {
		t.Errorf("estimate %d for a manifest of %d nodes; want within 3x", est, got)
	}
}
