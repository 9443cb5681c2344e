// Package cluster starts a real Kubernetes control plane (etcd, kube-apiserver and
// kube-controller-manager, built from the Go module proxy by `make control-plane` into test/bin)
// for tests, benchmarks and the demo. envtest starts etcd and the API server; the harness starts
// kube-controller-manager beside them with every controller on. It never downloads binaries:
// when they are missing it says which make target builds them.
//
// With the controllers, Deployments get ReplicaSets and Pods (Pending: there is no scheduler or
// kubelet), Services get Endpoints and EndpointSlices, and garbage collection and namespace
// deletion work, as on every real cluster. Tests write Pod status themselves where they need an
// imageID, and use a fresh namespace each.
package cluster
