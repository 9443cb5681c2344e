package reconciler

import (
	"fmt"
	"slices"

	admv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/gitsource"
	"github.com/plumbline/plumbline/policy"
)

// LabelAdmissionFor marks the ValidatingAdmissionPolicies and bindings of a Source; its value
// is the Source's LabelSource value. The controller finds, updates and removes them by it
// (owner references cannot point from cluster-scoped objects to a namespaced Source).
const LabelAdmissionFor = "plumbline.dev/admission-for"

// FinalizerAdmission holds a Source whose admission policies are in force until the controller
// has removed them.
const FinalizerAdmission = "plumbline.dev/admission"

// AdmissionConfig is who the managed-object guard lets through, for every Source.
type AdmissionConfig struct {
	// Identity is the username the controller runs as (its service account, or what its
	// kubeconfig authenticates as: WhoAmI). The guard always lets it through; without it no
	// Source can turn prevent on.
	Identity string
	// Users may change and delete managed objects too: the cluster's own controllers (the
	// deployment controller writes a revision annotation, the garbage collector deletes).
	Users []string
	// BreakGlassGroups may change them; the change is still drift, reported with its user.
	BreakGlassGroups []string
	// ScaleUsers may change them through the scale subresource only, e.g. the
	// HorizontalPodAutoscaler.
	ScaleUsers []string
}

// DefaultGuardUsers are the kube-controller-manager identities that write to objects they do
// not own: its own user, and the service accounts of the controllers that annotate, scale,
// adopt or collect workloads when it runs with per-controller credentials.
func DefaultGuardUsers() []string {
	out := []string{"system:kube-controller-manager"}
	for _, sa := range []string{"deployment-controller", "replicaset-controller", "statefulset-controller",
		"daemon-set-controller", "job-controller", "cronjob-controller", "generic-garbage-collector",
		"namespace-controller", "replication-controller", "disruption-controller", "endpointslice-controller"} {
		out = append(out, "system:serviceaccount:kube-system:"+sa)
	}
	return out
}

// DefaultScaleUsers is the HorizontalPodAutoscaler's service account.
func DefaultScaleUsers() []string {
	return []string{"system:serviceaccount:kube-system:horizontal-pod-autoscaler"}
}

// AdmissionSpec is what the admission policies of one Source are rendered from.
type AdmissionSpec struct {
	// Source is the Source; its LabelSource value names and labels everything rendered.
	Source types.NamespacedName
	// Label overrides the value of LabelSource the guard protects (`plumbline diff
	// --source-name` applies another); "" is the Source's.
	Label string
	// Repo and Path are what the guard's message names; Repo is shown without credentials.
	Repo, Path string
	// Actions are the bindings' validationActions.
	Actions []admv1.ValidationAction
	// Objects are the Source's desired objects, each with the namespace it lives in ("" for a
	// cluster-scoped one) by NamespaceOf; their namespaces are what the bindings select.
	Objects     []*unstructured.Unstructured
	NamespaceOf func(*unstructured.Unstructured) string
	// Guard renders the managed-object guard, Rules the policy's rules.
	Guard, Rules bool
	// Config is who the guard lets through; ServiceAccount, when set, is the service account
	// (in the Source's namespace) the controller impersonates for this Source.
	Config         AdmissionConfig
	ServiceAccount string
	// ClusterWide binds to every namespace (only on purpose: `admission render --cluster-wide`).
	ClusterWide bool
}

// RenderAdmission renders the admission policies of one Source: the guard and the rules of
// engine, as spec says. The CLI's `admission render` and the controller both use it.
func RenderAdmission(engine *policy.Engine, spec AdmissionSpec) (*policy.Admission, error) {
	label := sourceLabel(spec.Source)
	owned := label
	if spec.Label != "" {
		owned = spec.Label
	}
	namespaces := declaredNamespaces(spec.Objects, spec.NamespaceOf)
	opts := policy.AdmissionOptions{
		Name: "plumbline." + label, Namespaces: namespaces, ClusterWide: spec.ClusterWide,
		Actions: spec.Actions, Labels: map[string]string{LabelAdmissionFor: label},
	}
	out := &policy.Admission{}
	if spec.Guard {
		users := slices.Clone(spec.Config.Users)
		if spec.Config.Identity != "" {
			users = append(users, spec.Config.Identity)
		}
		if spec.ServiceAccount != "" {
			users = append(users, "system:serviceaccount:"+spec.Source.Namespace+":"+spec.ServiceAccount)
		}
		g, err := policy.Guard(policy.GuardOptions{
			AdmissionOptions: opts, Source: spec.Source.Name, Repo: gitsource.RedactURL(spec.Repo), Path: spec.Path,
			LabelKey: LabelSource, LabelValue: owned, Users: users,
			BreakGlassGroups: spec.Config.BreakGlassGroups, ScaleUsers: spec.Config.ScaleUsers,
			Scaled: scaledNames(spec.Objects),
		})
		if err != nil {
			return nil, fmt.Errorf("Source %s: guard: %w", spec.Source, err)
		}
		out.Policies = append(out.Policies, g)
	}
	if spec.Rules {
		rules, err := engine.Admission(opts)
		if err != nil {
			return nil, fmt.Errorf("Source %s: %w", spec.Source, err)
		}
		out.Policies = append(out.Policies, rules.Policies...)
		out.NotRendered = rules.NotRendered
	}
	return out, nil
}

// declaredNamespaces are the namespaces the objects live in, and the Namespaces they declare.
func declaredNamespaces(objs []*unstructured.Unstructured, namespaceOf func(*unstructured.Unstructured) string) []string {
	var out []string
	for _, o := range objs {
		if o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1" {
			out = append(out, o.GetName())
			continue
		}
		if ns := namespaceOf(o); ns != "" {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// scaledNames are the names of the objects with a scale subresource, by resource.
func scaledNames(objs []*unstructured.Unstructured) map[string][]string {
	out := map[string][]string{}
	for _, o := range objs {
		gv := o.GroupVersionKind()
		for group, resources := range policy.ScaleResources {
			for _, r := range resources {
				if gv.Group == group && kindOfScaleResource[r] == gv.Kind {
					out[r] = append(out[r], o.GetName())
				}
			}
		}
	}
	return out
}

var kindOfScaleResource = map[string]string{
	"deployments": "Deployment", "replicasets": "ReplicaSet", "statefulsets": "StatefulSet",
	"replicationcontrollers": "ReplicationController",
}

// actionsOf maps spec.prevent to the bindings' validationActions; nil for off.
func actionsOf(p v1alpha1.Prevent) []admv1.ValidationAction {
	switch p {
	case v1alpha1.PreventWarn:
		return []admv1.ValidationAction{admv1.Warn}
	case v1alpha1.PreventAudit:
		return []admv1.ValidationAction{admv1.Audit}
	case v1alpha1.PreventDeny:
		return []admv1.ValidationAction{admv1.Deny}
	}
	return nil
}
