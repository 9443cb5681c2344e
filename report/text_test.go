package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	gitSource = Source{
		Repo:     "https://github.com/acme/deploy.git",
		Ref:      "main",
		Revision: "4f2c9e1ab3d07c55e0d6a8b1f2c3d4e5f6a7b8c9",
		Path:     "clusters/prod",
	}
	editedAt   = time.Date(2026, 11, 28, 22, 47, 27, 0, time.UTC)
	scaledAt   = time.Date(2026, 11, 29, 9, 15, 0, 0, time.FixedZone("CET", 3600)) // 08:15:00Z
	approved   = "sha256:" + strings.Repeat("a", 64)
	served     = "sha256:" + strings.Repeat("b", 64)
	layers3    = 3
	webProd    = deployment("prod", "web")
	workerProd = deployment("prod", "worker")
)

// scenarios are the reports the golden files of testdata/<name>/ render. Each is finalized as
// the reconciler does before printing.
func scenarios() map[string]*Report {
	out := map[string]*Report{
		// Everything matches: the summary names the source with a short revision.
		"clean": {Source: gitSource},
		// A local folder read without Git: no repository, no revision.
		"clean-local-folder": {Source: Source{Path: "./deploy"}},
		// The mission's case: a person ran `kubectl set image` to nginx:latest, which the policy
		// forbids.
		"image-edited-by-kubectl-set": {
			Source: Source{Repo: "https://github.com/acme/deploy.git", Ref: "main", Revision: "9b1d0c3e", Path: "apps/nginx"},
			Findings: []Finding{
				{
					Type: PolicyViolation, Object: deployment("default", "nginx-deployment"),
					Message: "Use of 'latest' tag is disallowed.", Source: "apps/nginx/deployment.yaml",
					Rule: "disallow-latest-tag", Severity: "high", Where: WhereLive, Container: "nginx",
				},
				{
					Type: Modified, Object: deployment("default", "nginx-deployment"),
					Message: "Image changed from 'nginx:1.21.0' to 'nginx:latest'", Source: "apps/nginx/deployment.yaml",
					Fields: []Field{{
						Path: nginxImagePath, Desired: "nginx:1.21.0", Live: "nginx:latest",
						Manager: "kubectl-set", Time: &editedAt,
					}},
				},
			},
		},
		// One of every kind of line: Missing with its file, both kinds of Extra, a cluster-scoped
		// object, several fields of one object, image findings, policy violations of two
		// severities, masked Secret values and errors with and without an object.
		"mixed-drift": {
			Source: gitSource,
			Findings: []Finding{
				{
					Type: PolicyViolation, Object: webProd, Message: "Use of 'latest' tag is disallowed.",
					Rule: "disallow-latest-tag", Severity: "high", Where: WhereLive, Container: "web",
				},
				{
					Type: PolicyViolation, Object: webProd, Message: "Privileged containers are disallowed.",
					Rule: "disallow-privileged", Severity: "critical", Where: WhereLive, Container: "debug",
				},
				{
					Type: PolicyViolation, Object: webProd,
					Message: "Root filesystem must be read-only: set securityContext.readOnlyRootFilesystem to true.",
					Rule:    "require-read-only-root-fs", Severity: "high", Where: WhereDesired, Container: "web",
				},
				{
					Type: RunningImageMismatch, Object: webProd, Container: "web",
					Message: "Image: registry.example.com/team/web:1.4.2: pods web-7d4b9c-x2x9q, web-7d4b9c-zk2lp run sha256:bbbbbbbbbbbb…, which is not the approved sha256:aaaaaaaaaaaa…",
					Image: &Image{
						Ref: "registry.example.com/team/web:1.4.2", Approved: approved,
						Running: []RunningDigest{{Digest: served, Pods: []string{"web-7d4b9c-x2x9q", "web-7d4b9c-zk2lp"}}},
					},
				},
				{
					Type: ImageTagMutated, Object: webProd, Container: "web",
					Message: "Image: registry.example.com/team/web:1.4.2 was rebuilt under the same tag: approved sha256:aaaaaaaaaaaa…, registry now serves sha256:bbbbbbbbbbbb… (3 layers changed)",
					Image:   &Image{Ref: "registry.example.com/team/web:1.4.2", Approved: approved, Resolved: served, LayersChanged: &layers3},
				},
				{
					Type: Modified, Object: webProd,
					Fields: []Field{
						{Path: ".spec.replicas", Desired: int64(3), Live: int64(5), Manager: "kubectl-scale", Time: &scaledAt},
						{
							Path:    `.spec.template.spec.containers[name="web"].env[name="DEBUG"]`,
							Live:    map[string]any{"name": "DEBUG", "value": "true"},
							Manager: "kubectl-edit",
						},
						{
							Path:    `.spec.template.spec.containers[name="web"].resources`,
							Desired: map[string]any{"limits": map[string]any{"cpu": "500m", "memory": "256Mi"}},
						},
					},
				},
				{
					Type: Missing, Object: deployment("prod", "api"), Source: "apps/api/deployment.yaml",
					Message: "Declared in Git but absent from the cluster",
				},
				{
					Type: Extra, Reason: ReasonPrunedFromGit, Object: ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "prod", Name: "old-flags"},
					Message: "No longer declared in Git, but it carries plumbline.dev/source=prod-apps",
				},
				{
					Type: Extra, Reason: ReasonNotInGit, Object: ObjectRef{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "debug-all"},
					Message: "Not declared in Git: created in the cluster by kubectl-create at 2026-11-28T21:02:11Z",
				},
				{
					Type: Modified, Object: ObjectRef{APIVersion: "v1", Kind: "Secret", Namespace: "prod", Name: "db-credentials"},
					Fields: []Field{
						{Path: ".data.password", Desired: "[masked]", Live: "[masked: differs from Git]", Manager: "kubectl-edit", Time: &editedAt, Masked: true},
						{Path: ".data.token", Live: "[masked]", Manager: "kubectl-edit", Time: &editedAt, Masked: true},
					},
				},
			},
			Errors: []Error{
				{Image: "registry.example.com/team/worker:2.3", Message: "registry.example.com/team/worker:2.3: resolve: GET https://registry.example.com/v2/team/worker/manifests/2.3: 503 Service Unavailable"},
				{Object: &workerProd, Message: `dry-run apply: admission webhook "validate.kyverno.svc" denied the request`},
			},
		},
		// `plumbline check`: each failing object is named with the file that declares it.
		"check-failed": {
			Source: Source{Path: "base"},
			Findings: []Finding{
				{
					Type: PolicyViolation, Object: webProd, Source: "base/deployment.yaml",
					Message: "Use of 'latest' tag is disallowed.", Rule: "disallow-latest-tag", Severity: "high", Where: WhereDesired, Container: "web",
				},
				{
					Type: ImageUnpinned, Object: webProd, Source: "base/deployment.yaml", Container: "web",
					Message: "Image: docker.io/library/nginx:latest has no approved digest in Git (no entry in images.lock, no pinned digest); registry serves sha256:bbbbbbbbbbbb…",
					Image:   &Image{Ref: "docker.io/library/nginx:latest", Resolved: served},
				},
				{
					Type: PolicyViolation, Object: ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "prod", Name: "debug"}, Source: "base/debug-pod.yaml",
					Message: "Sharing the host's network namespace is disallowed (hostNetwork: true).", Rule: "disallow-host-namespaces-and-paths", Severity: "critical", Where: WhereDesired,
				},
			},
		},
	}
	objects := map[string]int{"clean": 12, "clean-local-folder": 3, "image-edited-by-kubectl-set": 1, "mixed-drift": 9, "check-failed": 5}
	for name, r := range out {
		r.APIVersion, r.Kind = APIVersion, Kind
		for i := range r.Findings {
			if r.Findings[i].Type == Modified && r.Findings[i].Message == "" {
				r.Findings[i].Message = DescribeFields(r.Findings[i].Fields)
			}
		}
		r.Finalize(objects[name])
	}
	return out
}

