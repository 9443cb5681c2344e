package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// The policy file's type identity.
const (
	APIVersion = "plumbline.dev/v1alpha1"
	Kind       = "PolicySet"
)

// PolicySet is a parsed policy file: parameters, built-in overrides and CEL
// policies. It is plain data; NewEngine validates and compiles it. Build one
// with ParsePolicySet, or by hand (then the Line fields stay 0).
type PolicySet struct {
	// Name is metadata.name; may be empty.
	Name string
	// File names the policy file in error messages; "" reads as "<policy>".
	File string
	// Params is spec.params as JSON-like values (map[string]any, []any,
	// string, int64, float64, bool, nil). Built-ins read
	// params.allowedRegistries (registry[/path] prefixes; unset or empty
	// means restrict-registries enforces nothing); CEL reads all of it as
	// `params`. nil when the file sets none.
	Params map[string]any
	// Builtins re-grades, enables or disables built-in rules by id. A rule
	// not listed keeps its defaults (see Builtins). nil means no overrides.
	Builtins map[RuleID]BuiltinConfig
	// Policies are the CEL policies in file order.
	Policies []Policy
}

// BuiltinConfig overrides a built-in rule's defaults.
type BuiltinConfig struct {
	// Enabled turns the rule on or off; nil keeps its default.
	Enabled *bool
	// Severity re-grades the rule; "" keeps its default.
	Severity Severity
}

// Policy is one CEL policy: every validation must evaluate to true for each
// object the policy matches, else it yields one violation per failing
// validation.
type Policy struct {
	// Name identifies the policy in violations (Violation.Rule). Required,
	// unique in the file, and not a built-in id.
	Name string
	// Severity is carried by the policy's violations; "" means
	// SeverityMedium.
	Severity Severity
	// Match selects the objects the policy checks; the zero Match selects
	// every object.
	Match Match
	// Validations are the expressions; at least one.
	Validations []Validation
	// Line is the policy's line in File; 0 when unknown.
	Line int
}

// Match selects objects by kind, namespace and API group. Each non-empty
// list must match; an empty list matches everything.
type Match struct {
	// Kinds match the object's kind exactly ("Deployment"); "*" matches any.
	Kinds []string
	// Namespaces are path.Match globs ("prod-*"; "*" alone matches every
	// namespace). An object without metadata.namespace counts as
	// cluster-scoped and matches only when Namespaces is empty.
	Namespaces []string
	// APIGroups match the group of the object's apiVersion exactly ("" is
	// the core group, "apps"); "*" matches any.
	APIGroups []string
}

// Validation is one CEL expression of a policy, as in a Kubernetes
// ValidatingAdmissionPolicy.
type Validation struct {
	// Expression must evaluate to a bool; false is a violation. Required.
	Expression string
	// Message is the static violation message. When it and
	// MessageExpression are empty the message is "failed expression: "
	// followed by Expression.
	Message string
	// MessageExpression, when set, must evaluate to a string, which becomes
	// the message; an empty result falls back to Message.
	MessageExpression string
	// ExpressionLine and MessageExpressionLine are the file lines holding
	// the first line of each expression; 0 when unknown.
	ExpressionLine        int
	MessageExpressionLine int
}

// ParsePolicySet decodes a policy file. filename is used in error messages
// only; the caller reads the file. Every problem the file can have without
// compiling CEL is an error here, as "file:line: message": YAML syntax, a
// wrong apiVersion or kind, an unknown field, a key given twice, excessive
// aliasing, a value of the wrong type, a bad severity, an unknown built-in
// id, a bad namespace glob, a bad allowedRegistries entry, duplicate policy
// names. CEL compile errors come from NewEngine.
func ParsePolicySet(data []byte, filename string) (*PolicySet, error) {
	if filename == "" {
		filename = "<policy>"
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc policySetDoc
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &fileError{file: filename, msg: "empty policy file"}
		}
		return nil, yamlError(filename, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(filename, err)
		}
		return nil, &fileError{file: filename, line: extra.Line,
			msg: "more than one YAML document; a policy file holds one PolicySet"}
	}
	ps := &PolicySet{File: filename}
	if err := (fileChecker{file: filename}).policySet(&doc, ps); err != nil {
		return nil, err
	}
	return ps, nil
}

// checkPolicyName rejects what would make violations ambiguous.
func checkPolicyName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("required")
	case isBuiltinID(RuleID(name)):
		return fmt.Errorf("%q is the id of a built-in rule; pick another name", name)
	}
	return nil
}

func builtinIDList() string {
	ids := make([]string, len(builtins))
	for i, b := range builtins {
		ids[i] = string(b.info.ID)
	}
	return strings.Join(ids, ", ")
}

func isBuiltinID(id RuleID) bool {
	_, ok := builtinByID(id)
	return ok
}

// checkGlob rejects a malformed path.Match pattern.
func checkGlob(pattern string) error {
	if pattern == "" {
		return fmt.Errorf("empty namespace pattern")
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return fmt.Errorf("bad namespace pattern %q: %v", pattern, err)
	}
	return nil
}
