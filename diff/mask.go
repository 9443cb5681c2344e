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
	return text
}
