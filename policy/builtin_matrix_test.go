package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// The built-in corpus is generated: one pod spec that passes every rule,
// wrapped in every workload kind, with the container under test placed in
// each container list, then broken one way per case. Real manifests live in
// testdata/ (see fixtures_test.go).

const goodDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// matrixPolicy enables every built-in (require-digest is off by default) and
// gives restrict-registries something to enforce.
const matrixPolicy = `
apiVersion: plumbline.dev/v1alpha1
kind: PolicySet
metadata: {name: matrix}
spec:
  params: {allowedRegistries: ["registry.example.com/"]}
  builtins: {require-digest: {enabled: true}}
`

type workloadCase struct {
	apiVersion, kind string
	fields           []string // path to the pod spec
}

var matrixKinds = []workloadCase{
	{"v1", "Pod", []string{"spec"}},
	{"apps/v1", "Deployment", []string{"spec", "template", "spec"}},
	{"apps/v1", "StatefulSet", []string{"spec", "template", "spec"}},
	{"apps/v1", "DaemonSet", []string{"spec", "template", "spec"}},
	{"apps/v1", "ReplicaSet", []string{"spec", "template", "spec"}},
	{"batch/v1", "Job", []string{"spec", "template", "spec"}},
	{"batch/v1", "CronJob", []string{"spec", "jobTemplate", "spec", "template", "spec"}},
	{"v1", "ReplicationController", []string{"spec", "template", "spec"}},
	{"v1", "PodTemplate", []string{"template", "spec"}},
}

func goodContainer(name string) map[string]any {
	return map[string]any{
		"name":  name,
		"image": "registry.example.com/team/app:1.2.3@" + goodDigest,
		"securityContext": map[string]any{
			"allowPrivilegeEscalation": false,
			"readOnlyRootFilesystem":   true,
			"runAsUser":                int64(1000),
		},
		"resources": map[string]any{
			"limits":   map[string]any{"memory": "128Mi"},
			"requests": map[string]any{"cpu": "100m", "memory": "64Mi"},
		},
	}
}

// podSpecWith returns a passing pod spec whose container "target" sits in
// list; other lists hold passing containers only where a pod needs them.
func podSpecWith(list containerList) map[string]any {
	spec := map[string]any{
		"securityContext": map[string]any{"runAsNonRoot": true},
		"volumes":         []any{map[string]any{"name": "tmp", "emptyDir": map[string]any{}}},
	}
	if list == listMain {
		spec["containers"] = []any{goodContainer("target")}
	} else {
		spec["containers"] = []any{goodContainer("app")}
		spec[string(list)] = []any{goodContainer("target")}
	}
	return spec
}

func wrapPodSpec(k workloadCase, spec map[string]any) *unstructured.Unstructured {
	obj := map[string]any{
		"apiVersion": k.apiVersion,
		"kind":       k.kind,
		"metadata":   map[string]any{"name": "w", "namespace": "shop"},
	}
	cur := obj
	for _, f := range k.fields[:len(k.fields)-1] {
		next, ok := cur[f].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[f] = next
		}
		cur = next
	}
	cur[k.fields[len(k.fields)-1]] = spec
	// DeepCopyJSON panics on non-JSON types: the generator must produce what
	// the manifests package produces.
	return &unstructured.Unstructured{Object: runtime.DeepCopyJSON(obj)}
}

func targetOf(spec map[string]any, list containerList) map[string]any {
	items := spec[string(list)].([]any)
	return items[len(items)-1].(map[string]any)
}

func securityContext(c map[string]any) map[string]any { return c["securityContext"].(map[string]any) }

// expect is a violation relative to the container (or pod spec) under test.
type expect struct {
	rule    RuleID
	sev     Severity
	suffix  string // field below the container or pod spec
	message string
}

// containerCase breaks the container under test one way.
type containerCase struct {
	name   string
	mutate func(c map[string]any)
	want   []expect
	exempt []containerList // lists where the case passes anyway
}

