package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	admv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/reconciler"
)

type admissionRenderFlags struct {
	source      sourceFlags
	policyFile  string
	namespace   string
	sourceName  string
	sourceLabel string
	guard       bool
	prevent     string
	clusterWide bool
	controller  string
	guardFlags  guardFlags
	timeout     time.Duration
}

// guardFlags are who the managed-object guard lets through; `run` has the same flags.
type guardFlags struct {
	breakGlass []string
	users      []string
	scaleUsers []string
}

func (g *guardFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringArrayVar(&g.breakGlass, "break-glass-group", nil, "group whose members may still edit managed objects (the edit is reported as drift, with the user); repeatable")
	fs.StringArrayVar(&g.users, "guard-allow-user", reconciler.DefaultGuardUsers(), "username that may edit managed objects, for the cluster's own controllers; repeatable (giving it replaces the default list)")
	fs.StringArrayVar(&g.scaleUsers, "guard-allow-scale", reconciler.DefaultScaleUsers(), "username that may change managed objects through the scale subresource only (.spec.replicas); repeatable")
}

func (g *guardFlags) config(identity string) reconciler.AdmissionConfig {
	return reconciler.AdmissionConfig{Identity: identity, Users: g.users, BreakGlassGroups: g.breakGlass, ScaleUsers: g.scaleUsers}
}

func newAdmissionCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admission",
		Short: "Render the policy and the managed-object guard as ValidatingAdmissionPolicies",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newAdmissionRenderCommand(g))
	return cmd
}

