package manifests

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRenderRejectsBadInput(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		kind  error
		want  []string
	}{
		{
			name:  "object declared twice in a plain folder",
			files: map[string]string{"app/a.yaml": configMap, "app/b.yaml": configMap},
			want:  []string{"app/b.yaml: ConfigMap/app is declared twice: here and in app/a.yaml"},
		},
		{
			name:  "document without kind",
			files: map[string]string{"app/a.yaml": configMap + "---\napiVersion: v1\nmetadata:\n  name: x\n"},
			want:  []string{"app/a.yaml:8: object has no kind"},
		},
		{
			name:  "document that is not a mapping",
			files: map[string]string{"app/a.yaml": "- just\n- a list\n"},
			want:  []string{"app/a.yaml:1: document is not a Kubernetes object"},
		},
		{
			name:  "invalid YAML",
			files: map[string]string{"app/a.yaml": "apiVersion: v1\nkind: [\n"},
			want:  []string{"app/a.yaml:2: invalid YAML"},
		},
		{
			name:  "helm chart",
			files: map[string]string{"app/kustomization.yaml": "helmCharts:\n- name: redis\n  repo: https://charts.example.com\n"},
			kind:  ErrUnsupported,
			want:  []string{"app/kustomization.yaml:1: helm charts are not supported"},
		},
		{
			name: "exec plugin",
			files: map[string]string{
				"app/kustomization.yaml": "generators:\n- gen.yaml\n",
				"app/gen.yaml":           "apiVersion: someteam.example.com/v1\nkind: SecretsFromVault\nmetadata:\n  name: x\n",
			},
			kind: ErrUnsupported,
			want: []string{"app/gen.yaml:1: generators config SecretsFromVault", "only kustomize's builtin plugins"},
		},
		{
			name: "KRM function",
			files: map[string]string{
				"app/kustomization.yaml": "transformers:\n- fn.yaml\n",
				"app/fn.yaml": "apiVersion: example.com/v1\nkind: Fn\nmetadata:\n  name: x\n  annotations:\n" +
					"    config.kubernetes.io/function: |\n      exec:\n        path: /bin/sh\n",
			},
			kind: ErrUnsupported,
			want: []string{"app/fn.yaml:1: transformers config Fn", "only kustomize's builtin plugins"},
		},
		{
			name: "generator folder",
			files: map[string]string{
				"app/kustomization.yaml":      "generators:\n- gens\n",
				"app/gens/kustomization.yaml": "resources: []\n",
			},
			kind: ErrUnsupported,
			want: []string{`app/kustomization.yaml:2: generators entry "gens": plugin folders are not supported`},
		},
		{
			name:  "missing resource",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- nowhere.yaml\n"},
			want:  []string{`app/kustomization.yaml:2: resources entry "nowhere.yaml": no such file or folder in the repository`},
		},
		{
			name: "resource file in a sibling folder (kustomize's load restrictor)",
			files: map[string]string{
				"app/kustomization.yaml": "resources:\n- ../shared/cm.yaml\n",
				"shared/cm.yaml":         configMap,
			},
			want: []string{`app/kustomization.yaml:2: resources entry "../shared/cm.yaml": file is outside the kustomization's folder`},
		},
		{
			name: "cycle",
			files: map[string]string{
				"app/kustomization.yaml":       "resources:\n- child\n",
				"app/child/kustomization.yaml": "resources:\n- ..\n",
			},
			want: []string{`app/child/kustomization.yaml:2: resources entry "..": folder contains app, which is already being built: a cycle`},
		},
		{
			name:  "unknown kustomization field",
			files: map[string]string{"app/kustomization.yaml": "resourcez:\n- cm.yaml\n"},
			want:  []string{"app/kustomization.yaml: invalid Kustomization", "resourcez"},
		},
		{
			name:  "kustomize's own error, with paths relative to the repository",
			files: map[string]string{"app/kustomization.yaml": "labels:\n- pairs: {team: a}\nresources:\n- cm.yaml\n- cm2.yaml\n", "app/cm.yaml": configMap, "app/cm2.yaml": configMap},
			want:  []string{"app/kustomization.yaml: kustomize build: ", "already registered id"},
		},
		{
			name:  "object declared twice in a kustomization that only lists resources",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- cm.yaml\n- cm2.yaml\n", "app/cm.yaml": configMap, "app/cm2.yaml": configMap},
			want:  []string{"app/cm2.yaml: ConfigMap/app is declared twice: here and in app/cm.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.files)
			_, err := Render(context.Background(), root, "app", DefaultOptions())
			wantError(t, err, tt.kind, tt.want...)
			if err != nil && strings.Contains(err.Error(), root) {
				t.Errorf("error %q shows the machine's path %q", err, root)
			}
		})
	}
}

func TestRenderStopsOnTimeoutAndCancel(t *testing.T) {
	opts := DefaultOptions()
	opts.Timeout = time.Nanosecond
	_, err := Render(context.Background(), "testdata/base-overlay-patches-generator-images", "overlays/prod", opts)
	wantError(t, err, ErrTimeout, "overlays/prod: render did not finish within 1ns")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Render(ctx, "testdata/plain-multidoc-recursive", "", DefaultOptions())
	wantError(t, err, context.Canceled, "render .: context canceled")
}
