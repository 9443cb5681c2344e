// Package manifests renders one folder of a Git checkout into the Kubernetes objects it
// declares, treating every byte of the checkout as untrusted.
//
// A folder that holds a kustomization file (kustomization.yaml, kustomization.yml or
// Kustomization) is built in-process with kustomize's krusty, with the load restrictor on and
// plugins limited to kustomize's builtins. Any other folder is read as plain YAML or JSON:
// every .yaml, .yml and .json file below it in name order, hidden files and folders left out,
// multi-document, empty documents skipped, `kind: List` (and any FooList with items)
// expanded, objects annotated config.kubernetes.io/local-config dropped as kustomize drops
// them; a subfolder that holds a kustomization file is built with kustomize. An object
// declared twice is an error.
//
// Before kustomize runs, a preflight reads every file the build will read, exactly once, and
// rejects: remote resources and bases (URLs, git and GitHub references), paths that resolve
// outside the repository root (including through symlinks), files over the size caps, YAML
// whose aliases would expand far beyond the document (alias bombs), helm charts and
// non-builtin plugins, and kustomization graphs whose estimated object count, kustomization
// count or output size exceeds the caps. Kustomize then reads only through a file system that
// serves the preflighted bytes and refuses any path outside the root, so a gap in the
// preflight still cannot read outside the root.
//
// The result is sorted by group, kind, namespace and name; each object names the file it came
// from, relative to the repository root with symlinks resolved: the YAML file that holds it,
// or the kustomization whose generator made it (for a generator merged across overlays, the
// one that first declared it). The objects carry nothing the render itself added: kustomize's
// origin annotations, switched on to find the source files, are removed again unless the
// kustomization asks for them itself, and kustomize's managed-by label is never requested.
//
// Kustomize builds are serialised process-wide, because kustomize keeps global state that is
// not safe for concurrent builds; a build abandoned after a timeout holds the slot until it
// ends.
//
// The package never fetches anything over the network, never runs git or any other program,
// never writes to the file system, never logs, and imports no other package of Plumbline.
// Kustomize itself may still print deprecation warnings to standard error.
package manifests
