package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// celPolicyFile wraps a spec.policies block (and optional params) in a
// policy file with every built-in disabled, so only CEL speaks.
func celPolicyFile(params, policies string) string {
	return `apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
metadata: {name: cel}
spec:
  params: ` + params + `
  builtins:
    disallow-latest-tag: {enabled: false}
    restrict-registries: {enabled: false}
    run-as-non-root: {enabled: false}
    disallow-privileged: {enabled: false}
    require-resource-limits: {enabled: false}
    require-read-only-root-fs: {enabled: false}
    disallow-host-namespaces-and-paths: {enabled: false}
  policies:
` + policies
}

func TestCELCompileErrors(t *testing.T) {
	tests := []struct {
		name     string
		policies string
		wantErr  string // prefix of the error
	}{
		{
			name: "syntax error names file line, policy, expression and position",
			policies: `  - name: broken
    validations:
    - expression: "object.metadata.name =="
`,
			wantErr: `policy.yaml:17: policy "broken": validations[0].expression "object.metadata.name ==": at 1:24: Syntax error: mismatched input '<EOF>'`,
		},
		{
			name: "error on the second line of a block expression",
			policies: `  - name: multi-line
    validations:
    - expression: |
        has(object.spec) &&
          objekt.spec.replicas > 0
`,
			wantErr: `policy.yaml:19: policy "multi-line": validations[0].expression "has(object.spec) &&\n  objekt.spec.replicas > 0\n": at 2:3: undeclared reference to 'objekt'`,
		},
		{
			name: "expression must be bool",
			policies: `  - name: not-bool
    validations:
    - expression: "size(object.metadata.name) + 1"
`,
			wantErr: `policy.yaml:17: policy "not-bool": validations[0].expression "size(object.metadata.name) + 1": at 1:1: must evaluate to bool, not int`,
		},
		{
			name: "messageExpression must be string",
			policies: `  - name: msg-not-string
    validations:
    - expression: "true"
      messageExpression: "1 + 1"
`,
			wantErr: `policy.yaml:18: policy "msg-not-string": validations[0].messageExpression "1 + 1": at 1:1: must evaluate to string, not int`,
		},
		{
			name: "bad regex literal",
			policies: `  - name: bad-regex
    validations:
    - expression: "object.metadata.name.matches('[')"
`,
			wantErr: `policy.yaml:17: policy "bad-regex": validations[0].expression "object.metadata.name.matches('[')": at 1:30: invalid matches argument`,
		},
		{
			name: "estimated cost over the limit",
			policies: `  - name: cubic
    validations:
    - expression: "object.spec.items.all(a, object.spec.items.all(b, object.spec.items.all(c, a == b || b == c)))"
`,
			wantErr: `policy.yaml:17: policy "cubic": validations[0].expression "object.spec.items.all(a, object.spec.items.all(b, object.spec.items.all(c, a == b || b == c)))": ` +
				`at 1:22: estimated cost 27050502 exceeds the cost limit 1000000`,
		},
		{
			name: "second validation is named",
			policies: `  - name: second
    validations:
    - expression: "true"
    - expression: "oldObject.metadata.name = 'x'"
`,
			wantErr: `policy.yaml:18: policy "second": validations[1].expression "oldObject.metadata.name = 'x'": at 1:25: Syntax error`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := ParsePolicySet([]byte(celPolicyFile("{}", tc.policies)), "policy.yaml")
			if err != nil {
				t.Fatalf("ParsePolicySet: %v", err)
			}
			_, err = NewEngine(ps)
			if err == nil {
				t.Fatal("NewEngine succeeded, want a compile error")
			}
			if !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("error:\n got %s\nwant prefix %s", err, tc.wantErr)
			}
		})
	}
}

const (
	deploymentProd = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod-eu, labels: {app: web}}
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: nginx
        image: nginx:latest
        resources: {limits: {memory: 2Gi}}
      - name: sidecar
        image: ghcr.io/acme/sidecar:1.0
        resources: {limits: {memory: 512Mi}}`
	deploymentStaging = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: staging}
spec: {template: {spec: {containers: [{name: app, image: ghcr.io/acme/app:1}]}}}`
	cronJob = `
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup, namespace: prod-eu}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: backup, image: "docker.io/library/postgres:16"}]`
	statefulSet = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: prod-eu}
spec: {template: {spec: {containers: [{name: db, image: ghcr.io/acme/db:1}]}}}`
	namespaceObj = `
apiVersion: v1
kind: Namespace
metadata: {name: prod-eu}`
	configMap = `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: prod-eu}
data: {mode: fast}`
)

func TestCELEvaluate(t *testing.T) {
	type input struct {
		object, old string
		images      []ImageFacts
	}
	cel := func(name, msg string) Violation {
		return Violation{Rule: RuleID(name), Severity: SeverityMedium, Message: msg}
	}
	tests := []struct {
		name     string
		params   string
		policies string
		in       input
		want     []Violation
		wantErr  string // substring
	}{
		{
			name: "messageExpression builds the message",
			policies: `  - name: team-label-required
    match: {kinds: ["Deployment"], namespaces: ["prod-*"]}
    validations:
    - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
      messageExpression: "'Deployment ' + object.metadata.name + ' has no team label'"
