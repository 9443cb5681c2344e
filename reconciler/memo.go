package reconciler

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/plumbline/plumbline/diff"
)

// CompareMemo remembers the comparison of each desired object with one version of its live
// twin, so that a pass over a Source whose objects did not change costs no comparison. A
// comparison depends only on the desired object, the live object (its UID and resourceVersion
// name it exactly) and the Differ's options: whoever holds a memo starts a new one when the
// desired state or the options change (the controller: per Source, per revision and spec
// generation). Safe for concurrent use.
type CompareMemo struct {
	mu      sync.Mutex
	results map[memoKey]diff.Result
}

type memoKey struct {
	obj             objectKey
	uid             types.UID
	resourceVersion string
}

// NewCompareMemo returns an empty memo.
func NewCompareMemo() *CompareMemo { return &CompareMemo{results: map[memoKey]diff.Result{}} }

func (m *CompareMemo) get(k memoKey) (diff.Result, bool) {
	if m == nil || k.resourceVersion == "" {
		return diff.Result{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.results[k]
	return r, ok
}

// put keeps r as the comparison for k, and forgets older versions of the same object.
func (m *CompareMemo) put(k memoKey, r diff.Result) {
	if m == nil || k.resourceVersion == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for old := range m.results {
		if old.obj == k.obj && old != k {
			delete(m.results, old)
		}
	}
	m.results[k] = r
}
