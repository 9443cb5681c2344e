package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/plumbline/plumbline/reconciler"
)

// demoSource is the ownership label value of the demo's objects.
const demoSource = "demo-shop"

// run tells the stories in order; each builds on the state the one before left.
func (d *demo) run(ctx context.Context) error {
	nginx := d.registry.image("team/nginx:1.21.0")
	approved, err := d.registry.push(ctx, nginx)
	if err != nil {
		return err
	}
	files := map[string]string{
		"apps/base/kustomization.yaml": demoBaseKustomization,
		"apps/base/deployment.yaml":    strings.ReplaceAll(demoDeployment, "IMAGE", nginx),
		"apps/base/service.yaml":       demoService,
		"apps/base/configmap.yaml":     demoConfigMap,
		"apps/prod/kustomization.yaml": demoProdKustomization,
	}
	sha, err := d.commit(files, "Add the shop's nginx")
	if err != nil {
		return err
	}
	diff := []string{"diff", "--repo", "file://" + d.repo, "--path", "apps/prod", "-n", d.namespace, "--source-name", demoSource}

	d.section("Set-up: Git, a registry, a cluster")
	d.say("Git repository %s (commit %s) declares a Deployment, a Service and a ConfigMap in apps/prod.", d.repo, sha)
	d.say("Registry %s serves %s as %s.", d.registry.host, nginx, approved)
	d.say("Namespace %s of your cluster holds the demo's objects; the demo deletes it when it ends.", d.namespace)
	d.say("(Every diff asks the registry for each tag: one HEAD, which registries do not count as a pull.)")
	d.say("The platform team approves the image by locking its digest and merging the lock file:")
	d.plumbline(ctx, exitOK, "images", "lock", "--path", d.path("apps/prod"))
	if _, err := d.commit(nil, "Approve nginx 1.21.0"); err != nil {
		return err
	}
	if err := d.applyFromGit(ctx); err != nil {
		return err
	}
	d.say("\nPlumbline applied apps/prod to namespace %s. Nothing has drifted:", d.namespace)
	d.expect(d.plumbline(ctx, exitOK, diff...), "No drift: 3 objects match")

	d.section("Story: an out-of-band edit in the cluster")
	if err := d.kubectl(ctx, "set", "image", "-n", d.namespace, "deployment/nginx-deployment", "nginx=nginx:latest"); err != nil {
		return err
	}
	out := d.plumbline(ctx, exitFinding, diff...)
	d.expect(out, fmt.Sprintf("Reason: Image changed from '%s' to 'nginx:latest' (by kubectl-set at ", nginx))
	d.expect(out, "Policy Violation: Use of 'latest' tag is disallowed. (container nginx) [disallow-latest-tag, high]")
	d.say("\nGit is the truth: applying it again puts the approved image back.")
	if err := d.applyFromGit(ctx); err != nil {
		return err
	}
	d.plumbline(ctx, exitOK, diff...)

	if err := d.admissionStory(ctx, diff); err != nil {
		return err
	}
	if err := d.controllerStory(ctx, nginx); err != nil {
		return err
	}
	if err := d.proposeStory(ctx); err != nil {
		return err
	}
	if err := d.activityStory(ctx); err != nil {
		return err
	}

	d.section("Story: an image rebuilt under the same tag")
	d.say("A developer rebuilds %s and pushes it under the same tag. The manifest in Git did not change.", nginx)
	rebuilt, err := d.registry.push(ctx, nginx)
	if err != nil {
		return err
	}
	d.say("The registry now serves %s. One pod already pulled it (imagePullPolicy IfNotPresent):", rebuilt)
	if err := d.runPod(ctx, "nginx-deployment-7d9c-abcde", nginx, approved); err != nil {
		return err
	}
	if err := d.runPod(ctx, "nginx-deployment-7d9c-fghij", nginx, rebuilt); err != nil {
		return err
	}
	out = d.plumbline(ctx, exitFinding, diff...)
	d.expect(out, "was rebuilt under the same tag: approved "+shortDigest(approved)+", registry now serves "+shortDigest(rebuilt)+" (1 layer changed)")
	d.expect(out, "nginx-deployment-7d9c-fghij")
	d.say("\nIf the rebuild is wanted, approving it is a lock refresh through a pull request:")
	d.plumbline(ctx, exitOK, "images", "lock", "--path", d.path("apps/prod"))
	if _, err := d.commit(nil, "Approve the rebuilt nginx 1.21.0"); err != nil {
		return err
	}
	d.expect(d.plumbline(ctx, exitFinding, diff...), "pod nginx-deployment-7d9c-abcde runs "+shortDigest(approved))

	d.section("Story: objects added and removed behind Git's back")
	if err := d.kubectl(ctx, "delete", "pod", "-n", d.namespace, "nginx-deployment-7d9c-abcde", "--wait=false"); err != nil {
		return err
	}
	if err := d.kubectl(ctx, "delete", "service", "-n", d.namespace, "nginx"); err != nil {
		return err
	}
	if err := d.kubectl(ctx, "create", "configmap", "-n", d.namespace, "debug-flags", "--from-literal=verbose=true"); err != nil {
		return err
	}
	out = d.plumbline(ctx, exitFinding, diff...)
	d.expect(out, "Drift detected: Service 'nginx' in namespace '"+d.namespace+"'\n  Reason: Declared in Git but absent from the cluster")
	d.expect(out, "Drift detected: ConfigMap 'debug-flags' in namespace '"+d.namespace+"'\n  Reason: Not declared in Git: created in the cluster by kubectl-create")

	d.section("Story: a pull request that adds a privileged container")
	d.say("'plumbline check' runs in CI on every pull request, with no cluster. On main:")
	d.plumbline(ctx, exitOK, "check", "--path", d.path("apps/prod"))
	if err := d.writePullRequest(nginx); err != nil {
		return err
	}
	d.say("\nThe pull request adds a debugging sidecar that runs privileged:")
	out = d.plumbline(ctx, exitFinding, "check", "--path", d.path("pr/apps/prod"))
	d.expect(out, "[disallow-privileged, critical]")

	if err := d.insideStory(ctx); err != nil {
		return err
	}

	if len(d.failures) > 0 {
		return fmt.Errorf("the demo did not go as the stories say:\n  %s", strings.Join(d.failures, "\n  "))
	}
	d.say("\nAll stories told.")
	return nil
}