`,
			in:   input{object: deploymentProd},
			want: []Violation{cel("team-label-required", "Deployment web has no team label")},
		},
		{
			name: "static message and severity",
			policies: `  - name: few-replicas
    severity: critical
    validations:
    - expression: "object.spec.replicas <= 2"
      message: Too many replicas.
`,
			in:   input{object: deploymentProd},
			want: []Violation{{Rule: "few-replicas", Severity: SeverityCritical, Message: "Too many replicas."}},
		},
		{
			name: "default message names the expression",
			policies: `  - name: few-replicas
    validations:
    - expression: "object.spec.replicas <= 2"
`,
			in:   input{object: deploymentProd},
			want: []Violation{cel("few-replicas", "failed expression: object.spec.replicas <= 2")},
		},
		{
			name: "empty messageExpression falls back to message",
			policies: `  - name: fallback
    validations:
    - expression: "false"
      message: static
      messageExpression: "'  '"
`,
			in:   input{object: deploymentProd},
			want: []Violation{cel("fallback", "static")},
		},
		{
			name: "a passing expression yields nothing",
			policies: `  - name: has-name
    validations:
    - expression: "object.metadata.name != ''"
`,
			in: input{object: deploymentProd},
		},
		{
			name: "match by kind skips other kinds",
			policies: `  - name: deployments-only
    match: {kinds: ["Deployment"]}
    validations: [{expression: "false", message: m}]
`,
			in: input{object: statefulSet},
		},
		{
			name: "namespace glob does not match staging",
			policies: `  - name: prod-only
    match: {namespaces: ["prod-*"]}
    validations: [{expression: "false", message: m}]
`,
			in: input{object: deploymentStaging},
		},
		{
			name: "namespace glob matches prod-eu",
			policies: `  - name: prod-only
    match: {namespaces: ["prod-*"]}
    validations: [{expression: "false", message: m}]
`,
			in:   input{object: deploymentProd},
			want: []Violation{cel("prod-only", "m")},
		},
		{
			name: "namespace star does not match a cluster-scoped object",
			policies: `  - name: namespaced
    match: {namespaces: ["*"]}
    validations: [{expression: "false", message: m}]
`,
			in: input{object: namespaceObj},
		},
		{
			name: "no namespaces matches a cluster-scoped object",
			policies: `  - name: everything
    validations: [{expression: "false", message: m}]
`,
			in:   input{object: namespaceObj},
			want: []Violation{cel("everything", "m")},
		},
		{
			name: "apiGroups skips the batch group",
			policies: `  - name: apps-only
    match: {apiGroups: ["apps"]}
    validations: [{expression: "false", message: m}]
`,
			in: input{object: cronJob},
		},
		{
			name: "oldObject is null without a live object",
			policies: `  - name: no-shrink
    validations:
    - expression: "oldObject == null || object.spec.replicas >= oldObject.spec.replicas"
      messageExpression: "'replicas shrink from ' + string(oldObject.spec.replicas)"
`,
			in: input{object: deploymentProd},
		},
		{
			name: "oldObject is the live object",
			policies: `  - name: no-shrink
    validations:
    - expression: "oldObject == null || object.spec.replicas >= oldObject.spec.replicas"
      messageExpression: "'replicas shrink from ' + string(oldObject.spec.replicas)"
`,
			in:   input{object: deploymentProd, old: strings.Replace(deploymentProd, "replicas: 3", "replicas: 5", 1)},
			want: []Violation{cel("no-shrink", "replicas shrink from 5")},
		},
		{
			name: "podSpec from a CronJob",
			policies: `  - name: internal-images
    validations:
    - expression: "podSpec == null || podSpec.containers.all(c, c.image.startsWith('ghcr.io/acme/'))"
      messageExpression: "'restartPolicy ' + podSpec.restartPolicy + ', image ' + podSpec.containers[0].image"
`,
			in:   input{object: cronJob},
			want: []Violation{cel("internal-images", "restartPolicy OnFailure, image docker.io/library/postgres:16")},
		},
		{
			name: "podSpec is null for a ConfigMap",
			policies: `  - name: no-pod
    validations: [{expression: "podSpec == null && images == []"}]
`,
			in: input{object: configMap},
		},
		{
			name: "images derived from image strings",
			policies: `  - name: no-hub-latest
    validations:
    - expression: "!images.exists(i, i.registry == 'index.docker.io' && i.repository == 'library/nginx' && i.tag == 'latest')"
      messageExpression: "images.map(i, i.container + '=' + i.registry + '/' + i.repository + ':' + i.tag).join(', ')"
