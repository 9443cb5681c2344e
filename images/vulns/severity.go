package vulns

import (
	"strings"

	osvpb "github.com/ossf/osv-schema/bindings/go/osvschema"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/plumbline/plumbline/images/inventory"
)

// The severities a Finding carries, from most to least severe.
const (
	Critical = "Critical"
	High     = "High"
	Medium   = "Medium"
	Low      = "Low"
	Unknown  = "Unknown"
)

// Rank orders severities: Critical 4, High 3, Medium 2, Low 1, anything else 0.
func Rank(s string) int {
	switch strings.ToLower(s) {
	case "critical":
		return 4
	case "high":
		return 3
	case "medium", "moderate":
		return 2
	case "low", "negligible", "unimportant":
		return 1
	}
	return 0
}

// severityOf grades v for p: the worst CVSS v4.0 / v3.x score among the
// record's and its affected entry's vectors, else the ecosystem's grade
// (Debian's urgency, GitHub's or the database's severity). It returns the
// grade and the vector used.
func severityOf(v *osvpb.Vulnerability, p inventory.Package) (string, string) {
	sevs := append([]*osvpb.Severity(nil), v.GetSeverity()...)
	affected := affectedOf(v, p)
	for _, a := range affected {
		sevs = append(sevs, a.GetSeverity()...)
	}
	best, bestVec := "", ""
	for _, s := range sevs {
		if g, ok := cvssGrade(s.GetScore()); ok && Rank(g) > Rank(best) {
			best, bestVec = g, s.GetScore()
		}
	}
	if best != "" {
		return best, bestVec
	}
	var grades []string
	for _, a := range affected {
		grades = append(grades, gradeField(a.GetEcosystemSpecific(), "urgency"), gradeField(a.GetEcosystemSpecific(), "severity"),
			gradeField(a.GetDatabaseSpecific(), "severity"))
	}
	grades = append(grades, gradeField(v.GetDatabaseSpecific(), "severity"))
	for _, g := range grades {
		if r := Rank(g); r > Rank(best) {
			best = canonical(r)
		}
	}
	if best == "" {
		return Unknown, ""
	}
	return best, ""
}

// cvssGrade scores a CVSS vector with go-cvss and names its rating.
func cvssGrade(vec string) (string, bool) {
	var score float64
	var rating func(float64) (string, error)
	switch {
	case strings.HasPrefix(vec, "CVSS:4.0/"):
		c, err := gocvss40.ParseVector(vec)
		if err != nil {
			return "", false
		}
		score, rating = c.Score(), gocvss40.Rating
	case strings.HasPrefix(vec, "CVSS:3.1/"):
		c, err := gocvss31.ParseVector(vec)
		if err != nil {
			return "", false
		}
		score, rating = c.BaseScore(), gocvss31.Rating
	case strings.HasPrefix(vec, "CVSS:3.0/"):
		c, err := gocvss30.ParseVector(vec)
		if err != nil {
			return "", false
		}
		score, rating = c.BaseScore(), gocvss30.Rating
	default:
		return "", false
	}
	r, err := rating(score)
	if err != nil {
		return "", false
	}
	switch strings.ToUpper(r) {
	case "CRITICAL":
		return Critical, true
	case "HIGH":
		return High, true
	case "MEDIUM":
		return Medium, true
	case "LOW", "NONE":
		return Low, true
	}
	return "", false
}

func gradeField(s *structpb.Struct, key string) string {
	if s == nil {
		return ""
	}
	f, ok := s.GetFields()[key]
	if !ok {
		return ""
	}
	g := strings.ToLower(strings.TrimSpace(f.GetStringValue()))
	// Debian's "high**" style marks and "not yet assigned" carry no grade beyond the word.
	return strings.TrimRight(g, "*")
}

func canonical(rank int) string {
	switch rank {
	case 4:
		return Critical
	case 3:
		return High
	case 2:
		return Medium
	case 1:
		return Low
	}
	return ""
}
