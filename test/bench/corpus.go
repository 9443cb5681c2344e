// Package bench measures `plumbline diff` against `kubectl diff -k` on one kustomize folder of
// about 1,000 objects, against one real API server, in one run.
package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Corpus sizes: per namespace, Deployments, ConfigMaps and headless Services (envtest's service
// range would not hold 330 ClusterIP Services).
const (
	Namespaces  = 10
	Deployments = 34
	ConfigMaps  = 33
	Services    = 33
)

// Corpus describes one generated kustomize folder.
type Corpus struct {
	// Prefix names the namespaces: <prefix>-00 … <prefix>-09.
	Prefix string
	// Labels adds a labels transformer to the kustomization, so that kustomize has work to do;
	// without it the kustomization only lists resources.
	Labels bool
}

// Write writes a kustomization of Namespaces × (Deployments + ConfigMaps + Services) objects,
// one file per namespace and kind, plus the namespaces, into dir.
func (c Corpus) Write(dir string) (objects int, err error) {
	var resources []string
	for n := range Namespaces {
		ns := c.Namespace(n)
		var deps, cms, svcs strings.Builder
		fmt.Fprintf(&deps, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
		objects++
		for i := range Deployments {
			fmt.Fprintf(&deps, deploymentYAML, fmt.Sprintf("app-%02d", i), ns)
			objects++
		}
		for i := range ConfigMaps {
			fmt.Fprintf(&cms, configMapYAML, fmt.Sprintf("config-%02d", i), ns, i)
			objects++
		}
		for i := range Services {
			fmt.Fprintf(&svcs, serviceYAML, fmt.Sprintf("app-%02d", i), ns)
			objects++
		}
		for kind, body := range map[string]string{"deployments": deps.String(), "configmaps": cms.String(), "services": svcs.String()} {
			name := ns + "-" + kind + ".yaml"
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				return 0, err
			}
			resources = append(resources, name)
		}
	}
	kustomization := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
	if c.Labels {
		kustomization = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nlabels:\n- pairs: {team: platform, cost-center: cc-1234}\nresources:\n"
	}
	for _, r := range resources {
		kustomization += "- " + r + "\n"
	}
	return objects, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o644)
}

// Namespace returns the name of the n-th namespace.
func (c Corpus) Namespace(n int) string { return fmt.Sprintf("%s-%02d", c.Prefix, n) }

const deploymentYAML = `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  namespace: %[2]s
  labels: {app: %[1]s, tier: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s, tier: web}
    spec:
      containers:
      - name: app
        image: registry.example.com/team/%[1]s:1.4.2
        ports:
        - containerPort: 8080
          name: http
        env:
        - name: LOG_LEVEL
          value: info
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: 500m, memory: 256Mi}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
`

const configMapYAML = `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: %[1]s
  namespace: %[2]s
data:
  index: "%[3]d"
  settings.yaml: |
    feature: enabled
    timeout: 30s
`

const serviceYAML = `---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: %[2]s
spec:
  clusterIP: None
  selector: {app: %[1]s}
  ports:
  - name: http
    port: 80
    targetPort: http
`
