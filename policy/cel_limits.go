package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// MaxStringResult is the longest string one call of replace() or join() may build, in
// bytes. CEL charges a call's cost only after the call has run, so a single replace or join
// on a large field (an 80 KB ConfigMap value replacing "" with itself asks for 6.4 GB) would
// exhaust memory before the cost limit could stop it; these two are checked before they
// build anything. Other string functions build at most a few times their input.
const MaxStringResult = 1 << 20

// PolicySetCostLimit is the most CEL cost units all the policies of a set may spend on one
// object together: ten expressions at the per-expression CostLimit. Once it is spent, the
// remaining validations of that object are not evaluated, and each is an error naming it.
const PolicySetCostLimit = 10 * CostLimit

// ExpressionTimeout is the most wall time one evaluation of one expression may take. Cost
// units do not track time everywhere: cel-go's cost tracker itself slows down quadratically
// in long comprehensions (20,000 iterations took 1.7 s at a fifth of CostLimit), so time is
// bounded on its own, through the context that evaluation checks.
const ExpressionTimeout = 250 * time.Millisecond

// PolicySetTimeLimit is the most wall time all the policies of a set may take on one object
// together; the validations after it are errors naming them.
const PolicySetTimeLimit = time.Second

// interruptCheckFrequency is how many comprehension iterations run between two checks of
// the context, as kube-apiserver does (k8s.io/apiserver/pkg/apis/cel.CheckFrequency).
const interruptCheckFrequency = 100

// boundedStrings redefines ext.Strings' replace and join with the same signatures and
// results, refusing before they build a string over MaxStringResult.
func boundedStrings() []cel.EnvOption {
	replaceN := func(s, old, repl string, n int64) ref.Val {
		count := int64(strings.Count(s, old))
		if old == "" {
			count = int64(len(s)) + 1 // strings.Replace inserts between every rune, at most every byte
		}
		if n >= 0 && n < count {
			count = n
		}
		if grow := int64(len(repl)) - int64(len(old)); grow > 0 && int64(len(s))+count*grow > MaxStringResult {
			return tooLong("replace", int64(len(s))+count*grow)
		}
		return types.String(strings.Replace(s, old, repl, int(n)))
	}
	join := func(list ref.Val, sep string) ref.Val {
		l := list.(traits.Lister)
		n, _ := l.Size().(types.Int) // a Lister's size is an Int
		size := int64(0)
		if n > 1 {
			size = int64(n-1) * int64(len(sep))
		}
		parts := make([]string, 0, n)
		for i := types.Int(0); i < n; i++ {
			s, ok := l.Get(i).(types.String)
			if !ok {
				return types.NewErr("join: invalid input: %v", l.Get(i))
			}
			size += int64(len(s))
			if size > MaxStringResult {
				return tooLong("join", size)
			}
			parts = append(parts, string(s))
		}
		return types.String(strings.Join(parts, sep))
	}
	return []cel.EnvOption{
		cel.Function("replace",
			cel.MemberOverload("string_replace_string_string", []*cel.Type{cel.StringType, cel.StringType, cel.StringType}, cel.StringType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val {
					return replaceN(string(args[0].(types.String)), string(args[1].(types.String)), string(args[2].(types.String)), -1)
				})),
			cel.MemberOverload("string_replace_string_string_int", []*cel.Type{cel.StringType, cel.StringType, cel.StringType, cel.IntType}, cel.StringType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val {
					return replaceN(string(args[0].(types.String)), string(args[1].(types.String)), string(args[2].(types.String)), int64(args[3].(types.Int)))
				}))),
		cel.Function("join",
			cel.MemberOverload("list_join", []*cel.Type{cel.ListType(cel.StringType)}, cel.StringType,
				cel.UnaryBinding(func(list ref.Val) ref.Val { return join(list, "") })),
			cel.MemberOverload("list_join_string", []*cel.Type{cel.ListType(cel.StringType), cel.StringType}, cel.StringType,
				cel.BinaryBinding(func(list, sep ref.Val) ref.Val { return join(list, string(sep.(types.String))) }))),
	}
}

func tooLong(function string, size int64) ref.Val {
	return types.NewErr("%s() would build a string of %d bytes, over the limit of %d", function, size, MaxStringResult)
}

// setBudget is what the policies of a set have spent on one object.
type setBudget struct {
	start time.Time
	cost  uint64
}

// exhausted returns the error of a validation left unevaluated because the set spent its
// cost or time on the object, or nil.
func (b *setBudget) exhausted() error {
	if b.cost >= PolicySetCostLimit {
		return fmt.Errorf("not evaluated: the policy set already spent %d of its %d cost units on this object", b.cost, PolicySetCostLimit)
	}
	if d := time.Since(b.start); d >= PolicySetTimeLimit {
		return fmt.Errorf("not evaluated: the policy set already spent %s of its %s on this object", d.Round(time.Millisecond), PolicySetTimeLimit)
	}
	return nil
}
