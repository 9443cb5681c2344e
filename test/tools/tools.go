//go:build tools

// Package tools pins the test control plane: kube-apiserver, kube-controller-manager and etcd, built from the Go module
// proxy so that tests run against a real API server without downloads from outside it.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
