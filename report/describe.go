package report

import (
	"encoding/json"
	"fmt"
	"strings"
)

// DescribeField says in one sentence how a drifted field differs, in the words an on-call
// engineer expects: "Image changed from 'nginx:1.21.0' to 'nginx:latest'". A field with a null
// desired value was added in the cluster, unless its note says otherwise (Git dropped it); one
// with a null live value was removed there. The field's note follows in parentheses.
//
// The path, values and note are passed through Printable, so the sentence is safe to print.
func DescribeField(f Field) string {
	f.Path, f.Note = Printable(f.Path), Printable(f.Note)
	if f.Note == "" {
		return describeChange(f)
	}
	if f.Desired == nil && f.Live != nil && !f.Masked {
		return fmt.Sprintf("Field %s is set in the cluster but not declared in Git: %s (%s)", f.Path, quote(f.Live), f.Note)
	}
	return describeChange(f) + " (" + f.Note + ")"
}

func describeChange(f Field) string {
	switch {
	case f.Masked && f.Desired == nil:
		return fmt.Sprintf("Secret value %s added in the cluster but not declared in Git (value masked)", f.Path)
	case f.Masked && f.Live == nil:
		return fmt.Sprintf("Secret value %s removed in the cluster (value masked)", f.Path)
	case f.Masked:
		return fmt.Sprintf("Secret value %s differs from Git (values masked)", f.Path)
	case f.Desired == nil && f.Live == nil:
		return fmt.Sprintf("Field %s differs", f.Path)
	case f.Desired == nil:
		return fmt.Sprintf("Field %s added in the cluster but not declared in Git: %s", f.Path, quote(f.Live))
	case f.Live == nil:
		return fmt.Sprintf("Field %s removed in the cluster (Git declares %s)", f.Path, quote(f.Desired))
	}
	switch lastField(f.Path) {
	case "image":
		return fmt.Sprintf("Image changed from %s to %s", quote(f.Desired), quote(f.Live))
	case "replicas":
		return fmt.Sprintf("Replicas changed from %s to %s", quote(f.Desired), quote(f.Live))
	}
	return fmt.Sprintf("Field %s changed from %s to %s", f.Path, quote(f.Desired), quote(f.Live))
}

// DescribeFields joins the descriptions of several fields into one message.
func DescribeFields(fields []Field) string {
	msgs := make([]string, len(fields))
	for i, f := range fields {
		msgs[i] = DescribeField(f)
	}
	return strings.Join(msgs, "; ")
}

// lastField returns the last field name of a structured-merge-diff path, or "" when the path
// ends in a list element.
func lastField(path string) string {
	i := strings.LastIndexByte(path, '.')
	if i < 0 || strings.ContainsAny(path[i:], "[]") {
		return ""
	}
	return path[i+1:]
}

// quote renders a JSON value for a sentence: strings in single quotes, numbers and booleans
// bare, objects and lists as compact JSON.
func quote(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + Printable(x) + "'"
	case nil:
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Printable(fmt.Sprint(v))
	}
	return Printable(string(b)) // JSON escapes control characters, not every format character
}
