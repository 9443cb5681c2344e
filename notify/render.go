package notify

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/plumbline/plumbline/report"
)

// Slack's limits for one message.
const (
	maxBlocks      = 50
	maxSectionText = 3000
	maxText        = 3000
)

// timeLayout is how times read in messages.
const timeLayout = "2006-01-02 15:04:05 UTC"

// escape makes an untrusted string safe for Slack's mrkdwn: control and format characters as
// report.Printable shows them, and &, < and > as entities, so a name can never mention,
// link or break out of formatting.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(report.Printable(s))
}

// root is what a root message says, kept with its thread so that the edit on resolution
// re-renders it with another header and leaves the rest as it was.
type root struct {
	Title    string   `json:"title"`
	Sections []string `json:"sections"`
	Footer   string   `json:"footer,omitempty"`
	// Omitted is how many findings the message left out to stay within Slack's limits.
	Omitted int `json:"omitted,omitempty"`
}

// newRoot renders the root of a notification of new incidents: one section per object, in
// the order of the incidents.
func newRoot(n Notification) root {
	var objects []report.ObjectRef
	byObject := map[report.ObjectRef][]*report.Incident{}
	for _, inc := range n.Incidents {
		if _, ok := byObject[inc.Object]; !ok {
			objects = append(objects, inc.Object)
		}
		byObject[inc.Object] = append(byObject[inc.Object], inc)
	}
	r := root{Footer: sourceLine(n)}
	if len(objects) == 1 {
		r.Title = ":warning: " + kindOfDrift(byObject[objects[0]]) + ": " + describeObject(objects[0])
	} else {
		r.Title = fmt.Sprintf(":warning: Drift detected: %d objects of %s", len(objects), escape(n.Source))
	}
	for _, o := range objects {
		var lines []string
		if len(objects) > 1 {
			lines = append(lines, "*"+describeObject(o)+"*")
		}
		for _, inc := range byObject[o] {
			for _, f := range inc.Findings {
				lines = append(lines, findingLines(f)...)
			}
		}
		r.Sections = append(r.Sections, cut(strings.Join(lines, "\n"), maxSectionText))
	}
	// Title, footer, buttons and the cut notice take four blocks.
	if keep := maxBlocks - 4; len(r.Sections) > keep {
		for _, o := range objects[keep:] {
			for _, inc := range byObject[o] {
				r.Omitted += max(1, len(inc.Findings))
			}
		}
		r.Sections = r.Sections[:keep]
	}
	return r
}

// kindOfDrift names the problem of one object's incidents for the title.
func kindOfDrift(incs []*report.Incident) string {
	for _, inc := range incs {
		switch inc.Type {
		case report.Modified, report.Missing, report.Extra:
			return "Drift detected"
		}
	}
	switch incs[0].Type {
	case report.ImageTagMutated, report.ImageUnpinned, report.RunningImageMismatch:
		return "Image drift detected"
	case report.PolicyViolation:
		return "Policy violation"
	case report.RuntimeAccess:
		return "Runtime access"
	case report.RuntimeDrift:
		return "Runtime drift detected"
	}
	return "Drift detected"
}

// text is the fallback text of a root: what phones show. It holds the title, every section and
// the footer, cut to maxText.
func (r root) text(header string) string {
	lines := []string{header}
	lines = append(lines, r.Sections...)
	if r.Omitted > 0 {
		lines = append(lines, omittedLine(r.Omitted))
	}
	if r.Footer != "" {
		lines = append(lines, r.Footer)
	}
	return cut(strings.Join(lines, "\n"), maxText)
}

func omittedLine(n int) string {
	if n == 1 {
		return "1 more finding not shown"
	}
	return fmt.Sprintf("%d more findings not shown", n)
}

// cut shortens s to at most n bytes, on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	i := n - len(mark)
	for i > 0 && !utf8Start(s[i]) {
		i--
	}
	return s[:i] + mark
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// describeObject names an object as the mission does: Deployment 'nginx' in namespace 'default'.
func describeObject(o report.ObjectRef) string {
	if o.Namespace == "" {
		return fmt.Sprintf("%s '%s'", escape(o.Kind), escape(o.Name))
	}
	return fmt.Sprintf("%s '%s' in namespace '%s'", escape(o.Kind), escape(o.Name), escape(o.Namespace))
}

