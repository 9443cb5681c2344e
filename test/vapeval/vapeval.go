// Package vapeval evaluates ValidatingAdmissionPolicies in-process with the API server's own
// admission plugin (k8s.io/apiserver/pkg/admission/plugin/policy/validating): the same
// matching, CEL compiler, variables, messages and validation actions that kube-apiserver
// runs, fed from a fake clientset instead of a watch. Tests use it where a real API server
// is too slow (tens of thousands of objects); a sample through the real server shows the two
// agree. It reaches no room of the product.
package vapeval

import (
	"context"
	"fmt"
	"sync"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/warning"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
)

// Evaluator admits requests against a fixed set of policies and bindings.
type Evaluator struct {
	plugin *validating.Plugin
	ifaces admission.ObjectInterfaces
	stop   chan struct{}
}

// New starts an Evaluator over the policies, bindings and namespaces (which namespace
// selectors read). Close it with Close.
func New(policies []admv1.ValidatingAdmissionPolicy, bindings []admv1.ValidatingAdmissionPolicyBinding, namespaces ...string) (*Evaluator, error) {
	var objs []runtime.Object
	for i := range policies {
		objs = append(objs, policies[i].DeepCopy())
	}
	for i := range bindings {
		objs = append(objs, bindings[i].DeepCopy())
	}
	for _, ns := range namespaces {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{"kubernetes.io/metadata.name": ns}}})
	}
	client := fake.NewSimpleClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	p, err := validating.NewPlugin(nil)
	if err != nil {
		return nil, err
	}
	stop := make(chan struct{})
	p.SetExternalKubeClientSet(client)
	p.SetExternalKubeInformerFactory(factory)
	p.SetRESTMapper(meta.NewDefaultRESTMapper(nil))
	p.SetDynamicClient(dynamicfake.NewSimpleDynamicClient(runtime.NewScheme()))
	p.SetDrainedNotification(stop)
	p.SetUnconditionalAuthorizer(authorizerfactory.NewAlwaysAllowAuthorizer())
	if err := p.ValidateInitialization(); err != nil {
		close(stop)
		return nil, err
	}
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	e := &Evaluator{plugin: p, ifaces: admission.NewObjectInterfacesFromScheme(scheme.Scheme), stop: stop}
	// The policy source compiles on its own goroutine: wait until every policy is in force.
	deadline := time.Now().Add(30 * time.Second)
	for !p.WaitForReady() {
		if time.Now().After(deadline) {
			e.Close()
			return nil, fmt.Errorf("vapeval: the plugin did not become ready")
		}
	}
	return e, nil
}

// Close stops the Evaluator's informers.
func (e *Evaluator) Close() { close(e.stop) }

// Request is one admission request.
type Request struct {
	Operation         admission.Operation
	Object, OldObject *unstructured.Unstructured
	// Resource and Kind are the request's; SubResource is "" for the main resource.
	Resource    schema.GroupVersionResource
	Kind        schema.GroupVersionKind
	SubResource string
	Namespace   string
	Name        string
	User        user.Info
	// DryRun marks a dry-run request.
	DryRun bool
}

// Result is the plugin's answer: the error a client sees (nil when admitted) and the warnings
// of Warn actions.
type Result struct {
	Err      error
	Warnings []string
}

type recorder struct {
	mu       sync.Mutex
	warnings []string
}

func (r *recorder) AddWarning(_, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, text)
}

// Admit runs the request through the plugin.
func (e *Evaluator) Admit(ctx context.Context, r Request) Result {
	var obj, old runtime.Object
	if r.Object != nil {
		obj = r.Object
	}
	if r.OldObject != nil {
		old = r.OldObject
	}
	u := r.User
	if u == nil {
		u = &user.DefaultInfo{Name: "someone"}
	}
	attrs := admission.NewAttributesRecord(obj, old, r.Kind, r.Namespace, r.Name, r.Resource, r.SubResource, r.Operation, nil, r.DryRun, u)
	rec := &recorder{}
	err := e.plugin.Validate(warning.WithWarningRecorder(ctx, rec), attrs, e.ifaces)
	return Result{Err: err, Warnings: rec.warnings}
}
