package diff

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The ignore file's type identity.
const (
	IgnoreAPIVersion = "plumbline.dev/v1alpha1"
	IgnoreKind       = "IgnoreRules"
)

// IgnoreFileError is a malformed ignore file: "file:line: message", the shape of every
// Plumbline file error. Line is 0 when the file gives none.
type IgnoreFileError struct {
	File string
	Line int
	Msg  string
}

// Error is "<file>:<line>: <message>", or "<file>: <message>" without a line.
func (e *IgnoreFileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ignoreDoc is the shape ParseIgnoreRules decodes with yaml.v3's strict decoder: an unknown
// field, a key given twice and excessive aliasing are its errors, with its lines.
type ignoreDoc struct {
	APIVersion ignoreScalar    `yaml:"apiVersion"`
	Kind       ignoreScalar    `yaml:"kind"`
	Rules      []ignoreRuleDoc `yaml:"rules"`
}

type ignoreRuleDoc struct {
	Kinds      []ignoreScalar     `yaml:"kinds"`
	Namespaces []ignoreScalar     `yaml:"namespaces"`
	Names      []ignoreScalar     `yaml:"names"`
	Selector   *ignoreSelectorDoc `yaml:"selector"`
	Paths      []ignoreScalar     `yaml:"paths"`
}

type ignoreSelectorDoc struct {
	MatchLabels      map[string]ignoreScalar `yaml:"matchLabels"`
	MatchExpressions []struct {
		Key      ignoreScalar   `yaml:"key"`
		Operator ignoreScalar   `yaml:"operator"`
		Values   []ignoreScalar `yaml:"values"`
	} `yaml:"matchExpressions"`
}

// ignoreScalar is a string scalar and its line; line 0 means absent.
type ignoreScalar struct {
	value string
	line  int
}

// UnmarshalYAML accepts a string scalar only: a number or a boolean is a type error.
func (s *ignoreScalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		got := "a mapping"
		switch n.Kind {
		case yaml.SequenceNode:
			got = "a list"
		case yaml.ScalarNode:
			got = strings.TrimPrefix(n.ShortTag(), "!!") + " " + strconv.Quote(ignoreShorten(n.Value))
		}
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a string, got %s", n.Line, got)}}
	}
	*s = ignoreScalar{value: n.Value, line: n.Line}
	return nil
}

// ParseIgnoreRules parses an ignore file (kind IgnoreRules) strictly and validates each rule.
// file names the file in errors, which are *IgnoreFileError values with the line concerned;
// the caller reads the file.
func ParseIgnoreRules(data []byte, file string) ([]IgnoreRule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc ignoreDoc
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, &IgnoreFileError{File: file, Msg: "empty file: want apiVersion, kind and rules"}
	} else if err != nil {
		return nil, ignoreYAMLError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &IgnoreFileError{File: file, Line: extra.Line, Msg: "more than one YAML document"}
	} else if !errors.Is(err, io.EOF) {
		return nil, ignoreYAMLError(file, err)
	}
	if doc.APIVersion.value != IgnoreAPIVersion || doc.Kind.value != IgnoreKind {
		return nil, &IgnoreFileError{File: file, Line: ignoreFirstLine(doc.APIVersion, doc.Kind),
			Msg: fmt.Sprintf("want apiVersion %s, kind %s; got %q, %q", IgnoreAPIVersion, IgnoreKind, doc.APIVersion.value, doc.Kind.value)}
	}
	var rules []IgnoreRule
	var errs []error
	for i, rd := range doc.Rules {
		r, line := rd.rule()
		if err := r.Validate(); err != nil {
			errs = append(errs, &IgnoreFileError{File: file, Line: line, Msg: fmt.Sprintf("rules[%d]: %v", i, err)})
			continue
		}
		rules = append(rules, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rules, nil
}

// rule converts a decoded rule and returns the first line it is on.
func (rd ignoreRuleDoc) rule() (IgnoreRule, int) {
	var all []ignoreScalar
	strs := func(in []ignoreScalar) []string {
		all = append(all, in...)
		if in == nil {
			return nil
		}
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = s.value
		}
		return out
	}
	r := IgnoreRule{Kinds: strs(rd.Kinds), Namespaces: strs(rd.Namespaces), Names: strs(rd.Names), Paths: strs(rd.Paths)}
	if sd := rd.Selector; sd != nil {
		r.Selector = &metav1.LabelSelector{}
		for k, v := range sd.MatchLabels {
			if r.Selector.MatchLabels == nil {
				r.Selector.MatchLabels = map[string]string{}
			}
			r.Selector.MatchLabels[k] = v.value
			all = append(all, v)
		}
		for _, e := range sd.MatchExpressions {
			all = append(all, e.Key, e.Operator)
			r.Selector.MatchExpressions = append(r.Selector.MatchExpressions, metav1.LabelSelectorRequirement{
				Key: e.Key.value, Operator: metav1.LabelSelectorOperator(e.Operator.value), Values: strs(e.Values),
			})
		}
	}
	return r, ignoreFirstLine(all...)
}

func ignoreFirstLine(scalars ...ignoreScalar) int {
	line := 0
	for _, s := range scalars {
		if s.line > 0 && (line == 0 || s.line < line) {
			line = s.line
		}
	}
	return line
}

func ignoreShorten(v string) string {
	if len(v) > 16 {
		return v[:13] + "..."
	}
	return v
}
