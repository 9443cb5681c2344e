package report

import (
	"strings"
	"time"
)

// DescribeActor names the person behind a write, as the report's text prints it after
// "Changed by: ": "alice@example.com (kubectl-set, kubectl/v1.32.0) at 2026-12-02T10:00:00Z", or
// "bob as carol (…)" when bob impersonated carol. The field manager and the user agent's first
// word are in parentheses when known. Every part is passed through Printable.
func DescribeActor(a *Actor) string {
	if a == nil {
		return ""
	}
	s := Printable(a.User)
	if a.ImpersonatedUser != "" {
		s += " as " + Printable(a.ImpersonatedUser)
	}
	var how []string
	if a.FieldManager != "" {
		how = append(how, Printable(a.FieldManager))
	}
	if ua, _, _ := strings.Cut(a.UserAgent, " "); ua != "" {
		how = append(how, Printable(ua))
	}
	if len(how) > 0 {
		s += " (" + strings.Join(how, ", ") + ")"
	}
	if a.Time != nil {
		s += " at " + a.Time.UTC().Format(time.RFC3339)
	}
	return s
}
