// Package cluster starts a real Kubernetes control plane (etcd and kube-apiserver, built from
// the Go module proxy by `make control-plane` into test/bin) through controller-runtime's envtest,
// for tests, benchmarks and the demo. It never downloads binaries: when they are missing it says
// which make target builds them.
//
// The control plane has no controller-manager, scheduler or kubelet: Deployments get no Pods,
// deleted namespaces stay Terminating, and nothing garbage-collects. Tests use a fresh namespace
// each and write Pod status themselves.
package cluster