var containerCases = []containerCase{
	{name: "passes"},
	{
		name:   "latest tag with digest",
		mutate: func(c map[string]any) { c["image"] = "registry.example.com/team/app:latest@" + goodDigest },
		want:   []expect{{RuleDisallowLatestTag, SeverityHigh, ".image", "Use of 'latest' tag is disallowed."}},
	},
	{
		name:   "no tag and no digest",
		mutate: func(c map[string]any) { c["image"] = "registry.example.com/team/app" },
		want: []expect{
			{RuleDisallowLatestTag, SeverityHigh, ".image", "Use of 'latest' tag is disallowed."},
			{RuleRequireDigest, SeverityMedium, ".image", "Image 'registry.example.com/team/app' is not pinned by digest."},
		},
	},
	{
		name:   "digest without tag",
		mutate: func(c map[string]any) { c["image"] = "registry.example.com/team/app@" + goodDigest },
	},
	{
		name:   "registry outside the allowed list on a dot boundary",
		mutate: func(c map[string]any) { c["image"] = "registry.example.com.evil.io/team/app:1@" + goodDigest },
		want: []expect{{RuleRestrictRegistries, SeverityHigh, ".image",
			"Image 'registry.example.com.evil.io/team/app:1@" + goodDigest + "' is not from an allowed registry."}},
	},
	{
		name:   "docker hub short name",
		mutate: func(c map[string]any) { c["image"] = "nginx:1.27@" + goodDigest },
		want: []expect{{RuleRestrictRegistries, SeverityHigh, ".image",
			"Image 'nginx:1.27@" + goodDigest + "' is not from an allowed registry."}},
	},
	{
		name:   "tag without digest",
		mutate: func(c map[string]any) { c["image"] = "registry.example.com/team/app:1.2.3" },
		want: []expect{{RuleRequireDigest, SeverityMedium, ".image",
			"Image 'registry.example.com/team/app:1.2.3' is not pinned by digest."}},
	},
	{
		name:   "runAsNonRoot false on the container overrides the pod",
		mutate: func(c map[string]any) { securityContext(c)["runAsNonRoot"] = false },
		want: []expect{{RuleRunAsNonRoot, SeverityHigh, ".securityContext.runAsNonRoot",
			"Container must not set securityContext.runAsNonRoot to false."}},
	},
	{
		name:   "runAsUser 0",
		mutate: func(c map[string]any) { securityContext(c)["runAsUser"] = int64(0) },
		want: []expect{{RuleRunAsNonRoot, SeverityHigh, ".securityContext.runAsUser",
			"Container must not set securityContext.runAsUser to 0 (root)."}},
	},
	{
		name:   "privileged",
		mutate: func(c map[string]any) { securityContext(c)["privileged"] = true },
		want: []expect{{RuleDisallowPrivileged, SeverityCritical, ".securityContext.privileged",
			"Privileged containers are disallowed."}},
	},
	{
		name:   "allowPrivilegeEscalation unset",
		mutate: func(c map[string]any) { delete(securityContext(c), "allowPrivilegeEscalation") },
		want: []expect{{RuleDisallowPrivileged, SeverityCritical, ".securityContext.allowPrivilegeEscalation",
			"Privilege escalation must be disallowed: set securityContext.allowPrivilegeEscalation to false."}},
	},
	{
		name:   "allowPrivilegeEscalation true",
		mutate: func(c map[string]any) { securityContext(c)["allowPrivilegeEscalation"] = true },
		want: []expect{{RuleDisallowPrivileged, SeverityCritical, ".securityContext.allowPrivilegeEscalation",
			"Privilege escalation must be disallowed: set securityContext.allowPrivilegeEscalation to false."}},
	},
	{
		name:   "no memory limit",
		mutate: func(c map[string]any) { delete(c["resources"].(map[string]any), "limits") },
		want: []expect{{RuleRequireResourceLimits, SeverityMedium, ".resources",
			"Container must set resources: limits.memory."}},
		exempt: []containerList{listEphemeral},
	},
	{
		name:   "no resources",
		mutate: func(c map[string]any) { delete(c, "resources") },
		want: []expect{{RuleRequireResourceLimits, SeverityMedium, ".resources",
			"Container must set resources: limits.memory, requests.memory, requests.cpu."}},
		exempt: []containerList{listEphemeral},
	},
	{
		name: "requests defaulted from limits",
		mutate: func(c map[string]any) {
			c["resources"] = map[string]any{"limits": map[string]any{"memory": "1Gi", "cpu": "1"}}
		},
	},
	{
		name:   "no cpu request",
		mutate: func(c map[string]any) { delete(c["resources"].(map[string]any)["requests"].(map[string]any), "cpu") },
		want: []expect{{RuleRequireResourceLimits, SeverityMedium, ".resources",
			"Container must set resources: requests.cpu."}},
		exempt: []containerList{listEphemeral},
	},
	{
		name:   "writable root filesystem",
		mutate: func(c map[string]any) { securityContext(c)["readOnlyRootFilesystem"] = false },
		want: []expect{{RuleRequireReadOnlyRootFS, SeverityMedium, ".securityContext.readOnlyRootFilesystem",
			"Root filesystem must be read-only: set securityContext.readOnlyRootFilesystem to true."}},
	},
	{
		name:   "no securityContext at all",
		mutate: func(c map[string]any) { delete(c, "securityContext") },
		want: []expect{
			{RuleDisallowPrivileged, SeverityCritical, ".securityContext.allowPrivilegeEscalation",
				"Privilege escalation must be disallowed: set securityContext.allowPrivilegeEscalation to false."},
			{RuleRequireReadOnlyRootFS, SeverityMedium, ".securityContext.readOnlyRootFilesystem",
				"Root filesystem must be read-only: set securityContext.readOnlyRootFilesystem to true."},
		},
	},
}