// golden compares got with testdata/<scenario>/<file>, or rewrites the file under -update.
func golden(t *testing.T, scenario, file string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", scenario, file)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s (-want +got):\n%s", path, d)
	}
}

func TestWriteGolden(t *testing.T) {
	writers := []struct {
		file  string
		write func(*bytes.Buffer, *Report) error
	}{
		{"drift.golden.txt", func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) }},
		{"check.golden.txt", func(b *bytes.Buffer, r *Report) error { return WriteCheckText(b, r) }},
		{"report.golden.json", func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }},
	}
	for name, r := range scenarios() {
		for _, w := range writers {
			t.Run(name+"/"+w.file, func(t *testing.T) {
				var buf bytes.Buffer
				if err := w.write(&buf, r); err != nil {
					t.Fatal(err)
				}
				golden(t, name, w.file, buf.Bytes())
			})
		}
	}
}

// The lines a person reads must not depend on a golden file that -update could rewrite wrongly:
// these are spelled out here.
func TestWriteTextLines(t *testing.T) {
	tests := []struct {
		name     string
		scenario string
		write    func(*bytes.Buffer, *Report) error
		want     string
	}{
		{
			name:     "clean drift report",
			scenario: "clean",
			write:    func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) },
			want:     "No drift: 12 objects match https://github.com/acme/deploy.git//clusters/prod@4f2c9e1ab3d0.\n",
		},
		{
			name:     "clean check report",
			scenario: "clean",
			write:    func(b *bytes.Buffer, r *Report) error { return WriteCheckText(b, r) },
			want:     "Passed: the 12 objects of https://github.com/acme/deploy.git//clusters/prod@4f2c9e1ab3d0 pass the policy and image checks.\n",
		},
		{
			name:     "clean report of a local folder",
			scenario: "clean-local-folder",
			write:    func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) },
			want:     "No drift: 3 objects match ./deploy.\n",
		},
		{
			name:     "image set to latest by kubectl set, then a policy violation",
			scenario: "image-edited-by-kubectl-set",
			write:    func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) },
			want: `Drift detected: Deployment 'nginx-deployment' in namespace 'default'
  Reason: Image changed from 'nginx:1.21.0' to 'nginx:latest' (by kubectl-set at 2026-11-28T22:47:27Z)
  Policy Violation: Use of 'latest' tag is disallowed. (container nginx) [disallow-latest-tag, high]

2 findings on 1 object compared with https://github.com/acme/deploy.git//apps/nginx@9b1d0c3e (1 Modified, 1 PolicyViolation); policy violations: 1 high.
`,
		},
		{
			name:     "every kind of line",
			scenario: "mixed-drift",
			write:    func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) },
			want: `Drift detected: ClusterRole 'debug-all'
  Reason: Not declared in Git: created in the cluster by kubectl-create at 2026-11-28T21:02:11Z

Drift detected: ConfigMap 'old-flags' in namespace 'prod'
  Reason: No longer declared in Git, but it carries plumbline.dev/source=prod-apps

Drift detected: Deployment 'api' in namespace 'prod'
  Reason: Declared in Git but absent from the cluster
  Declared in: apps/api/deployment.yaml

Drift detected: Deployment 'web' in namespace 'prod'
  Reason: Replicas changed from 3 to 5 (by kubectl-scale at 2026-11-29T08:15:00Z)
  Reason: Field .spec.template.spec.containers[name="web"].env[name="DEBUG"] added in the cluster but not declared in Git: {"name":"DEBUG","value":"true"} (by kubectl-edit)
  Reason: Field .spec.template.spec.containers[name="web"].resources removed in the cluster (Git declares {"limits":{"cpu":"500m","memory":"256Mi"}})
  Image: registry.example.com/team/web:1.4.2 was rebuilt under the same tag: approved sha256:aaaaaaaaaaaa…, registry now serves sha256:bbbbbbbbbbbb… (3 layers changed)
  Image: registry.example.com/team/web:1.4.2: pods web-7d4b9c-x2x9q, web-7d4b9c-zk2lp run sha256:bbbbbbbbbbbb…, which is not the approved sha256:aaaaaaaaaaaa…
  Policy Violation: Privileged containers are disallowed. (container debug) [disallow-privileged, critical]
  Policy Violation: Root filesystem must be read-only: set securityContext.readOnlyRootFilesystem to true. (container web) [require-read-only-root-fs, high]
  Policy Violation: Use of 'latest' tag is disallowed. (container web) [disallow-latest-tag, high]

Drift detected: Secret 'db-credentials' in namespace 'prod'
  Reason: Secret value .data.password differs from Git (values masked) (by kubectl-edit at 2026-11-28T22:47:27Z)
  Reason: Secret value .data.token added in the cluster but not declared in Git (value masked) (by kubectl-edit at 2026-11-28T22:47:27Z)

Error: registry.example.com/team/worker:2.3: resolve: GET https://registry.example.com/v2/team/worker/manifests/2.3: 503 Service Unavailable
Error: Deployment 'worker' in namespace 'prod': dry-run apply: admission webhook "validate.kyverno.svc" denied the request
10 findings on 9 objects compared with https://github.com/acme/deploy.git//clusters/prod@4f2c9e1ab3d0 (2 Modified, 1 Missing, 2 Extra, 1 ImageTagMutated, 1 RunningImageMismatch, 3 PolicyViolation); policy violations: 1 critical, 2 high; 2 errors.
`,
		},
		{
			name:     "check report names the declaring file",
			scenario: "check-failed",
			write:    func(b *bytes.Buffer, r *Report) error { return WriteCheckText(b, r) },
			want: `Check failed: Deployment 'web' in namespace 'prod' (base/deployment.yaml)
  Image: docker.io/library/nginx:latest has no approved digest in Git (no entry in images.lock, no pinned digest); registry serves sha256:bbbbbbbbbbbb…
  Policy Violation: Use of 'latest' tag is disallowed. (container web) [disallow-latest-tag, high]

Check failed: Pod 'debug' in namespace 'prod' (base/debug-pod.yaml)
  Policy Violation: Sharing the host's network namespace is disallowed (hostNetwork: true). [disallow-host-namespaces-and-paths, critical]

3 findings on 5 objects compared with base (1 ImageUnpinned, 2 PolicyViolation); policy violations: 1 critical, 1 high.
`,
		},
	}
	reports := scenarios()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.write(&buf, reports[tt.scenario]); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, buf.String()); d != "" {
				t.Errorf("text (-want +got):\n%s", d)
			}
		})
	}
}