// sourceLine is the root's last line: Source: platform/apps@3f2c1ab overlays/prod · Mode: revert.
func sourceLine(n Notification) string {
	s := "Source: " + escape(n.Source)
	if rev := n.Revision.Revision; rev != "" {
		s += "@" + escape(short(rev, 7))
	}
	if p := n.Revision.Path; p != "" && p != "." {
		s += " " + escape(p)
	}
	if n.Mode != "" {
		s += " · Mode: " + escape(n.Mode)
	}
	return s
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// findingLines are the lines of one finding in a root section.
func findingLines(f report.Finding) []string {
	switch f.Type {
	case report.Modified:
		var lines []string
		for _, fl := range f.Fields {
			lines = append(lines, "Reason: "+describeField(f.Object, fl))
			if by := changedBy(f.Actor, fl); by != "" {
				lines = append(lines, by)
			}
		}
		if len(lines) == 0 {
			lines = append(lines, "Reason: "+escape(f.Message))
		}
		return lines
	case report.PolicyViolation:
		// The mission's wording: the message, then rule and severity (the container is in the
		// finding's message when the rule names it).
		return []string{fmt.Sprintf("Policy Violation: %s (%s, %s)", escape(f.Message), escape(f.Rule), escape(f.Severity))}
	case report.ImageTagMutated, report.ImageUnpinned, report.RunningImageMismatch:
		return imageLines(f)
	case report.RuntimeAccess, report.RuntimeDrift:
		return runtimeLines(f)
	case report.Missing:
		lines := []string{"Reason: " + escape(f.Message)}
		if f.Source != "" {
			lines = append(lines, "Declared in: "+escape(f.Source))
		}
		return lines
	}
	return []string{"Reason: " + escape(f.Message)}
}

// describeField says how a field differs; a Secret's data never shows, raw or base64.
func describeField(o report.ObjectRef, fl report.Field) string {
	if fl.Masked || (o.Kind == "Secret" && !strings.HasPrefix(fl.Path, ".metadata")) {
		return escape(fl.Path) + ": data changed (masked)"
	}
	return escape(report.DescribeField(fl))
}

// changedBy says who made a write: the person from the audit events when known, else the
// field manager, with the time.
func changedBy(a *report.Actor, fl report.Field) string {
	at := fl.Time
	if a != nil && a.Time != nil {
		at = a.Time
	}
	when := ""
	if at != nil {
		when = " at " + at.UTC().Format(timeLayout)
	}
	if a != nil && a.User != "" {
		who := escape(a.User)
		if a.ImpersonatedUser != "" {
			who += " as " + escape(a.ImpersonatedUser)
		}
		var how []string
		if fl.Manager != "" {
			how = append(how, escape(fl.Manager))
		}
		if a.UserAgent != "" {
			how = append(how, escape(a.UserAgent))
		}
		if len(how) > 0 {
			who += " (" + strings.Join(how, ", ") + ")"
		}
		return "Changed by: " + who + when
	}
	if fl.Manager == "" {
		return ""
	}
	return "Changed by: " + escape(fl.Manager) + when
}

// imageLines tell the image story: the approved and the served digest, what changed inside,
// and the pods affected.
func imageLines(f report.Finding) []string {
	im := f.Image
	if im == nil {
		return []string{"Reason: " + escape(f.Message)}
	}
	var lines []string
	switch f.Type {
	case report.ImageTagMutated:
		lines = append(lines, fmt.Sprintf("Reason: Tag '%s' now serves another image than the one approved in Git", escape(im.Ref)))
	case report.ImageUnpinned:
		lines = append(lines, fmt.Sprintf("Reason: Image '%s' has no approved digest in Git", escape(im.Ref)))
	default:
		lines = append(lines, fmt.Sprintf("Reason: Pods run another digest of '%s' than the approved one", escape(im.Ref)))
	}
	if im.Approved != "" {
		lines = append(lines, "Approved: "+escape(im.Approved))
	}
	if im.Resolved != "" {
		lines = append(lines, "Served: "+escape(im.Resolved))
	}
	var changed []string
	if im.LayersChanged != nil {
		changed = append(changed, fmt.Sprintf("%d layers", *im.LayersChanged))
	}
	if c := im.Changes; c != nil {
		for _, p := range c.PackagesChanged {
			changed = append(changed, fmt.Sprintf("%s %s → %s", escape(p.Name), escape(p.From), escape(p.To)))
		}
		for _, p := range c.PackagesAdded {
			changed = append(changed, fmt.Sprintf("+%s %s", escape(p.Name), escape(p.Version)))
		}
		for _, p := range c.PackagesRemoved {
			changed = append(changed, fmt.Sprintf("-%s %s", escape(p.Name), escape(p.Version)))
		}
		for _, cc := range c.Config {
			changed = append(changed, fmt.Sprintf("%s '%s' → '%s'", escape(cc.Field), escape(cc.From), escape(cc.To)))
		}
	}
	if len(changed) > 0 {
		lines = append(lines, "What changed: "+strings.Join(changed, ", "))
	}
	if c := im.Changes; c != nil {
		if len(c.NewVulnerabilities) > 0 {
			var vs []string
			for _, v := range c.NewVulnerabilities {
				vs = append(vs, fmt.Sprintf("%s in %s %s (%s)", escape(v.ID), escape(v.Package), escape(v.Version), escape(v.Severity)))
			}
			lines = append(lines, "New vulnerabilities: "+strings.Join(vs, ", "))
		}
		if c.Note != "" {
			lines = append(lines, "Note: "+escape(c.Note))
		}
	}
	var pods []string
	for _, r := range im.Running {
		for _, p := range r.Pods {
			pods = append(pods, escape(p))
		}
	}
	if len(pods) > 0 {
		slices.Sort(pods)
		lines = append(lines, "Pods affected: "+strings.Join(pods, ", "))
	}
	return lines
}

// runtimeLines tell what happened against or inside a pod.
func runtimeLines(f report.Finding) []string {
	rt := f.Runtime
	if rt == nil {
		return []string{"Reason: " + escape(f.Message)}
	}
	where := "pod '" + escape(rt.Pod) + "'"
	if rt.Container != "" {
		where += " container '" + escape(rt.Container) + "'"
	}
	var lines []string
	if f.Type == report.RuntimeAccess {
		s := fmt.Sprintf("Reason: %s into %s", escape(rt.Access), where)
		if rt.Command != "" {
			s += ": `" + escape(rt.Command) + "`"
		}
		lines = append(lines, s)
	} else {
		s := fmt.Sprintf("Reason: Falco rule '%s' (%s) in %s", escape(rt.Rule), escape(rt.Priority), where)
		if rt.CommandLine != "" {
			s += ": `" + escape(rt.CommandLine) + "`"
		}
		if rt.File != "" {
			s += ", file " + escape(rt.File)
		}
		lines = append(lines, s)
	}
	if rt.Count > 1 {
		lines = append(lines, fmt.Sprintf("Events: %d", rt.Count))
	}
	when := ""
	if rt.Time != nil {
		when = " at " + rt.Time.UTC().Format(timeLayout)
	}
	switch {
	case f.Actor != nil && f.Actor.User != "":
		who := escape(f.Actor.User)
		if f.Actor.UserAgent != "" {
			who += " (" + escape(f.Actor.UserAgent) + ")"
		}
		lines = append(lines, "By: "+who+when)
	case rt.User != "":
		lines = append(lines, "By: user "+escape(rt.User)+when)
	}
	return lines
}

// replyText is the thread reply for an event about incidents of a root; multi names the
// objects when the root holds more than one.
func replyText(n Notification, multi bool, at time.Time) string {
	var s string
	switch n.Event {
	case EventReverted:
		s = "Reverted to Git at " + at.UTC().Format(timeLayout)
	case EventRevertFailed:
		s = "Revert failed: " + escape(n.Detail)
	case EventFight:
		var mgrs, paths []string
		for _, inc := range n.Incidents {
			for _, f := range inc.Findings {
				for _, fl := range f.Fields {
					if fl.Manager != "" && !slices.Contains(mgrs, fl.Manager) {
						mgrs = append(mgrs, fl.Manager)
					}
				}
			}
			paths = append(paths, inc.Paths...)
		}
		who := "another manager"
		if len(mgrs) > 0 {
			who = "manager " + strings.Join(mgrs, ", ")
		}
		s = fmt.Sprintf("Fight with %s on %s: stopped reverting", escape(who), escape(strings.Join(paths, ", ")))
	case EventResolved:
		s = "Resolved: live state matches Git again"
	case EventAction:
		s = escape(n.Detail)
	case EventProposalOpened:
		s = "Pull request opened: " + escape(n.Detail)
	case EventProposalMerged, EventProposalClosed:
		s = "Pull request " + escape(n.Detail) // "merged by …", "closed by …"
	case EventProposalFailed:
		s = "No pull request opened: " + escape(n.Detail)
	case EventEvicted:
		s = "Evicted " + escape(n.Detail)
	default:
		s = escape(string(n.Event)) + ": " + escape(n.Detail)
	}
	if multi {
		var names []string
		for _, inc := range n.Incidents {
			if name := escape(inc.Object.String()); !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
		s += " (" + strings.Join(names, ", ") + ")"
	}
	return cut(s, maxText)
}

// sourceFailedText is the message of a Source error: it names the file or host the error does.
func sourceFailedText(n Notification) string {
	return cut(":x: Source "+escape(n.Source)+" failed: "+escape(n.Detail), maxText)
}

// resolvedHeader is the root's header once everything in it is resolved.
func resolvedHeader(r root, took time.Duration) string {
	title := strings.TrimPrefix(r.Title, ":warning: ")
	return fmt.Sprintf(":white_check_mark: Resolved after %s: %s", took.Round(time.Second), title)
}
