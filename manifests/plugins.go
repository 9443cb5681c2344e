package manifests

import (
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/types"
)

// builtinAPIVersion is the apiVersion of kustomize's builtin plugin configs, the only plugins
// the render runs.
const builtinAPIVersion = "builtin"

// plugins checks the generators, transformers or validators of k. Each entry is inline YAML
// when kustomize can read it as resources, and a file path otherwise; folders are refused.
// Every config must be a builtin plugin, and the files it names are checked like the
// kustomization's own. Generators are estimated at one object per config.
func (p *preflight) plugins(k *kustomization, field string, entries []string, generates bool) (estimate, error) {
	var est estimate
	for _, e := range entries {
		if err := p.inline(k.file, field, e); err != nil {
			return est, err
		}
		var (
			at    *file
			nodes []*yaml.Node
		)
		if rm, err := p.rmf.NewResMapFromBytes([]byte(e)); err == nil {
			at = k.file
			for _, r := range rm.Resources() {
				y, err := r.AsYAML()
				if err != nil {
					return est, fileErr(k.file.rel, lineOf(k.file.docs, e), "%s entry: %w", field, err)
				}
				docs, err := parseYAML(y)
				if err != nil {
					return est, fileErr(k.file.rel, lineOf(k.file.docs, e), "%s entry: %w", field, err)
				}
				nodes = append(nodes, docs...)
			}
		} else {
			real, isDir, err := p.resolveRef(k, entry(k, field, e, useFileOrDir))
			if err != nil {
				return est, err
			}
			if isDir {
				return est, fileErr(k.file.rel, lineOf(k.file.docs, e), "%s entry %q: plugin folders are %w; list the config files", field, e, ErrUnsupported)
			}
			if at, err = p.r.readYAML(p.ctx, real); err != nil {
				return est, err
			}
			nodes = at.docs
			k.edges = append(k.edges, edge{entry: e, real: real})
		}
		for _, n := range configNodes(nodes) {
			bytes, err := p.pluginConfig(k, at, field, e, n)
			if err != nil {
				return est, err
			}
			if generates {
				est.add(estimate{objects: 1, bytes: bytes})
			}
		}
	}
	return est, nil
}

// configNodes returns the non-empty documents of docs, list items in place of lists.
func configNodes(docs []*yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for _, d := range docs {
		if isNull(d) {
			continue
		}
		if items, ok := listItems(d); ok {
			out = append(out, configNodes(items)...)
			continue
		}
		out = append(out, deref(d))
	}
	return out
}

// pluginConfig checks one plugin config n, written in at, and returns the bytes of data it
// generates (for generators that read files).
func (p *preflight) pluginConfig(k *kustomization, at *file, field, written string, n *yaml.Node) (int64, error) {
	line := n.Line
	if at == k.file {
		line = lineOf(at.docs, written)
	}
	apiVersion, kind := scalar(mapValue(n, "apiVersion")), scalar(mapValue(n, "kind"))
	if apiVersion != builtinAPIVersion {
		return 0, fileErr(at.rel, line, "%s config %s (apiVersion %q): only kustomize's builtin plugins (apiVersion: builtin) can run; other plugins are %w",
			field, kind, apiVersion, ErrUnsupported)
	}
	var raw any
	if err := n.Decode(&raw); err != nil {
		return 0, fileErr(at.rel, line, "%s config %s: %w", field, kind, err)
	}
	v, err := jsonValue(raw)
	if err != nil {
		return 0, fileErr(at.rel, line, "%s config %s: %w", field, kind, err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		return 0, fileErr(at.rel, line, "%s config %s: %w", field, kind, err)
	}
	// Decode with encoding/json, as kustomize's plugins do, so that field names match the
	// same way (case-insensitively).
	decode := func(into any) error {
		if err := json.Unmarshal(js, into); err != nil {
			return fileErr(at.rel, line, "%s config %s: %w", field, kind, err)
		}
		return nil
	}
	name := fmt.Sprintf("%s config %s", field, kind)
	fileRef := func(path string) ref {
		return ref{at: at, field: name, written: path, path: path, use: useFile, line: line}
	}
	switch kind {
	case "HelmChartInflationGenerator":
		return 0, fileErr(at.rel, line, "%s: helm charts are %w: render them into plain manifests in Git", name, ErrUnsupported)
	case "PatchTransformer", "PatchJson6902Transformer":
		var c struct {
			Path   string `json:"path"`
			Patch  string `json:"patch"`
			JSONOp string `json:"jsonOp"`
		}
		if err := decode(&c); err != nil {
			return 0, err
		}
		if c.Path != "" {
			if _, err := p.readRef(k, fileRef(c.Path)); err != nil {
				return 0, err
			}
		}
		for _, s := range []string{c.Patch, c.JSONOp} {
			if err := p.inline(at, name, s); err != nil {
				return 0, err
			}
		}
	case "PatchStrategicMergeTransformer":
		var c struct {
			Paths   []string `json:"paths"`
			Patches string   `json:"patches"`
		}
		if err := decode(&c); err != nil {
			return 0, err
		}
		for _, s := range c.Paths {
			if _, err := p.inlineOrPath(k, at, name, s, line); err != nil {
				return 0, err
			}
		}
		if err := p.inline(at, name, c.Patches); err != nil {
			return 0, err
		}
	case "ReplacementTransformer":
		var c struct {
			Replacements []types.ReplacementField `json:"replacements"`
		}
		if err := decode(&c); err != nil {
			return 0, err
		}
		for _, r := range c.Replacements {
			if r.Path != "" {
				if _, err := p.readRef(k, fileRef(r.Path)); err != nil {
					return 0, err
				}
			}
		}
	case "ValueAddTransformer":
		var c struct {
			TargetFilePath string `json:"targetFilePath"`
		}
		if err := decode(&c); err != nil {
			return 0, err
		}
		if c.TargetFilePath != "" {
			if _, err := p.readRef(k, fileRef(c.TargetFilePath)); err != nil {
				return 0, err
			}
		}
	case "ConfigMapGenerator", "SecretGenerator":
		var c types.KvPairSources
		if err := decode(&c); err != nil {
			return 0, err
		}
		return p.kvSources(k, at, name, c, line)
	}
	return 0, nil
}
