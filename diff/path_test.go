package diff

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

func TestSplitPath(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "fields", in: ".spec.replicas", want: []string{".spec", ".replicas"}},
		{
			name: "key of a list element",
			in:   `.spec.template.spec.containers[name="nginx"].image`,
			want: []string{".spec", ".template", ".spec", ".containers", `[name="nginx"]`, ".image"},
		},
		{
			name: "key containing dots",
			in:   `.spec.template.spec.containers[name="api.v2"].env[name="a.b"].value`,
			want: []string{".spec", ".template", ".spec", ".containers", `[name="api.v2"]`, ".env", `[name="a.b"]`, ".value"},
		},
		{
			name: "key containing a closing bracket",
			in:   `.env[name="x]y"].value`,
			want: []string{".env", `[name="x]y"]`, ".value"},
		},
		{
			name: "key containing an escaped quote and a bracket",
			in:   `.env[name="say \"hi]\""].value`,
			want: []string{".env", `[name="say \"hi]\""]`, ".value"},
		},
		{
			name: "key of several fields",
			in:   `.spec.ports[containerPort=80,protocol="TCP"].name`,
			want: []string{".spec", ".ports", `[containerPort=80,protocol="TCP"]`, ".name"},
		},
		{name: "index", in: ".spec.args[1]", want: []string{".spec", ".args", "[1]"}},
		{name: "set value", in: `.metadata.finalizers[="example.com/protect"]`, want: []string{".metadata", ".finalizers", `[="example.com/protect"]`}},
		{name: "wildcard", in: ".spec.containers[*].resources", want: []string{".spec", ".containers", "[*]", ".resources"}},
		{name: "a list element first", in: `[name="a"].b`, want: []string{`[name="a"]`, ".b"}},
		{name: "no leading dot", in: "spec.replicas", wantErr: "expected '.' or '['"},
		{name: "text after a bracket", in: `.env[name="a"]value`, wantErr: "expected '.' or '['"},
		{name: "empty field name in the middle", in: ".spec..replicas", wantErr: "empty field name"},
		{name: "trailing dot", in: ".spec.", wantErr: "empty field name"},
		{name: "dot before a bracket", in: `.spec.[name="a"]`, wantErr: "empty field name"},
		{name: "unterminated bracket", in: `.spec.containers[name="nginx"`, wantErr: "unterminated '['"},
		{name: "bracket closed only inside quotes", in: `.spec.containers[name="nginx]`, wantErr: "unterminated '['"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitPath(tt.in)
			if d := cmp.Diff(tt.wantErr, errString(err)); d != "" {
				t.Fatalf("splitPath(%q) error (-want +got):\n%s", tt.in, d)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("splitPath(%q) (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

func TestMatchesPattern(t *testing.T) {
	key := func(nameValues ...any) *value.FieldList { return fieldpath.KeyByFields(nameValues...) }
	path := fieldpath.MakePathOrDie
	image := path("spec", "template", "spec", "containers", key("name", "nginx"), "image")
	replicas := path("spec", "replicas")
	env := func(name string) fieldpath.Path {
		return path("spec", "template", "spec", "containers", key("name", "nginx"), "env", key("name", name), "value")
	}
	tests := []struct {
		name     string
		patterns []string
		path     fieldpath.Path
		want     bool
	}{
		{name: "no patterns", patterns: nil, path: replicas, want: false},
		{name: "the path itself", patterns: []string{".spec.replicas"}, path: replicas, want: true},
		{name: "everything below", patterns: []string{".spec.template"}, path: image, want: true},
		{name: "a prefix of a field name is not a prefix", patterns: []string{".spec.rep"}, path: replicas, want: false},
		{name: "a pattern below the path", patterns: []string{".spec.replicas"}, path: path("spec"), want: false},
		{name: "a sibling", patterns: []string{".spec.paused"}, path: replicas, want: false},
		{name: "the same key", patterns: []string{`.spec.template.spec.containers[name="nginx"]`}, path: image, want: true},
		{name: "another key", patterns: []string{`.spec.template.spec.containers[name="sidecar"]`}, path: image, want: false},
		{
			name:     "wildcard matches any element",
			patterns: []string{".spec.template.spec.containers[*].resources"},
			path:     path("spec", "template", "spec", "containers", key("name", "nginx"), "resources", "limits", "cpu"),
			want:     true,
		},
		{name: "wildcard then another field", patterns: []string{".spec.template.spec.containers[*].resources"}, path: image, want: false},
		{name: "wildcard matches an index", patterns: []string{".spec.args[*]"}, path: path("spec", "args", 3), want: true},
		{name: "wildcard does not match a field", patterns: []string{".spec[*]"}, path: replicas, want: false},
		{name: "key containing a dot", patterns: []string{`.spec.template.spec.containers[name="nginx"].env[name="a.b"]`}, path: env("a.b"), want: true},
		{name: "key that starts like another", patterns: []string{`.spec.template.spec.containers[name="nginx"].env[name="a"]`}, path: env("a.b"), want: false},
		{name: "key containing a closing bracket", patterns: []string{`.env[name="x]y"]`}, path: path("env", key("name", "x]y"), "value"), want: true},
		// Keys are compared as text: the order structured-merge-diff prints (sorted by name) must
		// be the order of the pattern.
		{
			name:     "keys in another order",
			patterns: []string{`.spec.ports[protocol="TCP",containerPort=80]`},
			path:     path("spec", "ports", key("containerPort", 80, "protocol", "TCP"), "name"),
			want:     false,
		},
		{
			name:     "keys in printed order",
			patterns: []string{`.spec.ports[containerPort=80,protocol="TCP"]`},
			path:     path("spec", "ports", key("containerPort", 80, "protocol", "TCP"), "name"),
			want:     true,
		},
		{name: "second pattern matches", patterns: []string{".metadata.labels", ".spec.replicas"}, path: replicas, want: true},
		{name: "malformed pattern matches nothing", patterns: []string{"spec.replicas"}, path: replicas, want: false},
		{name: "unterminated pattern matches nothing", patterns: []string{`.spec.containers[name="a"`}, path: path("spec", "containers", key("name", "a"), "image"), want: false},
		{name: "a malformed pattern does not hide a good one", patterns: []string{"spec", ".spec"}, path: replicas, want: true},
		// A field name may contain dots (label and annotation keys): it is one element.
		{name: "a label key with dots", patterns: []string{".metadata.labels.app.kubernetes.io/version"}, path: path("metadata", "labels", "app.kubernetes.io/version"), want: true},
		{name: "a label that is a prefix of a dotted key", patterns: []string{".metadata.labels.app"}, path: path("metadata", "labels", "app.kubernetes.io/version"), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchesPattern(tt.patterns, tt.path); got != tt.want {
				t.Errorf("matchesPattern(%q, %s) = %v, want %v", tt.patterns, tt.path, got, tt.want)
			}
		})
	}
}

func TestValueAt(t *testing.T) {
	obj := map[string]any{
		"metadata": map[string]any{
			"name":       "web",
			"finalizers": []any{"example.com/protect", "example.com/audit"},
		},
		"spec": map[string]any{
			"replicas": int64(3),
			"paused":   nil,
			"template": map[string]any{"spec": map[string]any{
				"containers": []any{
					"not a map",
					map[string]any{
						"name":  "nginx",
						"image": "nginx:1.21.0",
						"args":  []any{"--port=80", "--verbose"},
						"ports": []any{
							map[string]any{"containerPort": int64(80), "name": "http"},
							map[string]any{"containerPort": int64(9090), "protocol": "UDP", "name": "metrics"},
						},
					},
				},
			}},
		},
	}
	container := func(parts ...any) fieldpath.Path {
		return fieldpath.MakePathOrDie(append([]any{"spec", "template", "spec", "containers", fieldpath.KeyByFields("name", "nginx")}, parts...)...)
	}
	tests := []struct {
		name   string
		path   fieldpath.Path
		want   any
		wantOK bool
	}{
		{name: "root", path: fieldpath.Path{}, want: obj, wantOK: true},
		{name: "field", path: fieldpath.MakePathOrDie("spec", "replicas"), want: int64(3), wantOK: true},
		{name: "field holding null", path: fieldpath.MakePathOrDie("spec", "paused"), want: nil, wantOK: true},
		{name: "absent field", path: fieldpath.MakePathOrDie("spec", "strategy"), wantOK: false},
		{name: "field of a scalar", path: fieldpath.MakePathOrDie("spec", "replicas", "value"), wantOK: false},
		{name: "by key", path: container("image"), want: "nginx:1.21.0", wantOK: true},
		{name: "by key, absent", path: fieldpath.MakePathOrDie("spec", "template", "spec", "containers", fieldpath.KeyByFields("name", "sidecar")), wantOK: false},
		{name: "key on a map", path: fieldpath.MakePathOrDie("spec", fieldpath.KeyByFields("name", "nginx")), wantOK: false},
		{
			name:   "key field the element omits does not rule it out",
			path:   container("ports", fieldpath.KeyByFields("containerPort", 80, "protocol", "TCP")),
			want:   map[string]any{"containerPort": int64(80), "name": "http"},
			wantOK: true,
		},
		{
			name:   "key with every field set",
			path:   container("ports", fieldpath.KeyByFields("containerPort", 9090, "protocol", "UDP"), "name"),
			want:   "metrics",
			wantOK: true,
		},
		{name: "key field that differs", path: container("ports", fieldpath.KeyByFields("containerPort", 9090, "protocol", "TCP")), wantOK: false},
		{name: "key value that differs", path: container("ports", fieldpath.KeyByFields("containerPort", 443, "protocol", "TCP")), wantOK: false},
		{name: "by set value", path: fieldpath.MakePathOrDie("metadata", "finalizers", value.NewValueInterface("example.com/audit")), want: "example.com/audit", wantOK: true},
		{name: "by set value, absent", path: fieldpath.MakePathOrDie("metadata", "finalizers", value.NewValueInterface("example.com/other")), wantOK: false},
		{name: "set value on a map", path: fieldpath.MakePathOrDie("metadata", value.NewValueInterface("web")), wantOK: false},
		{name: "by index", path: container("args", 1), want: "--verbose", wantOK: true},
		{name: "index past the end", path: container("args", 2), wantOK: false},
		{name: "negative index", path: container("args", -1), wantOK: false},
		{name: "index on a map", path: fieldpath.MakePathOrDie("spec", 0), wantOK: false},
		{name: "empty path element", path: fieldpath.Path{fieldpath.PathElement{}}, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := valueAt(obj, tt.path)
			if ok != tt.wantOK {
				t.Fatalf("valueAt(%s) found = %v, want %v", tt.path, ok, tt.wantOK)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("valueAt(%s) (-want +got):\n%s", tt.path, d)
			}
		})
	}
}

// CoreDNS serves DNS on port 53 over UDP and TCP; a manifest may leave the TCP port's protocol
// to the default. The element that omits protocol is the TCP one, yet it is taken for the UDP
// key because it comes first. Compare then reports Git's value of the wrong port, or misses the
// drift when the wrong port happens to hold the live value.
func TestValueAtPrefersTheElementThatSetsEveryKeyField(t *testing.T) {
	ports := map[string]any{"ports": []any{
		map[string]any{"containerPort": int64(53), "name": "dns-tcp"},
		map[string]any{"containerPort": int64(53), "protocol": "UDP", "name": "dns"},
	}}
	got, ok := valueAt(ports, fieldpath.MakePathOrDie("ports", fieldpath.KeyByFields("containerPort", 53, "protocol", "UDP"), "name"))
	if d := cmp.Diff("dns", got); !ok || d != "" {
		t.Errorf("valueAt UDP port name (found %v) (-want +got):\n%s", ok, d)
	}
}

func pathStrings(s *fieldpath.Set) []string {
	var out []string
	s.Iterate(func(p fieldpath.Path) { out = append(out, p.String()) })
	slices.Sort(out)
	return out
}

func TestTopmost(t *testing.T) {
	nginx := []any{"spec", "template", "spec", "containers", fieldpath.KeyByFields("name", "nginx")}
	debug := []any{"spec", "template", "spec", "containers", fieldpath.KeyByFields("name", "debug")}
	p := func(parts ...any) fieldpath.Path { return fieldpath.MakePathOrDie(parts...) }
	tests := []struct {
		name string
		in   *fieldpath.Set
		want []string
	}{
		{name: "empty", in: fieldpath.NewSet(), want: nil},
		{
			name: "leaves without a common member stay",
			in:   fieldpath.NewSet(p("spec", "replicas"), p("metadata", "labels", "team")),
			want: []string{".metadata.labels.team", ".spec.replicas"},
		},
		{
			name: "an added container comes as one, an env var of another as one",
			in: fieldpath.NewSet(
				p(debug...),
				p(append(debug, "name")...),
				p(append(debug, "image")...),
				p(append(debug, "ports", fieldpath.KeyByFields("containerPort", 8080, "protocol", "TCP"))...),
				p(append(debug, "ports", fieldpath.KeyByFields("containerPort", 8080, "protocol", "TCP"), "containerPort")...),
				p(append(nginx, "env", fieldpath.KeyByFields("name", "DEBUG"))...),
				p(append(nginx, "env", fieldpath.KeyByFields("name", "DEBUG"), "name")...),
				p(append(nginx, "env", fieldpath.KeyByFields("name", "DEBUG"), "value")...),
				p(append(nginx, "imagePullPolicy")...),
			),
			want: []string{
				`.spec.template.spec.containers[name="debug"]`,
				`.spec.template.spec.containers[name="nginx"].env[name="DEBUG"]`,
				`.spec.template.spec.containers[name="nginx"].imagePullPolicy`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range topmost(tt.in) {
				got = append(got, p.String())
			}
			slices.Sort(got)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("topmost (-want +got):\n%s", d)
			}
		})
	}
}

func TestWithPrefixes(t *testing.T) {
	p := func(parts ...any) fieldpath.Path { return fieldpath.MakePathOrDie(parts...) }
	tests := []struct {
		name string
		in   *fieldpath.Set
		want []string
	}{
		{name: "empty", in: fieldpath.NewSet(), want: nil},
		{
			name: "every prefix of a leaf",
			in:   fieldpath.NewSet(p("spec", "template", "spec", "containers", fieldpath.KeyByFields("name", "nginx"), "imagePullPolicy")),
			want: []string{
				".spec",
				".spec.template",
				".spec.template.spec",
				".spec.template.spec.containers",
				`.spec.template.spec.containers[name="nginx"]`,
				`.spec.template.spec.containers[name="nginx"].imagePullPolicy`,
			},
		},
		{
			name: "shared prefixes once",
			in:   fieldpath.NewSet(p("spec", "replicas"), p("spec", "paused"), p("kind")),
			want: []string{".kind", ".spec", ".spec.paused", ".spec.replicas"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, pathStrings(withPrefixes(tt.in))); d != "" {
				t.Errorf("withPrefixes (-want +got):\n%s", d)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