func TestBuiltinMatrixContainers(t *testing.T) {
	engine := mustEngine(t, matrixPolicy)
	for _, k := range matrixKinds {
		for _, list := range containerLists {
			for _, tc := range containerCases {
				t.Run(k.kind+"/"+string(list)+"/"+tc.name, func(t *testing.T) {
					spec := podSpecWith(list)
					if tc.mutate != nil {
						tc.mutate(targetOf(spec, list))
					}
					var want []Violation
					if !contains(asStrings(tc.exempt), string(list)) {
						base := "." + strings.Join(k.fields, ".") + "." + string(list) + `[name="target"]`
						for _, e := range tc.want {
							want = append(want, Violation{Rule: e.rule, Severity: e.sev, Message: e.message,
								Container: "target", Path: base + e.suffix, Builtin: true})
						}
					}
					got, err := engine.Evaluate(context.Background(), Input{Object: wrapPodSpec(k, spec)})
					if err != nil {
						t.Fatalf("Evaluate: %v", err)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("violations (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

func asStrings[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

// podCase breaks the pod spec one way.
type podCase struct {
	name   string
	mutate func(spec map[string]any)
	want   []expect // container "" unless containerLevel
	// onTarget marks expectations reported on the target container.
	onTarget bool
}

func podSC(spec map[string]any) map[string]any { return spec["securityContext"].(map[string]any) }

var podCases = []podCase{
	{
		name:   "hostNetwork",
		mutate: func(s map[string]any) { s["hostNetwork"] = true },
		want: []expect{{RuleDisallowHostNamespaces, SeverityHigh, ".hostNetwork",
			"Sharing the host's network namespace is disallowed (hostNetwork: true)."}},
	},
	{
		name:   "hostPID and hostIPC",
		mutate: func(s map[string]any) { s["hostPID"] = true; s["hostIPC"] = true },
		want: []expect{
			{RuleDisallowHostNamespaces, SeverityHigh, ".hostPID", "Sharing the host's process namespace is disallowed (hostPID: true)."},
			{RuleDisallowHostNamespaces, SeverityHigh, ".hostIPC", "Sharing the host's IPC namespace is disallowed (hostIPC: true)."},
		},
	},
	{
		name:   "host namespaces set false",
		mutate: func(s map[string]any) { s["hostNetwork"], s["hostPID"], s["hostIPC"] = false, false, false },
	},
	{
		name: "hostPath volume",
		mutate: func(s map[string]any) {
			s["volumes"] = append(s["volumes"].([]any), map[string]any{"name": "docker-sock",
				"hostPath": map[string]any{"path": "/var/run/docker.sock"}})
		},
		want: []expect{{RuleDisallowHostNamespaces, SeverityHigh, `.volumes[name="docker-sock"].hostPath`,
			"hostPath volumes are disallowed (volume 'docker-sock')."}},
	},
	{
		name:   "pod runAsNonRoot false",
		mutate: func(s map[string]any) { podSC(s)["runAsNonRoot"] = false },
		want: []expect{
			{RuleRunAsNonRoot, SeverityHigh, ".securityContext.runAsNonRoot", "Pod must not set securityContext.runAsNonRoot to false."},
		},
		onTarget: false,
	},
	{
		name:   "pod runAsUser 0",
		mutate: func(s map[string]any) { podSC(s)["runAsUser"] = int64(0) },
		want: []expect{{RuleRunAsNonRoot, SeverityHigh, ".securityContext.runAsUser",
			"Pod must not set securityContext.runAsUser to 0 (root)."}},
	},
	{
		name:     "runAsNonRoot set nowhere",
		mutate:   func(s map[string]any) { delete(s, "securityContext") },
		onTarget: true,
		want: []expect{{RuleRunAsNonRoot, SeverityHigh, ".securityContext.runAsNonRoot",
			"Container may run as root: set securityContext.runAsNonRoot to true on the pod or the container."}},
	},
	{
		name: "runAsNonRoot on the container only",
		mutate: func(s map[string]any) {
			delete(s, "securityContext")
			securityContext(targetOf(s, listMain))["runAsNonRoot"] = true
		},
	},
	{
		name: "user namespace exempts root",
		mutate: func(s map[string]any) {
			s["hostUsers"] = false
			podSC(s)["runAsNonRoot"] = false
			securityContext(targetOf(s, listMain))["runAsUser"] = int64(0)
		},
	},
	{
		name: "windows pods need no allowPrivilegeEscalation or readOnlyRootFilesystem",
		mutate: func(s map[string]any) {
			s["os"] = map[string]any{"name": "windows"}
			delete(securityContext(targetOf(s, listMain)), "allowPrivilegeEscalation")
			delete(securityContext(targetOf(s, listMain)), "readOnlyRootFilesystem")
		},
	},
}

func TestBuiltinMatrixPod(t *testing.T) {
	engine := mustEngine(t, matrixPolicy)
	for _, k := range matrixKinds {
		for _, tc := range podCases {
			t.Run(k.kind+"/"+tc.name, func(t *testing.T) {
				spec := podSpecWith(listMain)
				tc.mutate(spec)
				var want []Violation
				for _, e := range tc.want {
					base, container := "."+strings.Join(k.fields, "."), ""
					if tc.onTarget {
						base, container = base+`.containers[name="target"]`, "target"
					}
					want = append(want, Violation{Rule: e.rule, Severity: e.sev, Message: e.message,
						Container: container, Path: base + e.suffix, Builtin: true})
				}
				got, err := engine.Evaluate(context.Background(), Input{Object: wrapPodSpec(k, spec)})
				if err != nil {
					t.Fatalf("Evaluate: %v", err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("violations (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestBuiltinsSkipNonWorkloads: objects without a pod spec, including a
// custom resource that borrows a workload's kind name, get no pod rules.
func TestBuiltinsSkipNonWorkloads(t *testing.T) {
	engine := mustEngine(t, matrixPolicy)
	tests := []struct {
		name     string
		manifest string
	}{
		{"ConfigMap mentioning an image", `
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: shop}
data: {image: "nginx:latest", spec: "hostNetwork: true"}`},
		{"custom resource named Deployment", `
apiVersion: example.com/v1
kind: Deployment
metadata: {name: d, namespace: shop}
spec: {template: {spec: {hostNetwork: true, containers: [{name: a, image: "nginx:latest"}]}}}`},
		{"Deployment without a template", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: shop}
spec: {replicas: 1}`},
		{"Namespace", `
apiVersion: v1
kind: Namespace
metadata: {name: shop}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := engine.Evaluate(context.Background(), Input{Object: mustObject(t, tc.manifest)})
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if diff := cmp.Diff([]Violation(nil), got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}
