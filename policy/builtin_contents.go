package policy

import (
	"fmt"
	"strings"
)

// Rules on image contents: block-vulnerabilities and image-runs-as-root.
// They read ImageFacts.Contents, which only a scan of the image fills; a
// container without it is left alone (the caller warns that the image was not
// scanned).

const msgRootAllowed = "Misconfiguration: 'root' user allowed to run container"

func checkVulnerabilities(p *podView, params *builtinParams, out []finding) []finding {
	vp := &params.vulns
	for i := range p.containers {
		c := &p.containers[i]
		if c.facts.Contents == nil {
			continue
		}
		for _, v := range c.facts.Contents.Vulnerabilities {
			if !vulnCounts(v.Severity, vp.minSeverity) {
				continue
			}
			msg := vulnMessage(v)
			if e, ok := vp.ignoreFor(v); ok {
				if !p.now.After(e.Expires) {
					continue
				}
				msg += fmt.Sprintf("; the ignore entry for %s expired on %s and no longer applies (reason was: %s)",
					e.ID, e.Expires.Format("2006-01-02"), e.Reason)
			}
			out = append(out, finding{container: c.name, path: c.path + ".image", message: msg})
		}
	}
	return out
}

// vulnCounts: a known grade counts at minSeverity or above; an unknown one
// only when everything counts (minSeverity low).
func vulnCounts(s, min Severity) bool {
	if !s.Valid() {
		return min == SeverityLow
	}
	return s.AtLeast(min)
}

// vulnMessage reads as the mission says: "CVE-2023-XXXX (High) - In package 'openssl'".
func vulnMessage(v ImageVulnerability) string {
	name := v.ID
	for _, a := range v.Aliases {
		if strings.HasPrefix(a, "CVE-") && !strings.Contains(v.ID, a) {
			name += " / " + a
			break
		}
	}
	grade := "Unknown severity"
	if v.Severity.Valid() {
		grade = strings.ToUpper(string(v.Severity[:1])) + string(v.Severity[1:])
	}
	msg := fmt.Sprintf("%s (%s) - In package '%s' %s", name, grade, v.Package, v.Version)
	if v.Fixed != "" {
		msg += ", fixed in " + v.Fixed
	} else {
		msg += ", no fixed version known"
	}
	if v.New {
		msg += " (new in this digest)"
	}
	return msg
}

func checkImageRoot(p *podView, _ *builtinParams, out []finding) []finding {
	for i := range p.containers {
		c := &p.containers[i]
		if c.facts.Contents == nil || !c.facts.Contents.RunsAsRoot() {
			continue
		}
		runAsUser, runAsNonRoot := c.sc.runAsUser, c.sc.runAsNonRoot
		if runAsUser == nil {
			runAsUser = p.sc.runAsUser
		}
		if runAsNonRoot == nil {
			runAsNonRoot = p.sc.runAsNonRoot
		}
		switch {
		case runAsUser != nil && *runAsUser != 0:
			// The pod runs it as another user.
		case runAsNonRoot != nil && *runAsNonRoot:
			out = append(out, finding{container: c.name, path: c.path + ".securityContext.runAsNonRoot",
				message: fmt.Sprintf("Image '%s' runs as root and runAsNonRoot is true with no non-zero runAsUser: the kubelet will refuse to start the container", c.image)})
		default:
			out = append(out, finding{container: c.name, path: c.path + ".image", message: msgRootAllowed})
		}
	}
	return out
}
