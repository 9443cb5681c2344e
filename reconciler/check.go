package reconciler

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/report"
)

// CheckOptions tune Check.
type CheckOptions struct {
	// Source says in the report where the objects came from.
	Source report.Source
	// Images turns on image checks (approvals, and the registry when it has a Resolver); nil
	// skips them.
	Images *ImageOptions
	// Policy is the rule set; nil skips rules.
	Policy *policy.Engine
	// DefaultNamespace is given to the objects that declare none, as `kubectl apply -n` and
	// Diff give it, so that rules matching by namespace see the namespace the objects will
	// have. Kinds that are cluster-scoped (the built-in ones, and those of a
	// CustomResourceDefinition among objs with scope Cluster) keep none; a kind nothing
	// tells about counts as namespaced, as kustomize counts it. Default "default".
	DefaultNamespace string
}

// Check runs the checks that need no cluster, on what Git declares: image approvals and digests,
// and the policy. It is `plumbline check`, for a pull request in CI.
func Check(ctx context.Context, objs []manifests.Object, opts CheckOptions) (*report.Report, error) {
	r := report.New(opts.Source)
	if opts.DefaultNamespace == "" {
		opts.DefaultNamespace = "default"
	}
	clusterScoped := declaredClusterScoped(objs)
	targets := make([]*target, len(objs))
	for i, o := range objs {
		if o.Object.GetNamespace() == "" && !isClusterScoped(o.Object, clusterScoped) {
			o.Object = o.Object.DeepCopy()
			o.Object.SetNamespace(opts.DefaultNamespace)
		}
		targets[i] = &target{desired: o}
	}
	if err := checkImagesAndPolicy(ctx, r, targets, nil, opts.Images, opts.Policy, true); err != nil {
		return nil, err
	}
	r.Finalize(len(objs))
	return r, nil
}

// checkImagesAndPolicy adds to r what the image checks and the policy find on the targets.
// running gives the images that live workloads' pods run (nil without a cluster); desired
// reports the violations of what Git declares (check), not only the drift into one (diff).
func checkImagesAndPolicy(ctx context.Context, r *report.Report, targets []*target, running runningFunc, imgs *ImageOptions, engine *policy.Engine, desired bool) error {
	facts := map[useKey]policy.ImageFacts{}
	var liveFacts map[useKey]policy.ImageFacts
	if imgs != nil {
		ic, err := checkImages(ctx, targets, running, *imgs)
		if err != nil {
			return err
		}
		r.Findings = append(r.Findings, ic.findings...)
		r.Errors = append(r.Errors, ic.errors...)
		r.Warnings = append(r.Warnings, ic.warnings...)
		facts, liveFacts = ic.facts, ic.liveFacts
		if desired && liveFacts != nil {
			facts = liveFacts // check: judge what a deploy of the tag would pull now
		}
	}
	if engine == nil {
		return nil
	}
	for _, t := range targets {
		fs, err := policyFindings(ctx, engine, t, facts, liveFacts, desired)
		r.Findings = append(r.Findings, fs...)
		if err != nil {
			r.Errors = append(r.Errors, objectError(t.desired.Object, "", err))
		}
	}
	return nil
}

// isClusterScoped reports whether u's kind is certainly cluster-scoped: a built-in kind that
// kustomize's schema knows to be, or a kind of crds (as declaredClusterScoped returns).
func isClusterScoped(u *unstructured.Unstructured, crds map[schema.GroupKind]bool) bool {
	if scoped, ok := crds[u.GroupVersionKind().GroupKind()]; ok {
		return scoped
	}
	return openapi.IsCertainlyClusterScoped(yaml.TypeMeta{APIVersion: u.GetAPIVersion(), Kind: u.GetKind()})
}

// declaredClusterScoped returns, for the kind of each CustomResourceDefinition among objs,
// whether its scope is Cluster.
func declaredClusterScoped(objs []manifests.Object) map[schema.GroupKind]bool {
	out := map[schema.GroupKind]bool{}
	for _, o := range objs {
		u := o.Object
		if u.GetKind() != "CustomResourceDefinition" || u.GroupVersionKind().Group != "apiextensions.k8s.io" {
			continue
		}
		group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(u.Object, "spec", "scope")
		if kind != "" {
			out[schema.GroupKind{Group: group, Kind: kind}] = scope == "Cluster"
		}
	}
	return out
}
