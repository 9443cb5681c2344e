// Package v1alpha1 is the API of Plumbline's controller: the namespaced Source custom resource
// (plumbline.dev/v1alpha1), which says what Git repository and folder to keep the cluster plumb
// with and what to do about each kind of drift, and whose status shows what the controller saw.
//
// The Go types carry kubebuilder markers; `make generate` runs controller-gen over them to write
// zz_generated.deepcopy.go and the CRD in deploy/crd/. Nothing here is written by hand that the
// generator can write. The package imports nothing else of the project.
//
// +kubebuilder:object:generate=true
// +groupName=plumbline.dev
package v1alpha1
