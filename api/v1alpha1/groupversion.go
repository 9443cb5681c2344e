package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of the Source kind.
var GroupVersion = schema.GroupVersion{Group: "plumbline.dev", Version: "v1alpha1"}

var (
	// SchemeBuilder registers the package's kinds with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds Source and SourceList to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Source{}, &SourceList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
