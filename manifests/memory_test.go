package manifests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// memoryChildEnv names, in a re-executed test binary, the render case to run and measure.
const memoryChildEnv = "PLUMBLINE_MANIFESTS_MEMORY_CASE"

// memoryCases write a repository under root and return the folder to render. Each is what an
// attacker who can commit to the repository would write to exhaust the controller.
var memoryCases = map[string]func(t *testing.T, root string) string{
	// 20 MiB of flow lists in five plain files, well under the 64 MiB total cap: was killed at
	// 2 GiB.
	"flow-lists": func(t *testing.T, root string) string {
		files := map[string]string{}
		for i := range 5 {
			files[fmt.Sprintf("app/list%d.yaml", i)] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: l%d}\nbinaryData: {}\nx: [", i) + strings.Repeat("a,", (4<<20-200)/2) + "a]\n"
		}
		writeTree(t, root, files)
		return "app"
	},
	// The largest render the default caps let through: ConfigMaps of many short entries, just
	// under MaxNodes, built by kustomize (a label forces a real build).
	"near-the-cap-kustomize": func(t *testing.T, root string) string {
		files := map[string]string{"app/kustomization.yaml": "labels:\n- pairs: {team: a}\nresources:\n"}
		for i := range 10 {
			var b strings.Builder
			for j := range 20 {
				fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%d-%d\ndata:\n", i, j)
				for k := range 1000 {
					fmt.Fprintf(&b, "  k%d: v\n", k)
				}
				b.WriteString("---\n")
			}
			name := fmt.Sprintf("cm%d.yaml", i)
			files["app/"+name] = b.String()
			files["app/kustomization.yaml"] += "- " + name + "\n"
		}
		writeTree(t, root, files)
		return "app"
	},
}

// TestRenderMemoryIsBoundedByInput renders each memory case in a child process and checks
// its peak resident memory (VmHWM) against the controller's 512 MiB limit, and what it
// returned: a limit error naming the file, or the objects.
func TestRenderMemoryIsBoundedByInput(t *testing.T) {
	if testing.Short() {
		t.Skip("renders tens of MiB of YAML")
	}
	tests := []struct {
		name    string
		want    string
		maxPeak int64
	}{
		{"flow-lists", "app/list0.yaml: YAML could build up to", 128 << 20},
		{"near-the-cap-kustomize", "rendered 200 objects", 512 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestRenderMemoryChild$", "-test.v")
			cmd.Env = append(os.Environ(), memoryChildEnv+"="+tt.name, "GOMEMLIMIT=400MiB")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			text := string(out)
			if !strings.Contains(text, tt.want) {
				t.Errorf("child output lacks %q:\n%s", tt.want, text)
			}
			_, v, ok := strings.Cut(text, "VmHWM bytes: ")
			if !ok {
				t.Fatalf("child printed no VmHWM:\n%s", text)
			}
			peak, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("peak %d MiB; %s", peak>>20, strings.TrimSpace(text[strings.Index(text, "result:"):strings.Index(text, "VmHWM")]))
			if peak > tt.maxPeak {
				t.Errorf("peak resident memory %d MiB; want under %d MiB", peak>>20, tt.maxPeak>>20)
			}
		})
	}
}

func TestRenderMemoryChild(t *testing.T) {
	name := os.Getenv(memoryChildEnv)
	if name == "" {
		t.Skip("run by TestRenderMemoryIsBoundedByInput")
	}
	root := t.TempDir()
	dir := memoryCases[name](t, root)
	start := time.Now()
	objs, err := Render(context.Background(), root, dir, DefaultOptions())
	if err != nil {
		fmt.Printf("result: error after %s: %v\n", time.Since(start), err)
	} else {
		fmt.Printf("result: rendered %d objects in %s\n", len(objs), time.Since(start))
	}
	status, rerr := os.ReadFile("/proc/self/status")
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			fmt.Printf("VmHWM bytes: %d\n", kb<<10)
		}
	}
}
