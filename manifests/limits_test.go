package manifests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRenderRejectsFilesOverTheCaps(t *testing.T) {
	big := "# padding\n" + strings.Repeat("#", 4<<20) + "\n" + configMap // 4 MiB of comment, then an object
	tests := []struct {
		name  string
		files map[string]string
		dir   string
		opts  func(*Options)
		want  []string
	}{
		{
			name:  "kustomize resource over 4 MiB",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- big.yaml\n", "app/big.yaml": big},
			want:  []string{fmt.Sprintf("app/big.yaml: file is %d bytes, over the limit of 4194304 bytes per file", len(big))},
		},
		{
			name:  "plain file over 4 MiB",
			files: map[string]string{"app/small.yaml": configMap, "app/sub/big.yaml": big},
			want:  []string{fmt.Sprintf("app/sub/big.yaml: file is %d bytes, over the limit of 4194304 bytes per file", len(big))},
		},
		{
			name: "total bytes",
			files: map[string]string{
				"app/kustomization.yaml": "resources:\n- a.yaml\n- b.yaml\n",
				"app/a.yaml":             strings.Replace(configMap, "name: app", "name: a", 1),
				"app/b.yaml":             strings.Replace(configMap, "name: app", "name: b", 1),
			},
			opts: func(o *Options) { o.MaxTotalBytes = 150 },
			want: []string{"app/b.yaml: reading this file takes the render over the limit of 150 bytes read in total"},
		},
		{
			name:  "plain objects",
			files: map[string]string{"app/list.yaml": "kind: List\napiVersion: v1\nitems:\n" + strings.Repeat("- {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n", 3)},
			opts:  func(o *Options) { o.MaxObjects = 2 },
			want:  []string{"app/list.yaml: this file takes the render over the limit of 2 objects"},
		},
		{
			name: "plain output bytes",
			files: map[string]string{
				"app/a.yaml": strings.Replace(configMap, "name: app", "name: a", 1),
				"app/b.yaml": strings.Replace(configMap, "name: app", "name: b", 1),
			},
			opts: func(o *Options) { o.MaxOutputBytes = 100 },
			want: []string{"app/b.yaml: this file takes the render over the limit of 100 bytes of output"},
		},
		{
			name: "kustomize output bytes, estimated before the build",
			files: map[string]string{
				"app/kustomization.yaml": "resources:\n- a.yaml\n- b.yaml\n",
				"app/a.yaml":             strings.Replace(configMap, "name: app", "name: a", 1),
				"app/b.yaml":             strings.Replace(configMap, "name: app", "name: b", 1),
			},
			opts: func(o *Options) { o.MaxOutputBytes = 100 },
			want: []string{fmt.Sprintf("app/kustomization.yaml: kustomization would render about %d bytes, over the limit of 100", 2*len(configMap)-4)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.files)
			opts := DefaultOptions()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			_, err := Render(context.Background(), root, "app", opts)
			wantError(t, err, ErrLimitExceeded, tt.want...)
		})
	}
}

func TestRenderRejectsAliasBombsQuickly(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"kustomize resource", map[string]string{"app/kustomization.yaml": "resources:\n- bomb.yaml\n", "app/bomb.yaml": aliasBomb}, "app/bomb.yaml:6: YAML aliases would expand"},
		{"plain folder", map[string]string{"app/ok.yaml": configMap, "app/bomb.yaml": aliasBomb}, "app/bomb.yaml:6: YAML aliases would expand"},
		{"kustomization file", map[string]string{"app/kustomization.yaml": "resources: [cm.yaml]\n" + aliasBomb[strings.Index(aliasBomb, "a: &a"):strings.Index(aliasBomb, "\ndata:")+1] + "commonAnnotations:\n  x: *h\n", "app/cm.yaml": configMap}, "app/kustomization.yaml:3: YAML aliases would expand"},
		{"inline patch", map[string]string{"app/kustomization.yaml": "resources: [cm.yaml]\npatches:\n- patch: |\n" + indent(aliasBomb, "    "), "app/cm.yaml": configMap}, "app/kustomization.yaml:3: inline patches"},
		{"patch file", map[string]string{"app/kustomization.yaml": "resources: [cm.yaml]\npatches:\n- path: bomb.yaml\n", "app/cm.yaml": configMap, "app/bomb.yaml": aliasBomb}, "app/bomb.yaml:6: YAML aliases would expand"},
		{"anchor containing itself", map[string]string{"app/loop.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: &a [*a]\n"}, "app/loop.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.files)
			start := time.Now()
			_, err := Render(context.Background(), root, "app", DefaultOptions())
			wantError(t, err, ErrExcessiveAliasing, tt.want)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s to reject; want well under 2s", d)
			}
		})
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix) + "\n"
}

// writeFanOut writes a chain of kustomizations l0 … l<levels> in which each level builds the
// one below twice, through two folders with different name prefixes: a few hundred bytes of
// YAML per level, 2^levels objects.
func writeFanOut(t testing.TB, root string, levels int, leaf string) {
	files := map[string]string{"l0/kustomization.yaml": "resources:\n- objects.yaml\n", "l0/objects.yaml": leaf}
	for i := 1; i <= levels; i++ {
		files[fmt.Sprintf("l%d/kustomization.yaml", i)] = "resources:\n- a\n- b\n"
		for _, side := range []string{"a", "b"} {
			files[fmt.Sprintf("l%d/%s/kustomization.yaml", i, side)] = fmt.Sprintf("namePrefix: %s-\nresources:\n- ../../l%d\n", side, i-1)
		}
	}
	writeTree(t, root, files)
}

func TestRenderRejectsFanOutQuickly(t *testing.T) {
	tests := []struct {
		name string
		opts func(*Options)
		want string
	}{
		{"kustomization cap (defaults)", nil, "kustomization would load 1021 kustomizations (a base counts once per reference), over the limit of 1000"},
		{"object cap alone", func(o *Options) { o.MaxKustomizations = 1 << 40 }, "kustomization would render about 32768 objects, over the limit of 20000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFanOut(t, root, 38, configMap)
			opts := DefaultOptions()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			start := time.Now()
			_, err := Render(context.Background(), root, "l38", opts)
			wantError(t, err, ErrLimitExceeded, tt.want)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s to reject; want well under 2s", d)
			}
		})
	}
}

// TestFanOutEstimateIsExact shows that the chain above is a real kustomization, and that the
// estimate counts what kustomize builds: a short chain renders, with 2^levels objects.
func TestFanOutEstimateIsExact(t *testing.T) {
	root := t.TempDir()
	writeFanOut(t, root, 4, configMap)
	objs, err := Render(context.Background(), root, "l4", DefaultOptions())
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if len(objs) != 16 {
		t.Errorf("got %d objects, want 16", len(objs))
	}
	opts := DefaultOptions()
	opts.MaxObjects = 15
	_, err = Render(context.Background(), root, "l4", opts)
	wantError(t, err, ErrLimitExceeded, "l4/kustomization.yaml: kustomization would render about 16 objects, over the limit of 15")
}
