package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// WriteJSON writes the report as indented JSON, the shape of `plumbline diff -o json`. Every
// character that Printable escapes is written as a JSON escape, so the JSON read in a
// terminal moves no cursor and reorders no text, and decodes to the original strings.
func WriteJSON(w io.Writer, r *Report) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	_, err := w.Write(escapeJSONFormatRunes(b.Bytes()))
	return err
}

// escapeJSONFormatRunes rewrites the format characters and separators that encoding/json
// leaves raw (it escapes only control characters, U+2028 and U+2029) as \u escapes. Outside
// strings the encoder writes only ASCII, so every such rune is inside a string.
func escapeJSONFormatRunes(js []byte) []byte {
	if !bytes.ContainsFunc(js, func(r rune) bool { return r >= utf8.RuneSelf && unsafeRune(r) }) {
		return js
	}
	out := make([]byte, 0, len(js)+32)
	for len(js) > 0 {
		r, size := utf8.DecodeRune(js)
		if r >= utf8.RuneSelf && unsafeRune(r) {
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
		} else {
			out = append(out, js[:size]...)
		}
		js = js[size:]
	}
	return out
}

// WriteText writes a drift report for a person: one block per drifted object, one line per
// reason, then the errors and a one-line summary.
func WriteText(w io.Writer, r *Report) error {
	clean := func(n int, src string) string {
		if n == 1 {
			return "No drift: 1 object matches " + src + "."
		}
		return fmt.Sprintf("No drift: %d objects match %s.", n, src)
	}
	return writeText(w, r, clean, func(f Finding) string { return "Drift detected: " + describeObject(f.Object) })
}

// WriteCheckText writes the report of `plumbline check`: one block per object that fails, named
// with the file that declares it, then the errors and a summary with a count per severity.
func WriteCheckText(w io.Writer, r *Report) error {
	clean := func(n int, src string) string {
		if n == 1 {
			return "Passed: the 1 object of " + src + " passes the policy and image checks."
		}
		return fmt.Sprintf("Passed: the %d objects of %s pass the policy and image checks.", n, src)
	}
	return writeText(w, r, clean, func(f Finding) string {
		h := "Check failed: " + describeObject(f.Object)
		if f.Source != "" {
			h += " (" + Printable(f.Source) + ")"
		}
		return h
	})
}

func writeText(w io.Writer, r *Report, clean func(objects int, source string) string, header func(Finding) string) error {
	var b strings.Builder
	for i := 0; i < len(r.Findings); {
		obj := r.Findings[i].Object
		b.WriteString(header(r.Findings[i]) + "\n")
		for ; i < len(r.Findings) && r.Findings[i].Object == obj; i++ {
			writeFinding(&b, r.Findings[i])
		}
		b.WriteString("\n")
	}
	for _, w := range r.Warnings {
		b.WriteString("Warning: " + Printable(w) + "\n")
	}
	for _, e := range r.Errors {
		b.WriteString("Error: ")
		if e.Object != nil {
			b.WriteString(describeObject(*e.Object) + ": ")
		}
		b.WriteString(Printable(e.Message) + "\n")
	}
	fmt.Fprintf(&b, "%s\n", summaryLine(r, clean))
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFinding(b *strings.Builder, f Finding) {
	switch f.Type {
	case Modified:
		for _, fd := range f.Fields {
			fmt.Fprintf(b, "  Reason: %s%s\n", DescribeField(fd), attribution(Printable(fd.Manager), fd.Time))
		}
	case PolicyViolation:
		where := ""
		if f.Container != "" {
			where = " (container " + Printable(f.Container) + ")"
		}
		fmt.Fprintf(b, "  Policy Violation: %s%s [%s, %s]\n", Printable(f.Message), where, Printable(f.Rule), Printable(f.Severity))
	case ImageTagMutated, ImageUnpinned, RunningImageMismatch:
		fmt.Fprintf(b, "  %s\n", Printable(f.Message)) // "Image: …"
		if f.Image != nil {
			for _, l := range ImageChangeLines(f.Image.Changes) {
				fmt.Fprintf(b, "    %s\n", l)
			}
		}
	default:
		fmt.Fprintf(b, "  Reason: %s\n", Printable(f.Message))
	}
	if f.Source != "" && f.Type == Missing {
		fmt.Fprintf(b, "  Declared in: %s\n", Printable(f.Source))
	}
	if f.Actor != nil && (f.Type == Modified || f.Type == Missing || f.Type == Extra) {
		fmt.Fprintf(b, "  Changed by: %s\n", DescribeActor(f.Actor))
		if len(f.Actor.Groups) > 0 {
			fmt.Fprintf(b, "  Groups: %s\n", Printable(strings.Join(f.Actor.Groups, ", ")))
		}
	}
}

func attribution(manager string, at *time.Time) string {
	switch {
	case manager == "":
		return ""
	case at == nil:
		return fmt.Sprintf(" (by %s)", manager)
	default:
		return fmt.Sprintf(" (by %s at %s)", manager, at.UTC().Format(time.RFC3339))
	}
}

func describeObject(o ObjectRef) string {
	if o.Namespace == "" {
		return fmt.Sprintf("%s '%s'", Printable(o.Kind), Printable(o.Name))
	}
	return fmt.Sprintf("%s '%s' in namespace '%s'", Printable(o.Kind), Printable(o.Name), Printable(o.Namespace))
}

func summaryLine(r *Report, clean func(int, string) string) string {
	if len(r.Findings) == 0 && len(r.Errors) == 0 {
		return clean(r.Summary.Objects, describeSource(r.Source))
	}
	parts := make([]string, 0, len(r.Summary.ByType))
	for _, t := range []FindingType{Modified, Missing, Extra, ImageTagMutated, ImageUnpinned, RunningImageMismatch, PolicyViolation, RuntimeAccess, RuntimeDrift} {
		if n := r.Summary.ByType[t]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, t))
		}
	}
	s := fmt.Sprintf("%s on %s compared with %s", plural(len(r.Findings), "finding"), plural(r.Summary.Objects, "object"), describeSource(r.Source))
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	if sev := severityCounts(r.Findings); sev != "" {
		s += "; policy violations: " + sev
	}
	if len(r.Errors) > 0 {
		s += "; " + plural(len(r.Errors), "error")
	}
	return s + "."
}

// severityCounts counts policy violations per severity, most severe first.
func severityCounts(fs []Finding) string {
	n := map[string]int{}
	for _, f := range fs {
		if f.Type == PolicyViolation {
			n[f.Severity]++
		}
	}
	var parts []string
	for _, s := range []string{"critical", "high", "medium", "low"} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

func describeSource(s Source) string {
	out := s.Path
	if s.Repo != "" {
		out = s.Repo + "//" + s.Path
	}
	if s.Revision != "" {
		rev := s.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		out += "@" + rev
	}
	return Printable(out)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
