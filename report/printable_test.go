package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPrintable(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain text stays", "web-7d4b9c.example.com/ä", "web-7d4b9c.example.com/ä"},
		{"newline and carriage return", "a\nPassed: b\r", `a\nPassed: b\r`},
		{"tab", "a\tb", `a\tb`},
		{"ANSI colour", "\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"C1 control introducer", "a\u009b31m", `a\u009b31m`},
		{"DEL and NUL", "a\x7f\x00", `a\x7f\x00`},
		{"bidirectional override", "abc\u202edcba", `abc\u202edcba`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"invalid UTF-8", "a\xffb", `a\xffb`},
		{"the replacement character itself is printable", "a\ufffdb", "a\ufffdb"},
		{"backslashes are kept", `C:\x`, `C:\x`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Printable(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Printable(%q) (-want +got):\n%s", tt.in, diff)
			}
			if again := Printable(got); again != got {
				t.Errorf("Printable is not idempotent: %q then %q", got, again)
			}
		})
	}
}

// hostileReport has a control character or escape in every string a repository, a cluster or
// a registry controls.
func hostileReport() *Report {
	forged := "x\nPassed: the 1 object of prod passes the policy and image checks.\n"
	r := &Report{
		Source: Source{Repo: "https://example.com/r.git", Path: "apps\x1b[2J"},
		Findings: []Finding{
			{
				Type:    PolicyViolation,
				Object:  ObjectRef{APIVersion: "v1", Kind: "ConfigMap\r", Namespace: "ns\x1b[31m", Name: forged},
				Source:  "apps/" + forged + ".yaml",
				Message: "bad value " + forged, Rule: "rule\n", Severity: "high", Container: "c\n",
			},
			{
				Type:   Modified,
				Object: ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "n"},
				Fields: []Field{{Path: ".data.k\n", Desired: "a\nPassed: x", Live: map[string]any{"k": "\u202e"}, Manager: "kubectl\x1b]0;t\x07"}},
			},
			{
				Type:    Missing,
				Object:  ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "m"},
				Source:  "apps/m\n.yaml",
				Message: "Declared in Git but absent from the cluster",
			},
		},
		Errors: []Error{{Image: "img\n", Message: "registry said \x1b[1m" + forged}},
	}
	r.Finalize(3)
	return r
}

// TestWriteTextEscapesUntrustedStrings shows that no string of the report can add a line or a
// terminal escape to the text a person reads.
func TestWriteTextEscapesUntrustedStrings(t *testing.T) {
	for name, write := range map[string]func(*bytes.Buffer, *Report) error{
		"diff":  func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) },
		"check": func(b *bytes.Buffer, r *Report) error { return WriteCheckText(b, r) },
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := write(&b, hostileReport()); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for i, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "Passed:") {
					t.Errorf("line %d is a forged %q line:\n%s", i+1, "Passed:", out)
				}
				if strings.ContainsFunc(line, unsafeRune) {
					t.Errorf("line %d holds a control or format character: %q", i+1, line)
				}
			}
			for _, want := range []string{`x\nPassed: the 1 object`, `\x1b[31m`, `\u202e`, `kubectl\x1b]0;t\x07`, `.data.k\n`} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks the escaped %q:\n%s", want, out)
				}
			}
			if got := strings.Count(out, "\n"); got != 12 {
				t.Errorf("output has %d lines, want 12 (one per line the report writes):\n%s", got, out)
			}
		})
	}
}

// TestWriteJSONEscapesControlCharacters shows that JSON consumers get control characters as
// JSON escapes and the original value back when they decode it.
func TestWriteJSONEscapesControlCharacters(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, hostileReport()); err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsFunc(b.Bytes(), func(r rune) bool { return r != '\n' && unsafeRune(r) }) {
		t.Errorf("JSON holds a raw control character:\n%s", b.String())
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if want := hostileReport().Findings[0].Object.Name; back.Findings[0].Object.Name != want {
		t.Errorf("name read back as %q, want %q", back.Findings[0].Object.Name, want)
	}
}
