package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s with everything that could move the cursor, colour the terminal or
// reorder text written as a visible escape: control characters (C0, DEL and C1, so "\n",
// "\r" and the ESC of ANSI sequences), Unicode format characters such as bidirectional
// overrides, line and paragraph separators, and bytes that are not UTF-8. Newline, carriage
// return and tab read "\n", "\r", "\t"; other bytes below 0x80 and invalid bytes "\xNN";
// other runes "\uNNNN". Every other character, backslashes included, is kept, so Printable of
// its own output changes nothing.
//
// Every string that Git, the cluster, a registry or a policy controls (names, namespaces,
// kinds, file names, values, messages, errors) goes through Printable before it is written
// for a person: the terminal, Slack, a pull request. A name holding a newline therefore stays
// on its line and cannot forge one of Plumbline's own ("Passed: ...").
func Printable(s string) string {
	if isPrintable(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < utf8.RuneSelf && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// isPrintable reports whether Printable would return s unchanged.
func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= utf8.RuneSelf {
			return isPrintableSlow(s)
		}
	}
	return true
}

func isPrintableSlow(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return false
			}
		}
		if unsafeRune(r) {
			return false
		}
	}
	return true
}

// unsafeRune reports whether r is a control or format character, or a line or paragraph
// separator.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r)
}
