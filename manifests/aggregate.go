package manifests

import (
	"reflect"

	"sigs.k8s.io/kustomize/api/types"
)

// A kustomization that only lists resources, and whose folder resources do the same all the
// way down, transforms nothing: kustomize's output is the objects of its files, in order. For
// such a graph Render reads the files itself, which skips kustomize's build (quadratic in the
// number of objects: a thousand objects cost it most of a second). Anything else in any
// kustomization of the graph (a label, a patch, a generator, a namespace…) goes to kustomize.

// onlyListsResources reports whether k and every kustomization below it list resources and
// nothing else.
func onlyListsResources(k *kustomization) bool {
	rest := k.k
	rest.TypeMeta, rest.MetaData, rest.Resources = types.TypeMeta{}, nil, nil
	if !reflect.ValueOf(rest).IsZero() {
		return false
	}
	for _, e := range k.edges {
		if e.kust != nil && !onlyListsResources(e.kust) {
			return false
		}
	}
	return true
}

// aggregate returns the objects of a graph that only lists resources, as kustomize would
// output them.
func (p *preflight) aggregate(k *kustomization, out []Object) ([]Object, error) {
	for _, e := range k.edges {
		if e.kust != nil {
			var err error
			if out, err = p.aggregate(e.kust, out); err != nil {
				return nil, err
			}
			continue
		}
		f, err := p.r.readYAML(p.ctx, e.real)
		if err != nil {
			return nil, err
		}
		var found []located
		for _, d := range f.docs {
			if found, err = nodeObjects(d, found); err != nil {
				return nil, withPath(err, f.rel)
			}
		}
		for _, l := range found {
			out = append(out, Object{Object: l.obj, Source: f.rel})
		}
	}
	return out, nil
}
