package diff

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// noteDropped explains a field that an applier owns and Git no longer declares.
const noteDropped = "Git no longer declares it; %s applied it from an earlier commit, and applying Git now would remove it"

// toolMetadata are prefixes of the label and annotation keys that CD tools write on the objects
// they apply (Flux's kustomize-controller, Argo CD): never fields that Git dropped.
var toolMetadata = []string{"kustomize.toolkit.fluxcd.io/", "toolkit.fluxcd.io/", "argocd.argoproj.io/"}

// droppedFields returns the fields that a manager which applies Git's objects (Plumbline, or the
// CD tool) owns through server-side apply, that Git no longer declares, and that applying Git
// again would remove or reset: what `kubectl diff --server-side` shows. Local candidates are
// confirmed by a dry-run apply as that manager.
func (c *comparison) droppedFields(ctx context.Context) ([]Field, error) {
	var out []Field
	for i := range c.owners {
		o := &c.owners[i]
		if o.operation != metav1.ManagedFieldsOperationApply || o.subresource != "" || !c.applier(o.manager) {
			continue
		}
		candidates := c.droppedCandidates(o)
		if candidates.Empty() {
			continue
		}
		applied, err := c.apply(ctx, o.manager)
		note := fmt.Sprintf(noteDropped, o.manager)
		if refused(err) {
			applied, note = nil, note+"; "+fmt.Sprintf(noteUnconfirmed, reason(err))
		} else if err != nil {
			return nil, fmt.Errorf("dry-run apply as %s: %w", o.manager, err)
		}
		for _, p := range topmost(candidates) {
			f := Field{Path: p.String(), Manager: o.manager, Time: o.time, Note: note}
			f.Live, _ = valueAt(c.live.Object, p)
			if applied != nil {
				av, ok := valueAt(applied.Object, p)
				if ok && equivalent(p, av, f.Live) {
					continue // applying Git keeps it
				}
				f.Desired = av
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// droppedCandidates returns the fields o alone owns that are live and that Git does not declare.
func (c *comparison) droppedCandidates(o *owner) *fieldpath.Set {
	out := fieldpath.NewSet()
	o.fields.Iterate(func(p fieldpath.Path) {
		if !userField(p) || matchesPattern(c.ignored, p) || c.appliedMetadata(p) || keyField(p) {
			return
		}
		if _, ok := valueAt(c.desired.Object, p); ok {
			return
		}
		if _, ok := valueAt(c.live.Object, p); !ok {
			return
		}
		for j := range c.owners {
			if other := &c.owners[j]; other != o && other.fields.Has(p) {
				return // shared: applying Git leaves it to the other owner
			}
		}
		out.Insert(p)
	})
	return out
}

// applier reports whether manager applies Git's objects.
func (c *comparison) applier(manager string) bool {
	return manager == c.opts.FieldManager || interactive(c.opts.ApplyManagers, manager)
}

// appliedMetadata reports whether p is a label or annotation that appliers add by themselves.
func (c *comparison) appliedMetadata(p fieldpath.Path) bool {
	if len(p) != 3 || p[0].FieldName == nil || *p[0].FieldName != "metadata" || p[2].FieldName == nil {
		return false
	}
	key := *p[2].FieldName
	for _, k := range c.opts.AppliedMetadata {
		if key == k || (strings.HasSuffix(k, "/") && strings.HasPrefix(key, k)) {
			return true
		}
	}
	for _, prefix := range toolMetadata {
		if strings.HasPrefix(key, prefix) || strings.Contains(key, "."+prefix) {
			return true
		}
	}
	return false
}

// keyField reports whether p names a key field of the list element it is in (a port's
// protocol): the server defaults keys into the applier's field set.
func keyField(p fieldpath.Path) bool {
	if len(p) < 2 || p[len(p)-1].FieldName == nil || p[len(p)-2].Key == nil {
		return false
	}
	for _, f := range *p[len(p)-2].Key {
		if f.Name == *p[len(p)-1].FieldName {
			return true
		}
	}
	return false
}
