package policy

import (
	"fmt"
	"strings"
)

// Severity grades a violation. The zero value is not a valid severity; rules
// always carry one of the four constants below, ordered
// SeverityLow < SeverityMedium < SeverityHigh < SeverityCritical.
type Severity string

// The severities, from least to most severe.
const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Severities lists every valid severity from least to most severe.
func Severities() []Severity {
	return []Severity{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}
}

// ParseSeverity turns s into a Severity. It accepts the four names in any
// letter case ("High" is SeverityHigh) and rejects everything else, including
// the empty string.
func ParseSeverity(s string) (Severity, error) {
	sev := Severity(strings.ToLower(strings.TrimSpace(s)))
	if sev.rank() == 0 {
		return "", fmt.Errorf("unknown severity %q (want one of low, medium, high, critical)", s)
	}
	return sev, nil
}

// Valid reports whether s is one of the four severities.
func (s Severity) Valid() bool { return s.rank() > 0 }

// AtLeast reports whether s is as severe as o or more. It is what the CLI's
// --fail-on uses: a violation fails the run when v.Severity.AtLeast(failOn).
// An invalid severity is below every valid one, so an invalid s is never at
// least a valid o.
func (s Severity) AtLeast(o Severity) bool { return s.rank() >= o.rank() }

// Compare returns -1, 0 or +1 as s is less, equally or more severe than o,
// for sorting. Invalid severities sort below SeverityLow.
func (s Severity) Compare(o Severity) int {
	switch a, b := s.rank(), o.rank(); {
	case a < b:
		return -1
	case a > b:
		return 1
	default:
		return 0
	}
}

// String returns the severity's name.
func (s Severity) String() string { return string(s) }

func (s Severity) rank() int {
	switch s {
	case SeverityLow:
		return 1
	case SeverityMedium:
		return 2
	case SeverityHigh:
		return 3
	case SeverityCritical:
		return 4
	default:
		return 0
	}
}
