package policy

import (
	"fmt"
	"strings"
	"time"
)

// ImageContents is what a scan of the image found inside it: its configured
// user and its known vulnerabilities. Only the rules whose RuleInfo has
// NeedsImageContents read it; they cannot be expressed in CEL or enforced by
// an admission policy, because the API server never sees inside an image.
type ImageContents struct {
	// Digest is the digest that was scanned.
	Digest string
	// User is the image config's USER; "" (as "0" and "root") means root.
	User string
	// VulnerabilitiesChecked is false when no vulnerability database was
	// available: Vulnerabilities is then empty but says nothing.
	VulnerabilitiesChecked bool
	// Vulnerabilities are the known vulnerabilities of the installed packages.
	Vulnerabilities []ImageVulnerability
}

// ImageVulnerability is one vulnerability of one installed package.
type ImageVulnerability struct {
	ID      string
	Aliases []string
	Package string
	Version string
	// Fixed is the first fixed version; "" when none is known.
	Fixed string
	// Severity is the vulnerability's grade; "" when unknown (it then counts
	// only when minSeverity is low).
	Severity Severity
	// New is true when the digest was rebuilt under an approved tag and the
	// approved digest did not have this vulnerability.
	New bool
}

// RunsAsRoot reports whether the image's user is root: "", "0" or "root",
// with or without a group.
func (c *ImageContents) RunsAsRoot() bool {
	u, _, _ := strings.Cut(strings.TrimSpace(c.User), ":")
	return u == "" || u == "0" || u == "root"
}

// VulnerabilityIgnore is one entry of params.vulnerabilities.ignore.
type VulnerabilityIgnore struct {
	// ID is the vulnerability id or one of its aliases (CVE-…).
	ID string
	// Reason says why it is accepted; required.
	Reason string
	// Expires is the day after which the entry no longer applies; required.
	Expires time.Time
}

// vulnParams are params.vulnerabilities, validated.
type vulnParams struct {
	minSeverity Severity
	ignore      []VulnerabilityIgnore
}

// parseVulnParams reads params.vulnerabilities:
//
//	vulnerabilities:
//	  minSeverity: high            # default high: block High and Critical
//	  ignore:
//	    - id: CVE-2026-0001
//	      reason: not reachable, see SEC-42
//	      expires: 2027-01-31
func parseVulnParams(params map[string]any) (vulnParams, error) {
	p := vulnParams{minSeverity: SeverityHigh}
	raw, ok := params["vulnerabilities"]
	if !ok || raw == nil {
		return p, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return p, fmt.Errorf("vulnerabilities: want a mapping with minSeverity and ignore")
	}
	for k := range m {
		if k != "minSeverity" && k != "ignore" {
			return p, fmt.Errorf("vulnerabilities.%s: unknown field (want minSeverity, ignore)", k)
		}
	}
	if s, ok := m["minSeverity"]; ok {
		str, _ := s.(string)
		sev, err := ParseSeverity(str)
		if err != nil {
			return p, fmt.Errorf("vulnerabilities.minSeverity: %w", err)
		}
		p.minSeverity = sev
	}
	list, _ := m["ignore"].([]any)
	if m["ignore"] != nil && list == nil {
		return p, fmt.Errorf("vulnerabilities.ignore: want a list of {id, reason, expires}")
	}
	for i, item := range list {
		field := fmt.Sprintf("vulnerabilities.ignore[%d]", i)
		e, ok := item.(map[string]any)
		if !ok {
			return p, fmt.Errorf("%s: want a mapping with id, reason and expires", field)
		}
		id, _ := e["id"].(string)
		reason, _ := e["reason"].(string)
		exp, _ := e["expires"].(string)
		if id == "" || strings.TrimSpace(reason) == "" || exp == "" {
			return p, fmt.Errorf("%s: id, reason and expires are all required", field)
		}
		when, err := time.Parse(time.DateOnly, exp)
		if err != nil {
			if when, err = time.Parse(time.RFC3339, exp); err != nil {
				return p, fmt.Errorf("%s.expires: want a date (2027-01-31), got %q", field, exp)
			}
		} else {
			when = when.Add(24*time.Hour - time.Nanosecond) // the whole day
		}
		p.ignore = append(p.ignore, VulnerabilityIgnore{ID: id, Reason: reason, Expires: when})
	}
	return p, nil
}

// ignoreFor returns the ignore entry naming v (by id or alias), if any.
func (p *vulnParams) ignoreFor(v ImageVulnerability) (VulnerabilityIgnore, bool) {
	for _, e := range p.ignore {
		if e.ID == v.ID {
			return e, true
		}
		for _, a := range v.Aliases {
			if e.ID == a {
				return e, true
			}
		}
	}
	return VulnerabilityIgnore{}, false
}
