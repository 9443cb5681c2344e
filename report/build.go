package report

import (
	"cmp"
	"slices"
)

// New returns an empty report of the given source, ready to be filled and then Finalized.
func New(src Source) *Report {
	return &Report{APIVersion: APIVersion, Kind: Kind, Source: src, Findings: []Finding{}}
}

// Finalize sorts findings and errors into a stable order (by object, then type, then message)
// and recomputes the summary. objects is the number of desired objects compared.
func (r *Report) Finalize(objects int) {
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(
			compareRefs(a.Object, b.Object),
			cmp.Compare(typeOrder(a.Type), typeOrder(b.Type)),
			cmp.Compare(a.Container, b.Container),
			cmp.Compare(a.Message, b.Message),
		)
	})
	slices.SortStableFunc(r.Errors, func(a, b Error) int {
		var ao, bo ObjectRef
		if a.Object != nil {
			ao = *a.Object
		}
		if b.Object != nil {
			bo = *b.Object
		}
		return cmp.Or(compareRefs(ao, bo), cmp.Compare(a.Image, b.Image), cmp.Compare(a.Message, b.Message))
	})
	r.Summary = Summary{Objects: objects, Findings: len(r.Findings), ByType: map[FindingType]int{}, Errors: len(r.Errors)}
	for _, f := range r.Findings {
		r.Summary.ByType[f.Type]++
	}
}

// HasFindings reports whether the report holds at least one finding.
func (r *Report) HasFindings() bool { return len(r.Findings) > 0 }

// HasErrors reports whether some object or image could not be decided.
func (r *Report) HasErrors() bool { return len(r.Errors) > 0 }

func compareRefs(a, b ObjectRef) int {
	return cmp.Or(
		cmp.Compare(a.Namespace, b.Namespace),
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.APIVersion, b.APIVersion),
	)
}

// typeOrder puts the finding that explains an object first: what changed, then what it breaks.
func typeOrder(t FindingType) int {
	switch t {
	case Missing:
		return 0
	case Extra:
		return 1
	case Modified:
		return 2
	case ImageTagMutated:
		return 3
	case RunningImageMismatch:
		return 4
	case ImageUnpinned:
		return 5
	case PolicyViolation:
		return 6
	}
	return 7
}
