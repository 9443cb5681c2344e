package policy

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// benchPolicy enables every built-in and adds 10 CEL policies of the kinds
// teams write: labels, replicas, images, quantities, regexes, optionals.
const benchPolicy = `
apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
metadata: {name: bench}
spec:
  params:
    allowedRegistries: ["registry.example.com/", "ghcr.io/acme/"]
    maxReplicas: 20
    teams: [storefront, payments, platform]
  builtins: {require-digest: {enabled: true}}
  policies:
  - name: team-label
    match: {namespaces: ["prod-*"]}
    validations:
    - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
      messageExpression: "object.kind + ' ' + object.metadata.name + ' has no team label'"
  - name: known-team
    validations:
    - expression: "object.?metadata.?labels.?team.orValue('platform') in params.teams"
  - name: replicas-capped
    match: {apiGroups: ["apps"]}
    validations:
    - expression: "!has(object.spec.replicas) || object.spec.replicas <= params.maxReplicas"
  - name: memory-at-most-2gi
    validations:
    - expression: "podSpec == null || podSpec.containers.all(c, quantity(c.?resources.?limits.?memory.orValue('0')).compareTo(quantity('2Gi')) <= 0)"
  - name: dns-names
    validations:
    - expression: "object.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')"
  - name: no-default-namespace
    validations:
    - expression: "object.metadata.namespace != 'default'"
  - name: images-pinned-in-prod
    match: {namespaces: ["prod-*"]}
    validations:
    - expression: "images.all(i, i.digest != '' || i.approved != '')"
  - name: probes
    match: {kinds: ["Deployment", "StatefulSet"]}
    validations:
    - expression: "podSpec.containers.all(c, has(c.readinessProbe))"
  - name: app-label-matches
    match: {kinds: ["Deployment"]}
    validations:
    - expression: "object.spec.template.metadata.labels.app == object.metadata.name"
  - name: cronjob-concurrency
    match: {kinds: ["CronJob"]}
    validations:
    - expression: "object.spec.?concurrencyPolicy.orValue('Allow') != 'Allow'"
`

// renderedWorkloads builds n workloads across the workload kinds, each with
// an init container and two containers; a third violate something.
func renderedWorkloads(b *testing.B, n int) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, n)
	for i := range n {
		k := matrixKinds[i%7] // the seven main kinds
		spec := podSpecWith(listInit)
		c := goodContainer("sidecar")
		c["readinessProbe"] = map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": int64(8080)}}
		spec["containers"] = append(spec["containers"].([]any), c)
		if i%3 == 0 {
			c["image"] = fmt.Sprintf("nginx:%d", i%5)
			delete(c, "resources")
		}
		obj := wrapPodSpec(k, spec)
		obj.SetName(fmt.Sprintf("app-%d", i))
		obj.SetNamespace([]string{"prod-eu", "prod-us", "staging"}[i%3])
		obj.SetLabels(map[string]string{"app": obj.GetName(), "team": "storefront"})
		if k.kind == "Deployment" {
			if err := unstructured.SetNestedField(obj.Object, map[string]any{"labels": map[string]any{"app": obj.GetName()}}, "spec", "template", "metadata"); err != nil {
				b.Fatal(err)
			}
		}
		out = append(out, obj)
	}
	return out
}

// BenchmarkEvaluate10kWorkloads checks 10,000 rendered workloads against
// every built-in and 10 CEL policies; one op is the whole 10,000.
// Target: under 1 s per op with GOMAXPROCS=1.
func BenchmarkEvaluate10kWorkloads(b *testing.B) {
	engine := mustEngine(b, benchPolicy)
	objs := renderedWorkloads(b, 10_000)
	var violations int
	for b.Loop() {
		violations = 0
		for _, obj := range objs {
			vs, err := engine.Evaluate(context.Background(), Input{Object: obj})
			if err != nil {
				b.Fatal(err)
			}
			violations += len(vs)
		}
	}
	b.ReportMetric(float64(violations), "violations/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(objs)), "ns/workload")
}