// TestWriteJSONShape pins the parts of the JSON contract that consumers rely on, independently
// of the golden file.
func TestWriteJSONShape(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, scenarios()["mixed-drift"]); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Source     map[string]any    `json:"source"`
		Summary    map[string]any    `json:"summary"`
		Findings   []json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	findings := make([]map[string]any, len(doc.Findings))
	for i, raw := range doc.Findings {
		if err := json.Unmarshal(raw, &findings[i]); err != nil {
			t.Fatal(err)
		}
	}
	byKey := func(typ, kind string) map[string]any {
		for _, f := range findings {
			if f["type"] == typ && f["object"].(map[string]any)["kind"] == kind {
				return f
			}
		}
		t.Fatalf("no %s finding on a %s", typ, kind)
		return nil
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"apiVersion", doc.APIVersion, "plumbline.dev/v1alpha1"},
		{"kind", doc.Kind, "DriftReport"},
		{"source", doc.Source, map[string]any{
			"repo": "https://github.com/acme/deploy.git", "ref": "main",
			"revision": "4f2c9e1ab3d07c55e0d6a8b1f2c3d4e5f6a7b8c9", "path": "clusters/prod",
		}},
		{"summary", doc.Summary, map[string]any{
			"objects": 9.0, "findings": 10.0, "errors": 2.0,
			"byType": map[string]any{
				"Modified": 2.0, "Missing": 1.0, "Extra": 2.0, "ImageTagMutated": 1.0,
				"RunningImageMismatch": 1.0, "PolicyViolation": 3.0,
			},
		}},
		// The text converts times to UTC; JSON keeps the zone it is given (diff hands over UTC).
		{"replicas stay numbers, with manager and time", byKey("Modified", "Deployment")["fields"].([]any)[0], map[string]any{
			"path": ".spec.replicas", "desired": 3.0, "live": 5.0, "manager": "kubectl-scale", "time": "2026-11-29T09:15:00+01:00",
		}},
		{"an added field has desired null", byKey("Modified", "Deployment")["fields"].([]any)[1], map[string]any{
			"path":    `.spec.template.spec.containers[name="web"].env[name="DEBUG"]`,
			"desired": nil, "live": map[string]any{"name": "DEBUG", "value": "true"}, "manager": "kubectl-edit",
		}},
		{"masked fields say so", byKey("Modified", "Secret")["fields"].([]any)[0], map[string]any{
			"path": ".data.password", "desired": "[masked]", "live": "[masked: differs from Git]",
			"manager": "kubectl-edit", "time": "2026-11-28T22:47:27Z", "masked": true,
		}},
		{"a Missing finding has reason \"\" and its file", byKey("Missing", "Deployment"), map[string]any{
			"type": "Missing", "reason": "", "message": "Declared in Git but absent from the cluster",
			"object":     map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "prod", "name": "api"},
			"sourceFile": "apps/api/deployment.yaml",
		}},
		{"a cluster-scoped object has no namespace", byKey("Extra", "ClusterRole")["object"], map[string]any{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "name": "debug-all",
		}},
		{"an Extra finding carries its reason", byKey("Extra", "ConfigMap")["reason"], "pruned-from-git"},
		{"a mutated tag carries its image", byKey("ImageTagMutated", "Deployment")["image"], map[string]any{
			"ref": "registry.example.com/team/web:1.4.2", "approved": approved, "resolved": served, "layersChanged": 3.0,
		}},
		{"a running mismatch lists digests with their pods", byKey("RunningImageMismatch", "Deployment")["image"], map[string]any{
			"ref": "registry.example.com/team/web:1.4.2", "approved": approved,
			"running": []any{map[string]any{"digest": served, "pods": []any{"web-7d4b9c-x2x9q", "web-7d4b9c-zk2lp"}}},
		}},
		{"a policy violation carries rule, severity, where and container", byKey("PolicyViolation", "Deployment"), map[string]any{
			"type": "PolicyViolation", "reason": "", "message": "Privileged containers are disallowed.",
			"object": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "prod", "name": "web"},
			"rule":   "disallow-privileged", "severity": "critical", "where": "live", "container": "debug",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, tt.got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

type failingWriter struct{}

var errDiskFull = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriteErrors(t *testing.T) {
	r := scenarios()["mixed-drift"]
	tests := []struct {
		name  string
		write func() error
	}{
		{"WriteText", func() error { return WriteText(failingWriter{}, r) }},
		{"WriteCheckText", func() error { return WriteCheckText(failingWriter{}, r) }},
		{"WriteJSON", func() error { return WriteJSON(failingWriter{}, r) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.write(); !errors.Is(err, errDiskFull) {
				t.Errorf("%s to a failing writer: got error %v, want %v", tt.name, err, errDiskFull)
			}
		})
	}
}

// The summary line of a report with findings says "1 object"; the line of a clean report should
// too.
func TestWriteTextCleanSingular(t *testing.T) {
	r := &Report{Source: Source{Path: "./deploy"}}
	r.Finalize(1)
	tests := []struct {
		name  string
		write func(*bytes.Buffer, *Report) error
		want  string
	}{
		{"WriteText", func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) }, "No drift: 1 object matches ./deploy.\n"},
		{"WriteCheckText", func(b *bytes.Buffer, r *Report) error { return WriteCheckText(b, r) }, "Passed: the 1 object of ./deploy passes the policy and image checks.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.write(&buf, r); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, buf.String()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
