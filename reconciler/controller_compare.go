package reconciler

import (
	"context"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/diff"
	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/report"
)

// compare diffs the Source's last good desired state against the cluster.
func (c *Controller) compare(ctx context.Context, src *v1alpha1.Source, st *sourceState) (*report.Report, error) {
	opts := DefaultDiffOptions()
	opts.Source = st.revision
	opts.SourceName = sourceLabel(types.NamespacedName{Namespace: src.Namespace, Name: src.Name})
	opts.DefaultNamespace = src.Namespace
	opts.Policy = st.engine
	if len(src.Spec.InteractiveManagers) > 0 {
		opts.Diff.InteractiveManagers = src.Spec.InteractiveManagers
	}
	rules, err := ignoreRules(src.Spec.Ignore)
	if err != nil {
		return nil, err
	}
	opts.Diff.Ignore = rules
	opts.Live, opts.InventoryOnly = c.live, true
	if st.memo == nil || st.memoFor != memoScope(st, src) {
		st.memo, st.memoFor = NewCompareMemo(), memoScope(st, src)
	}
	opts.Memo = st.memo
	opts.Images = &ImageOptions{Resolver: c.opts.Images, Lock: st.lock, Keychain: images.DockerKeychain(), Inspector: c.opts.Inspector}
	rep, err := c.cluster.Diff(ctx, st.desired, opts)
	if err == nil {
		c.attachActivity(ctx, src, st, rep)
	}
	return rep, err
}

// memoScope names what a Source's comparisons depend on besides the live objects: the desired
// state's revision and the spec (ignore rules, interactive managers).
func memoScope(st *sourceState, src *v1alpha1.Source) string {
	return st.revision.Revision + "/" + strconv.FormatInt(src.Generation, 10)
}

// ignoreRules converts the Source's inline ignore rules.
func ignoreRules(in []v1alpha1.IgnoreRule) ([]diff.IgnoreRule, error) {
	out := make([]diff.IgnoreRule, len(in))
	for i, r := range in {
		out[i] = diff.IgnoreRule{Kinds: r.Kinds, Namespaces: r.Namespaces, Names: r.Names, Selector: r.Selector, Paths: r.Paths}
		if err := out[i].Validate(); err != nil {
			return nil, fmt.Errorf("spec.ignore[%d]: %w", i, err)
		}
	}
	return out, nil
}

// pruneFraction parses spec.pruneMaxFraction; the CRD's pattern keeps it in [0, 1].
func pruneFraction(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1 {
		return 0.25
	}
	return f
}