// applyFromGit applies what apps/prod renders as Plumbline does, with its ownership label.
func (d *demo) applyFromGit(ctx context.Context) error {
	src := sourceFlags{path: d.path("apps/prod")}
	state, err := src.loadLocal(ctx)
	if err != nil {
		return err
	}
	kf := kubeFlags{namespace: d.namespace}
	cfg, ns, err := kf.config()
	if err != nil {
		return err
	}
	c, err := reconciler.NewCluster(cfg)
	if err != nil {
		return err
	}
	objs := make([]*unstructured.Unstructured, len(state.objects))
	for i, o := range state.objects {
		objs[i] = o.Object
	}
	return c.Apply(ctx, objs, reconciler.ApplyOptions{SourceName: demoSource, DefaultNamespace: ns})
}

// writePullRequest copies apps/ into pr/apps/ with a privileged sidecar added.
func (d *demo) writePullRequest(image string) error {
	for _, f := range []string{"apps/base/kustomization.yaml", "apps/base/service.yaml", "apps/base/configmap.yaml", "apps/prod/kustomization.yaml", "apps/prod/plumbline.lock.yaml"} {
		b, err := os.ReadFile(d.path(f))
		if err != nil {
			return err
		}
		if err := writeFile(d.path("pr/"+f), b); err != nil {
			return err
		}
	}
	var dep map[string]any
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(demoDeployment, "IMAGE", image)), &dep); err != nil {
		return err
	}
	spec := dep["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	spec["containers"] = append(spec["containers"].([]any), map[string]any{
		"name": "debug", "image": image, "command": []any{"sleep", "infinity"},
		"securityContext": map[string]any{"privileged": true, "allowPrivilegeEscalation": true, "readOnlyRootFilesystem": true},
		"resources":       map[string]any{"requests": map[string]any{"cpu": "10m", "memory": "16Mi"}, "limits": map[string]any{"memory": "32Mi"}},
	})
	b, err := yaml.Marshal(dep)
	if err != nil {
		return err
	}
	return writeFile(d.path("pr/apps/base/deployment.yaml"), b)
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// shortDigest abbreviates a digest as the reports do.
func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12] + "…"
	}
	return d
}

const demoBaseKustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deployment.yaml
- service.yaml
- configmap.yaml
`

const demoProdKustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../base
labels:
- pairs: {env: prod}
`

const demoDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  labels: {app: nginx}
spec:
  replicas: 3
  selector:
    matchLabels: {app: nginx}
  template:
    metadata:
      labels: {app: nginx}
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 101
      containers:
      - name: nginx
        image: IMAGE
        ports:
        - containerPort: 8080
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {memory: 128Mi}
`

const demoService = `apiVersion: v1
kind: Service
metadata:
  name: nginx
spec:
  selector: {app: nginx}
  ports:
  - port: 80
    targetPort: 8080
`

const demoConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: nginx-config
data:
  worker_processes: "2"
`