`,
			in: input{object: deploymentProd},
			want: []Violation{cel("no-hub-latest",
				"nginx=index.docker.io/library/nginx:latest, sidecar=ghcr.io/acme/sidecar:1.0")},
		},
		{
			name: "images facts from the caller",
			policies: `  - name: tag-not-moved
    validations:
    - expression: "images.all(i, i.approved == '' || (i.resolved == i.approved && i.running.all(r, r == i.approved)))"
      messageExpression: "'moved: ' + images.filter(i, i.approved != '' && i.resolved != i.approved).map(i, i.container).join(', ')"
`,
			in: input{object: deploymentProd, images: []ImageFacts{
				{Container: "sidecar", Approved: "sha256:aaa", Resolved: "sha256:bbb", Running: []string{"sha256:aaa"}},
			}},
			want: []Violation{cel("tag-not-moved", "moved: sidecar")},
		},
		{
			name: "caller facts for a non-workload are completed",
			policies: `  - name: cr-images
    validations:
    - expression: "images.all(i, i.registry == 'ghcr.io')"
      messageExpression: "images.map(i, i.container + ' ' + i.registry + '/' + i.repository + ':' + i.tag).join(', ')"
`,
			in:   input{object: configMap, images: []ImageFacts{{Container: "chart", Image: "redis:7"}}},
			want: []Violation{cel("cr-images", "chart index.docker.io/library/redis:7")},
		},
		{
			name: "quantity library",
			policies: `  - name: memory-at-most-1gi
    validations:
    - expression: "podSpec.containers.all(c, quantity(c.resources.limits.memory).compareTo(quantity('1Gi')) <= 0)"
      messageExpression: "podSpec.containers.filter(c, quantity(c.resources.limits.memory).isGreaterThan(quantity('1Gi'))).map(c, c.name).join(',')"
`,
			in:   input{object: deploymentProd},
			want: []Violation{cel("memory-at-most-1gi", "nginx")},
		},
		{
			name: "regex library",
			policies: `  - name: dns-label
    validations:
    - expression: "object.metadata.name.matches('^[a-z]+(-[a-z]+)*$')"
      messageExpression: "'bad part: ' + object.metadata.name.find('[^a-z-]+')"
`,
			in:   input{object: strings.Replace(deploymentProd, "name: web,", "name: Web_1,", 1)},
			want: []Violation{cel("dns-label", "bad part: W")},
		},
		{
			name: "optionals, sets and lists",
			policies: `  - name: libraries
    validations:
    - expression: "object.?metadata.?labels.?team.orValue('none') == 'none' && sets.contains(['a', 'b'], ['a']) && [3, 1, 2].sort() == [1, 2, 3]"
`,
			in: input{object: deploymentProd},
		},
		{
			name:   "params reach CEL",
			params: `{allowedNamespaces: [staging]}`,
			policies: `  - name: namespaces
    validations:
    - expression: "object.metadata.namespace in params.allowedNamespaces"
`,
			in:   input{object: deploymentProd},
			want: []Violation{cel("namespaces", "failed expression: object.metadata.namespace in params.allowedNamespaces")},
		},
		{
			name: "evaluation error is returned, not a pass",
			policies: `  - name: missing-field
    validations:
    - expression: "object.spec.strategy.type == 'Recreate'"
`,
			in:      input{object: deploymentProd},
			wantErr: `Deployment/prod-eu/web: policy "missing-field": validations[0] "object.spec.strategy.type == 'Recreate'": no such key: strategy`,
		},
		{
			name: "dyn expression that is not a bool is an error",
			policies: `  - name: not-bool
    validations:
    - expression: "object.metadata.name"
`,
			in:      input{object: deploymentProd},
			wantErr: `Deployment/prod-eu/web: policy "not-bool": validations[0] "object.metadata.name": evaluated to string, want bool`,
		},
		{
			name: "messageExpression error still reports the violation",
			policies: `  - name: broken-message
    validations:
    - expression: "false"
      message: static
      messageExpression: "object.spec.nothing"
`,
			in:      input{object: deploymentProd},
			want:    []Violation{cel("broken-message", "static")},
			wantErr: `Deployment/prod-eu/web: policy "broken-message": validations[0] "false": messageExpression: no such key: nothing`,
		},
		{
			// Whichever of the cost limit and ExpressionTimeout comes first stops it: cel-go's
			// cost tracker slows down quadratically here, so on a slow machine it is the time.
			name:   "runtime cost or time limit",
			params: `{items: [` + strings.Repeat("1, ", 1999) + `1]}`,
			policies: `  - name: quadratic
    validations:
    - expression: "params.items.all(a, params.items.all(b, a == b))"
`,
			in:      input{object: deploymentProd},
			wantErr: `Deployment/prod-eu/web: policy "quadratic": validations[0] "params.items.all(a, params.items.all(b, a == b))": operation `,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := tc.params
			if params == "" {
				params = "{}"
			}
			engine := mustEngine(t, celPolicyFile(params, tc.policies))
			in := Input{Object: mustObject(t, tc.in.object), Images: tc.in.images}
			if tc.in.old != "" {
				in.OldObject = mustObject(t, tc.in.old)
			}
			got, err := engine.Evaluate(context.Background(), in)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Evaluate: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Evaluate error = %v, want it to contain %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}
