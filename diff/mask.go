package diff

import (
	"encoding/base64"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Masks that stand in for Secret values. They say that a value is there, and whether it differs
// from Git, but never what it is.
const (
	MaskedValue   = "[masked]"
	MaskedDiffers = "[masked: differs from Git]"
)

// secretValue reports whether a printed path holds Secret data: .data, .stringData or anything
// below.
func secretValue(path string) bool {
	for _, top := range []string{".data", ".stringData"} {
		if path == top || strings.HasPrefix(path, top+".") || strings.HasPrefix(path, top+"[") {
			return true
		}
	}
	return false
}

// mask replaces the values of a drifted Secret field.
func mask(f Field) Field {
	if f.Desired != nil {
		f.Desired = MaskedValue
	}
	if f.Live != nil {
		f.Live = MaskedValue
		if f.Desired != nil {
			f.Live = MaskedDiffers
		}
	}
	f.Masked = true
	return f
}

// ScrubSecretValues removes from text every value of a Secret's data and stringData, raw and
// base64-encoded, so that an error message from the API server about a Secret can be shown. For
// any other object it returns text unchanged.
func ScrubSecretValues(obj *unstructured.Unstructured, text string) string {
	if obj == nil || !isSecret(obj) {
		return text
	}
	var secrets []string
	if data, ok := obj.Object["data"].(map[string]any); ok {
		for _, v := range data {
			if s, ok := v.(string); ok && s != "" {
				secrets = append(secrets, s)
				if raw, err := base64.StdEncoding.DecodeString(s); err == nil && len(raw) > 0 {
					secrets = append(secrets, string(raw))
				}
			}
		}
	}
	if sd, ok := obj.Object["stringData"].(map[string]any); ok {
		for _, v := range sd {
			if s, ok := v.(string); ok && s != "" {
				secrets = append(secrets, s, base64.StdEncoding.EncodeToString([]byte(s)))
			}
		}
	}
	for _, s := range secrets {
		text = strings.ReplaceAll(text, s, MaskedValue)
	}
	return maskSubstrings(text, secrets)
}

// minMaskedSubstring is the shortest part of a Secret value that ScrubSecretValues masks
// when text quotes only a part of it (a policy message with substring(0, 8)).
const minMaskedSubstring = 6

// maskSubstrings masks every run of text of minMaskedSubstring bytes or more that is also
// part of one of secrets: each window of that length is looked up among the windows of the
// secrets, and the windows found are masked together.
func maskSubstrings(text string, secrets []string) string {
	if len(text) < minMaskedSubstring {
		return text
	}
	windows := map[string]bool{}
	for _, s := range secrets {
		for i := 0; i+minMaskedSubstring <= len(s); i++ {
			windows[s[i:i+minMaskedSubstring]] = true
		}
	}
	var b strings.Builder
	end := 0 // text[:end] is written or masked
	for i := 0; i+minMaskedSubstring <= len(text); i++ {
		if !windows[text[i:i+minMaskedSubstring]] {
			continue
		}
		if i > end {
			b.WriteString(text[end:i])
			b.WriteString(MaskedValue)
		} else if end == 0 && i == 0 {
			b.WriteString(MaskedValue)
		}
		end = i + minMaskedSubstring
	}
	if b.Len() == 0 {
		return text
	}
	b.WriteString(text[end:])
	return b.String()
}
