package reconciler

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/plumbline/plumbline/report"
)

// proposalBody is the pull request's text: what drifted (fields, who changed them and when),
// where the edit went, the policy result on the proposed state, and a link to the incident's
// Slack thread when there is one. Secret values never reach it; untrusted strings are put in
// code spans.
func proposalBody(source string, base string, inc *report.Incident, notes []string, policyResult, thread string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Plumbline found a change in the cluster that Git does not declare, and proposes to keep it: merging makes Git the truth; closing rejects it, and Plumbline then puts the cluster back to Git.\n\n")
	fmt.Fprintf(&b, "- Source: %s\n- Base: %s\n%s\n", code(source), code(shortRevision(base)), incidentLine(inc))
	if thread != "" {
		b.WriteString(threadLine(thread) + "\n")
	}
	b.WriteString("\n")
	for _, f := range inc.Findings {
		fmt.Fprintf(&b, "### %s %s\n\n%s\n\n", f.Type, code(f.Object.String()), escapeText(f.Message))
		if len(f.Fields) > 0 {
			b.WriteString("| field | Git | live | changed by | when |\n|---|---|---|---|---|\n")
			for _, fl := range f.Fields {
				when := ""
				if fl.Time != nil {
					when = fl.Time.UTC().Format("2006-01-02 15:04:05Z")
				}
				desired, live := jsonText(fl.Desired), jsonText(fl.Live)
				if fl.Masked || f.Object.Kind == "Secret" {
					desired, live = "(Secret value, not shown)", "(Secret value, not shown)"
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", code(fl.Path), code(desired), code(live), code(fl.Manager), when)
			}
			b.WriteString("\n")
		}
		if f.Actor != nil {
			fmt.Fprintf(&b, "Changed by %s", code(f.Actor.User))
			if f.Actor.UserAgent != "" {
				fmt.Fprintf(&b, " with %s", code(f.Actor.UserAgent))
			}
			if f.Actor.Time != nil {
				fmt.Fprintf(&b, " at %s", f.Actor.Time.UTC().Format("2006-01-02 15:04:05Z"))
			}
			b.WriteString(".\n\n")
		}
		if f.Image != nil {
			fmt.Fprintf(&b, "Image %s: approved %s, the registry serves %s.\n\n", code(f.Image.Ref), code(f.Image.Approved), code(f.Image.Resolved))
		}
	}
	if len(notes) > 0 {
		b.WriteString("### Where the edit goes\n\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", escapeText(n))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "### Policy on the proposed state\n\n%s\n", escapeText(policyResult))
	return b.String()
}

func incidentLine(inc *report.Incident) string {
	return fmt.Sprintf("- Incident: %s (%s)", code(inc.Fingerprint), inc.Type)
}

// threadLine links the Slack thread. The link is a permalink Slack gave, checked by notify to
// hold nothing that leaves a Markdown link.
func threadLine(link string) string { return "- Slack thread: [the incident's thread](" + link + ")" }

// withThreadLink adds the link to the Slack thread to a body proposalBody wrote without it: below
// the incident's line, or at the end of a body edited by hand since.
func withThreadLink(body, link string) string {
	if strings.Contains(body, threadLine(link)) {
		return body
	}
	line := threadLine(link)
	if i := strings.Index(body, "\n- Incident: "); i >= 0 {
		if j := strings.IndexByte(body[i+1:], '\n'); j >= 0 {
			at := i + 1 + j + 1
			return body[:at] + line + "\n" + body[at:]
		}
	}
	return strings.TrimRight(body, "\n") + "\n\n" + line + "\n"
}

func jsonText(v any) string {
	if v == nil {
		return "(none)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// code puts s in a Markdown code span, which nothing in it can leave.
func code(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", "\\|")
	if strings.Contains(s, "`") {
		return "`` " + strings.ReplaceAll(s, "``", "` `") + " ``"
	}
	return "`" + s + "`"
}

// escapeText keeps Markdown and HTML in untrusted text from rendering.
func escapeText(s string) string {
	r := strings.NewReplacer("<", "&lt;", ">", "&gt;", "@", "@\u200b")
	return r.Replace(s)
}
