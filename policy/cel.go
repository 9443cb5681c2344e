package policy

import (
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celast "github.com/google/cel-go/common/ast"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/library"
)

// CostLimit is the most CEL cost units one evaluation of one expression may
// spend: Kubernetes' per-expression limit for admission policies
// (k8s.io/apiserver/pkg/apis/cel.PerCallLimit, roughly 0.1 s of CPU). An
// evaluation that goes over it stops and is an error.
const CostLimit = 1_000_000

// CostEstimateInputSize is the size NewEngine assumes for every list, map and
// string read from the inputs (object, oldObject, params, podSpec, images)
// when it estimates an expression's worst-case cost at compile time. An
// expression whose estimate exceeds CostLimit even on inputs this small (for
// example three comprehensions nested over object lists) is a compile error;
// larger inputs are caught by the runtime limit.
const CostEstimateInputSize = 100

// celEnvironment is the CEL environment every policy compiles in: the
// Kubernetes base environment of version 1.37 (the same libraries as
// ValidatingAdmissionPolicy: quantity, regex, lists, sets, optionals, URLs,
// IP, CIDR, format, semver, strings, two-variable comprehensions) plus the
// policy variables. Built once per process; extending it is expensive.
var celEnvironment = sync.OnceValues(func() (*cel.Env, error) {
	dyn := cel.DynType
	set, err := environment.MustBaseEnvSet(version.MajorMinor(1, 37)).Extend(environment.VersionedOptions{
		IntroducedVersion: version.MajorMinor(1, 0),
		EnvOptions: []cel.EnvOption{
			cel.Variable("object", dyn),
			cel.Variable("oldObject", dyn),
			cel.Variable("params", cel.MapType(cel.StringType, dyn)),
			cel.Variable("podSpec", dyn),
			cel.Variable("images", cel.ListType(cel.MapType(cel.StringType, dyn))),
		},
	})
	if err != nil {
		return nil, err
	}
	return set.NewExpressionsEnv().Extend(boundedStrings()...)
})

// exprSite names an expression for error messages.
type exprSite struct {
	file   string
	line   int // file line of the expression's first line; 0 when unknown
	policy string
	field  string // validations[0].expression
	expr   string
}

// errorAt formats an error at line:column of the expression (1-based).
func (s exprSite) errorAt(line, col int, format string, args ...any) error {
	where := s.file
	if s.line > 0 {
		where = fmt.Sprintf("%s:%d", s.file, s.line+line-1)
	}
	return fmt.Errorf("%s: policy %q: %s %q: at %d:%d: %s",
		where, s.policy, s.field, s.expr, line, col, fmt.Sprintf(format, args...))
}

// compileExpr compiles, type-checks and cost-checks one expression and
// plans its program. want is the result type (bool or string); dyn is
// accepted too and checked at evaluation.
func compileExpr(env *cel.Env, site exprSite, want *cel.Type) (cel.Program, error) {
	ast, iss := env.Compile(site.expr)
	if iss.Err() != nil {
		errs := iss.Errors()
		first := errs[0].Location
		msgs := []string{errs[0].Message}
		for _, e := range errs[1:] {
			msgs = append(msgs, fmt.Sprintf("at %d:%d: %s", e.Location.Line(), e.Location.Column()+1, e.Message))
		}
		return nil, site.errorAt(first.Line(), first.Column()+1, "%s", strings.Join(msgs, "; "))
	}
	if out := ast.OutputType(); !out.IsExactType(want) && !out.IsExactType(cel.DynType) {
		return nil, site.errorAt(1, 1, "must evaluate to %s, not %s", want, out)
	}
	est, err := env.EstimateCost(ast, &library.CostEstimator{SizeEstimator: inputSizeEstimator{}})
	if err != nil {
		return nil, site.errorAt(1, 1, "estimating cost: %v", err)
	}
	if est.Max > CostLimit {
		line, col := outermostComprehension(ast)
		return nil, site.errorAt(line, col,
			"estimated cost %d exceeds the cost limit %d (assuming inputs of at most %d items each); "+
				"avoid nesting comprehensions over object fields", est.Max, CostLimit, CostEstimateInputSize)
	}
	// Size-aware runtime costs (the ones kube-apiserver charges), the limit, and a check of the
	// context every interruptCheckFrequency iterations: the limit bounds CPU and memory, the
	// context bounds wall time.
	prog, err := env.Program(ast,
		cel.CostLimit(CostLimit),
		cel.CostTracking(&library.CostEstimator{}),
		cel.InterruptCheckFrequency(interruptCheckFrequency))
	if err != nil {
		return nil, site.errorAt(1, 1, "%v", err)
	}
	return prog, nil
}

// outermostComprehension returns the 1-based position of the first
// comprehension (all, exists, map, filter…) in ast, where a cost blow-up
// starts, or 1:1 when there is none.
func outermostComprehension(a *cel.Ast) (line, col int) {
	native := a.NativeRep()
	var id int64
	celast.PreOrderVisit(native.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if id == 0 && e.Kind() == celast.ComprehensionKind {
			id = e.ID()
		}
	}))
	if id == 0 {
		return 1, 1
	}
	loc := native.SourceInfo().GetStartLocation(id)
	if loc.Line() < 1 {
		return 1, 1
	}
	return loc.Line(), loc.Column() + 1
}

// inputSizeEstimator bounds the size of every input value whose size the
// checker cannot know, so that cost estimates are finite.
type inputSizeEstimator struct{}

func (inputSizeEstimator) EstimateSize(checker.AstNode) *checker.SizeEstimate {
	return &checker.SizeEstimate{Min: 0, Max: CostEstimateInputSize}
}

func (inputSizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}