func newAdmissionRenderCommand(g *globalFlags) *cobra.Command {
	f := &admissionRenderFlags{}
	cmd := &cobra.Command{
		Use:   "render --path DIR [--policy FILE] | --guard --source NAME",
		Short: "Print ValidatingAdmissionPolicies and bindings for the policy's rules, or for the guard",
		Long: `render prints, as YAML to review, commit and apply, ValidatingAdmissionPolicies and their
bindings that make the API server itself enforce what Plumbline checks:

  without --guard, every enabled rule of the policy (the built-in baseline, or --policy), with
  the same message, severity and kinds;
  with --guard, the managed-object guard of Source --source: updates and deletes of the objects
  that carry its ownership label are refused unless they come from the controller
  (--controller-user), a --break-glass-group, a --guard-allow-user, or for the scale
  subresource a --guard-allow-scale user.

The bindings select only the namespaces the rendered objects declare (the objects' own, or
--namespace for those that declare none, and declared Namespaces), never the whole cluster
unless --cluster-wide. Rules that cannot be enforced by the API server (those needing image
facts from Git or a registry) are not rendered: each is listed, with why, as a comment at the
top of the output (so that the reviewed file says what it does not enforce) and on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd, g) },
	}
	f.source.register(cmd.Flags())
	fs := cmd.Flags()
	fs.StringVar(&f.policyFile, "policy", "", "PolicySet file (default: the built-in baseline)")
	fs.StringVarP(&f.namespace, "namespace", "n", "default", "the Source's namespace, where objects that declare none go")
	fs.StringVar(&f.sourceName, "source", "", "name of the Source (its objects carry plumbline.dev/source=NAMESPACE.NAME); required with --guard")
	fs.StringVar(&f.sourceLabel, "source-label", "", "with --guard, the plumbline.dev/source value of the objects to protect when it is not NAMESPACE.NAME (what diff --source-name applied)")
	fs.BoolVar(&f.guard, "guard", false, "render the managed-object guard instead of the policy's rules")
	fs.StringVar(&f.prevent, "prevent", "deny", "validationActions of the bindings: deny, warn or audit")
	fs.BoolVar(&f.clusterWide, "cluster-wide", false, "bind to every namespace and to cluster-scoped objects, not only the declared namespaces")
	fs.StringVar(&f.controller, "controller-user", "system:serviceaccount:plumbline-system:plumbline", "with --guard, the username the controller runs as (its reverts pass the guard)")
	f.guardFlags.register(cmd)
	registerTimeout(fs, &f.timeout)
	return cmd
}

func (f *admissionRenderFlags) run(cmd *cobra.Command, g *globalFlags) error {
	actions := actionsFor(f.prevent)
	if actions == nil {
		return fmt.Errorf("--prevent %q: want deny, warn or audit", f.prevent)
	}
	if f.guard && f.sourceName == "" {
		return fmt.Errorf("--guard needs --source NAME: the guard protects the objects of one Source")
	}
	ctx, cancel, err := withTimeout(cmd.Context(), f.timeout)
	if err != nil {
		return err
	}
	defer cancel()
	checks := checkFlags{policyFile: f.policyFile}
	engine, err := checks.engine(ctx)
	if err != nil {
		return err
	}
	state, err := f.source.load(ctx, noSecrets)
	if err != nil {
		return err
	}
	defer func() {
		if err := state.close(); err != nil {
			g.log.Warn("remove fetched tree", "err", err)
		}
	}()
	name := f.sourceName
	if name == "" {
		name = sourceName(state.identity)
	}
	objs := make([]*unstructured.Unstructured, len(state.objects))
	for i, o := range state.objects {
		objs[i] = o.Object
	}
	repo := state.source.Repo
	if repo == "" {
		repo = state.identity
	}
	set, err := reconciler.RenderAdmission(engine, reconciler.AdmissionSpec{
		Source: types.NamespacedName{Namespace: f.namespace, Name: name}, Label: f.sourceLabel, Repo: repo, Path: state.source.Path,
		Actions: actions, Objects: objs, NamespaceOf: offlineNamespaceOf(f.namespace),
		Guard: f.guard, Rules: !f.guard, Config: f.guardFlags.config(f.controller), ClusterWide: f.clusterWide,
	})
	if err != nil {
		return err
	}
	for _, n := range set.NotRendered {
		fmt.Fprintf(cmd.ErrOrStderr(), "not rendered: %s: %s\n", n.Rule, n.Reason)
	}
	return writeAdmission(cmd.OutOrStdout(), set)
}

// writeAdmission prints the set as YAML documents, the rules not rendered first as comments.
func writeAdmission(w io.Writer, set *policy.Admission) error {
	var b strings.Builder
	b.WriteString("# Rendered by plumbline admission render.\n")
	for _, n := range set.NotRendered {
		fmt.Fprintf(&b, "# Not rendered: %s: %s\n", n.Rule, strings.ReplaceAll(n.Reason, "\n", " "))
	}
	var docs []any
	for i := range set.Policies {
		p := &set.Policies[i]
		docs = append(docs, &p.Policy, &p.Binding)
		for j := range p.Bindings {
			docs = append(docs, &p.Bindings[j])
		}
	}
	for _, d := range docs {
		data, err := yaml.Marshal(d)
		if err != nil {
			return err
		}
		b.WriteString("---\n")
		b.WriteString(strings.ReplaceAll(string(data), "  creationTimestamp: null\n", ""))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func actionsFor(prevent string) []admv1.ValidationAction {
	switch v1alpha1.Prevent(prevent) {
	case v1alpha1.PreventDeny:
		return []admv1.ValidationAction{admv1.Deny}
	case v1alpha1.PreventWarn:
		return []admv1.ValidationAction{admv1.Warn}
	case v1alpha1.PreventAudit:
		return []admv1.ValidationAction{admv1.Audit}
	}
	return nil
}

// clusterScopedKinds are the built-in kinds without a namespace, for rendering without a
// cluster to ask.
var clusterScopedKinds = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"CustomResourceDefinition": true, "StorageClass": true, "PriorityClass": true, "IngressClass": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true, "ValidatingAdmissionPolicy": true,
	"ValidatingAdmissionPolicyBinding": true, "APIService": true, "RuntimeClass": true, "CSIDriver": true,
}

func offlineNamespaceOf(def string) func(*unstructured.Unstructured) string {
	return func(u *unstructured.Unstructured) string {
		switch {
		case clusterScopedKinds[u.GetKind()]:
			return ""
		case u.GetNamespace() != "":
			return u.GetNamespace()
		}
		return def
	}
}
