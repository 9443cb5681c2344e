package policy

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// bigConfigMap has an 80 KB value and a list of 20,000 items: fields an attacker who can
// write to Git (or to the cluster, for live objects) controls.
func bigConfigMap() *unstructured.Unstructured {
	items := make([]any, 20_000)
	for i := range items {
		items[i] = fmt.Sprintf("item-%05d", i)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "big", "namespace": "prod"},
		"data":     map[string]any{"blob": strings.Repeat("a", 80_000)},
		"items":    items,
	}}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestCELStringBuildersAreBoundedBeforeTheyBuild evaluates replace() and join() calls that
// would build gigabytes from one 80 KB field: each is an error naming the policy, decided
// before the string is built.
func TestCELStringBuildersAreBoundedBeforeTheyBuild(t *testing.T) {
	tests := []struct{ name, expr, want string }{
		{"replace empty with the field", `object.data.blob.replace("", object.data.blob) == ""`, "replace() would build a string of 6400160000 bytes"},
		{"replace each character", `object.data.blob.replace("a", object.data.blob) == ""`, "replace() would build a string of 6400000000 bytes"},
		{"join with the field", `object.items.join(object.data.blob) == ""`, "join() would build a string of"},
		{"join of a split", `object.data.blob.split("").join(object.data.blob) == ""`, "join() would build a string of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engine := mustEngine(t, celPolicyFile("{}", "  - name: amplify\n    validations:\n    - expression: '"+tt.expr+"'\n"))
			obj := bigConfigMap()
			var err error
			start := time.Now()
			bytes := allocated(func() { _, err = engine.Evaluate(context.Background(), Input{Object: obj}) })
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `ConfigMap/prod/big: policy "amplify": validations[0]`) {
				t.Fatalf("Evaluate error = %v, want one naming the object and policy and containing %q", err, tt.want)
			}
			if bytes > 64<<20 {
				t.Errorf("evaluation allocated %d MiB; want under 64", bytes>>20)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("evaluation took %s; want well under 2s", d)
			}
		})
	}
}

// TestCELSmallReplaceStillWorks keeps replace and join what ext.Strings defines.
func TestCELSmallReplaceStillWorks(t *testing.T) {
	engine := mustEngine(t, celPolicyFile("{}", `  - name: ok
    validations:
    - expression: "'hello hello'.replace('he', 'we') == 'wello wello' && 'hello'.replace('', '_') == '_h_e_l_l_o_' && 'aaa'.replace('a', 'b', 2) == 'bba' && ['a', 'b'].join('-') == 'a-b' && ['a', 'b'].join() == 'ab'"
`))
	got, err := engine.Evaluate(context.Background(), Input{Object: bigConfigMap()})
	if err != nil || len(got) != 0 {
		t.Fatalf("Evaluate = %v, %v; want no violation and no error", got, err)
	}
}

// TestCELCostLimitBoundsCPU evaluates an expression that hits the cost limit on a large
// field: it stops in a fraction of a second, not the seconds that unsized costs allowed.
func TestCELCostLimitBoundsCPU(t *testing.T) {
	engine := mustEngine(t, celPolicyFile("{}", `  - name: heavy
    validations:
    - expression: "!object.items.exists(a, object.data.blob.contains(a))"
`))
	start := time.Now()
	_, err := engine.Evaluate(context.Background(), Input{Object: bigConfigMap()})
	d := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), `policy "heavy"`) || !strings.Contains(err.Error(), "cost limit") {
		t.Fatalf("Evaluate error = %v, want the cost limit naming policy heavy", err)
	}
	t.Logf("stopped after %s: %v", d, err)
	if d > 500*time.Millisecond {
		t.Errorf("evaluation took %s; want under 500ms", d)
	}
}

// expensivePolicies returns n policies that each cost about half of CostLimit on
// costlyConfigMap: 60 searches of its 80 KB value.
func expensivePolicies(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  - name: p%02d\n    validations:\n    - expression: \"object.items.all(a, object.data.blob.contains('a') || a == 'x%d')\"\n", i, i)
	}
	return b.String()
}

func costlyConfigMap() *unstructured.Unstructured {
	u := bigConfigMap()
	u.Object["items"] = u.Object["items"].([]any)[:60]
	u.Object["data"] = map[string]any{"blob": strings.Repeat("a", 80_000)}
	return u
}

// TestCELPolicySetBudget shows that the policies of a set together spend at most
// PolicySetCostLimit on one object: the validations after it are errors that name them.
func TestCELPolicySetBudget(t *testing.T) {
	engine := mustEngine(t, celPolicyFile("{}", expensivePolicies(30)))
	start := time.Now()
	_, err := engine.Evaluate(context.Background(), Input{Object: costlyConfigMap()})
	d := time.Since(start)
	if err == nil {
		t.Fatal("Evaluate succeeded; want budget errors")
	}
	msg := err.Error()
	skipped := strings.Count(msg, "not evaluated: the policy set already spent")
	if skipped == 0 || !strings.Contains(msg, `policy "p29"`) || !strings.Contains(msg, "cost units on this object") {
		t.Fatalf("error does not name the policies over budget:\n%s", msg)
	}
	if strings.Contains(msg, `policy "p00"`) {
		t.Errorf("the first policy was within budget but is an error:\n%s", msg)
	}
	t.Logf("%d of 30 policies over budget, %s", skipped, d)
}

// TestCELExpressionTimeBound evaluates a comprehension that stays under the cost limit but,
// through cel-go's cost tracker, takes seconds: it is stopped at ExpressionTimeout, and the
// error names it.
func TestCELExpressionTimeBound(t *testing.T) {
	engine := mustEngine(t, celPolicyFile("{}", `  - name: slow
    validations:
    - expression: "object.items.all(a, a.size() < 1000 && a.startsWith('item') && !a.endsWith('x'))"
`))
	start := time.Now()
	_, err := engine.Evaluate(context.Background(), Input{Object: bigConfigMap()})
	d := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), `policy "slow"`) || !strings.Contains(err.Error(), "did not finish within 250ms") {
		t.Fatalf("Evaluate error = %v, want policy slow stopped at the expression timeout", err)
	}
	if d > ExpressionTimeout+250*time.Millisecond {
		t.Errorf("Evaluate took %s; want about %s", d, ExpressionTimeout)
	}
}

// TestCELEvaluationEndsWithTheContext shows that a deadline stops a long evaluation within
// a few milliseconds of passing, and every validation left is an error naming it.
func TestCELEvaluationEndsWithTheContext(t *testing.T) {
	var policies strings.Builder
	for i := range 8 {
		fmt.Fprintf(&policies, "  - name: slow%d\n    validations:\n    - expression: \"object.items.all(a, a.size() < 1000 && a != 'x%d')\"\n", i, i)
	}
	engine := mustEngine(t, celPolicyFile("{}", policies.String()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	obj := bigConfigMap() // 20,000 items: each policy runs into the cost limit, slowly
	_, err := engine.Evaluate(ctx, Input{Object: obj})
	d := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Fatalf("Evaluate error = %v, want the deadline", err)
	}
	t.Logf("returned after %s: %v", d, err)
	for i := 1; i < 8; i++ {
		if want := fmt.Sprintf(`policy "slow%d": validations[0]: not evaluated: context deadline exceeded`, i); !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name policy slow%d left unevaluated:\n%v", i, err)
		}
	}
	if d > 150*time.Millisecond {
		t.Errorf("Evaluate returned %s after starting with a 30ms deadline; want within 150ms", d)
	}
}
