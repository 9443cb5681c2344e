package manifests

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maskedValue stands in for a Secret value in an error, as diff.MaskedValue does in reports.
const maskedValue = "[masked]"

// minSecretLen is the shortest value that is masked: shorter ones ("a", "1", "true") would
// mangle every message and reveal next to nothing.
const minSecretLen = 4

// secretValues returns what the render holds that may be a Secret's value: the literals,
// env lines and files of every secretGenerator the preflight loaded, and the data and
// stringData values of every Secret in the files it read, raw, base64-encoded and decoded.
// Kustomize's own error messages quote such values (a literal without "=", a replacement
// index out of range, an env line that is not UTF-8), so its errors are scrubbed of them.
func (p *preflight) secretValues() []string {
	var out []string
	for _, k := range p.loaded {
		for _, g := range k.k.SecretGenerator {
			for _, l := range g.LiteralSources {
				_, v, _ := strings.Cut(l, "=")
				out = append(out, l, v)
			}
			sources := append(append([]string{}, g.FileSources...), g.EnvSources...)
			if g.EnvSource != "" {
				sources = append(sources, g.EnvSource)
			}
			for _, s := range sources {
				if _, path, ok := strings.Cut(s, "="); ok {
					s = path
				}
				for _, f := range p.r.filesNamed(k.dir, s) {
					out = append(out, string(f.data))
					for _, line := range strings.Split(string(f.data), "\n") {
						_, v, _ := strings.Cut(line, "=")
						out = append(out, line, v)
					}
				}
			}
		}
	}
	for _, f := range p.r.parsedFiles() {
		for _, d := range f.docs {
			out = append(out, secretDocValues(d)...)
		}
	}
	return out
}

// secretDocValues returns the data and stringData values of d when it is a Secret.
func secretDocValues(d *yaml.Node) []string {
	if scalar(mapValue(d, "kind")) != "Secret" {
		return nil
	}
	var out []string
	for _, field := range []string{"data", "stringData"} {
		m := deref(mapValue(d, field))
		if m == nil || m.Kind != yaml.MappingNode {
			continue
		}
		for i := 1; i < len(m.Content); i += 2 {
			v := scalar(m.Content[i])
			out = append(out, v)
			if raw, err := base64.StdEncoding.DecodeString(v); err == nil {
				out = append(out, string(raw))
			} else {
				out = append(out, base64.StdEncoding.EncodeToString([]byte(v)))
			}
		}
	}
	return out
}

// scrubSecrets returns err with every one of secrets removed from its text, in each form an
// error may print it: as is, quoted, and as Go prints a byte slice. errors.Is and errors.As
// still reach err.
func scrubSecrets(err error, secrets []string) error {
	var olds []string
	seen := map[string]bool{}
	for _, s := range secrets {
		s = strings.TrimRight(s, "\r")
		if len(s) < minSecretLen {
			continue
		}
		q := strconv.Quote(s)
		for _, form := range []string{s, q[1 : len(q)-1], strings.Trim(fmt.Sprint([]byte(s)), "[]")} {
			if len(form) >= minSecretLen && !seen[form] {
				seen[form] = true
				olds = append(olds, form)
			}
		}
	}
	if len(olds) == 0 {
		return err
	}
	sort.Slice(olds, func(i, j int) bool { return len(olds[i]) > len(olds[j]) })
	pairs := make([]string, 0, 2*len(olds))
	for _, o := range olds {
		pairs = append(pairs, o, maskedValue)
	}
	return &rewrittenError{msg: strings.NewReplacer(pairs...).Replace(err.Error()), err: err}
}

// filesNamed returns the file at path (relative to the folder dir) when the render read it.
func (r *reader) filesNamed(dir, path string) []*file {
	real, err := r.t.resolve(filepath.Join(dir, filepath.FromSlash(path)))
	if err != nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.files[real]; ok {
		return []*file{f}
	}
	return nil
}

// parsedFiles returns the files the render read and parsed as YAML.
func (r *reader) parsedFiles() []*file {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*file
	for _, f := range r.files {
		if f.parsed {
			out = append(out, f)
		}
	}
	return out
}
