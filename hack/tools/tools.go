//go:build tools

// Package tools pins the code generators: controller-gen writes the Source CRD and its
// deepcopy functions from the Go types in api/v1alpha1 (`make generate`).
package tools

import _ "sigs.k8s.io/controller-tools/cmd/controller-gen"
