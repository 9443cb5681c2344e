package manifests

import (
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/api/types"
)

// check walks every field of k that names a file, a folder or inline YAML, and sets k.est.
func (p *preflight) check(k *kustomization) error {
	kz := &k.k
	est := estimate{kustomizations: 1}
	if len(kz.HelmCharts) > 0 || kz.HelmGlobals != nil {
		return fileErr(k.file.rel, lineOf(k.file.docs, "helmCharts"), "helm charts are %w: render them into plain manifests in Git", ErrUnsupported)
	}
	for _, field := range []struct {
		name    string
		entries []string
		use     use
	}{{"resources", kz.Resources, useFileOrDir}, {"components", kz.Components, useDir}} {
		for _, e := range field.entries {
			real, isDir, err := p.resolveRef(k, entry(k, field.name, e, field.use))
			if err != nil {
				return err
			}
			if isDir {
				child, err := p.load(real)
				if err != nil {
					return err
				}
				est.add(child.est)
				k.edges = append(k.edges, edge{entry: e, real: real, kust: child})
				continue
			}
			f, err := p.r.readYAML(p.ctx, real)
			if err != nil {
				return err
			}
			est.add(estimate{objects: countObjects(f.docs), bytes: int64(len(f.data))})
			k.edges = append(k.edges, edge{entry: e, real: real})
		}
	}
	for _, field := range []struct {
		name    string
		entries []string
	}{{"crds", kz.Crds}, {"configurations", kz.Configurations}} {
		for _, e := range field.entries {
			if _, err := p.readRef(k, entry(k, field.name, e, useFile)); err != nil {
				return err
			}
		}
	}
	if len(kz.OpenAPI) > 0 {
		p.openAPI = true
		if path, ok := kz.OpenAPI["path"]; ok {
			if _, err := p.readRef(k, entry(k, "openapi", path, useFile)); err != nil {
				return err
			}
		}
	}
	patchBytes, err := p.patches(k)
	if err != nil {
		return err
	}
	for _, r := range kz.Replacements {
		if r.Path != "" {
			if _, err := p.readRef(k, entry(k, "replacements", r.Path, useFile)); err != nil {
				return err
			}
		}
	}
	for _, g := range kz.ConfigMapGenerator {
		n, err := p.kvSources(k, k.file, "configMapGenerator", g.KvPairSources, 0)
		if err != nil {
			return err
		}
		est.add(estimate{objects: 1, bytes: n})
	}
	for _, g := range kz.SecretGenerator {
		n, err := p.kvSources(k, k.file, "secretGenerator", g.KvPairSources, 0)
		if err != nil {
			return err
		}
		est.add(estimate{objects: 1, bytes: satMul(n, 2)}) // base64 and then some
	}
	for _, field := range []struct {
		name      string
		entries   []string
		generates bool
	}{{"generators", kz.Generators, true}, {"transformers", kz.Transformers, false}, {"validators", kz.Validators, false}} {
		gen, err := p.plugins(k, field.name, field.entries, field.generates)
		if err != nil {
			return err
		}
		est.add(gen)
	}
	// A patch may apply to every object of this kustomization.
	est.bytes = satAdd(est.bytes, satMul(est.objects, patchBytes))
	k.est = est
	return nil
}

// readRef resolves a ref that must be a file and reads it as YAML.
func (p *preflight) readRef(k *kustomization, r ref) (*file, error) {
	real, _, err := p.resolveRef(k, r)
	if err != nil {
		return nil, err
	}
	return p.r.readYAML(p.ctx, real)
}

// patches checks the patch fields of k and returns the bytes of all its patches.
func (p *preflight) patches(k *kustomization) (int64, error) {
	kz := &k.k
	var n int64
	for _, field := range []struct {
		name    string
		patches []types.Patch
	}{{"patches", kz.Patches}, {"patchesJson6902", kz.PatchesJson6902}} {
		for _, pt := range field.patches {
			if pt.Path != "" {
				f, err := p.readRef(k, entry(k, field.name, pt.Path, useFile))
				if err != nil {
					return 0, err
				}
				n = satAdd(n, int64(len(f.data)))
			}
			if pt.Patch != "" {
				if err := p.inline(k.file, field.name, pt.Patch); err != nil {
					return 0, err
				}
				n = satAdd(n, int64(len(pt.Patch)))
			}
		}
	}
	for _, psm := range kz.PatchesStrategicMerge {
		m, err := p.inlineOrPath(k, k.file, "patchesStrategicMerge", string(psm), 0)
		if err != nil {
			return 0, err
		}
		n = satAdd(n, m)
	}
	return n, nil
}

// inlineOrPath checks an entry that kustomize reads as inline YAML when it parses as
// resources, and as a file path otherwise; it returns the bytes of the patch.
func (p *preflight) inlineOrPath(k *kustomization, at *file, field, s string, line int) (int64, error) {
	if err := p.inline(at, field, s); err != nil {
		return 0, err
	}
	if _, err := p.rf.SliceFromBytes([]byte(s)); err == nil {
		return int64(len(s)), nil
	}
	f, err := p.readRef(k, ref{at: at, field: field, written: s, path: s, use: useFile, line: line})
	if err != nil {
		return 0, err
	}
	return int64(len(f.data)), nil
}

// kvSources checks the files of a ConfigMap or Secret generator and returns the bytes of
// its data. The files are data, not YAML: they are read but not parsed.
func (p *preflight) kvSources(k *kustomization, at *file, field string, src types.KvPairSources, line int) (int64, error) {
	var n int64
	for _, l := range src.LiteralSources {
		n = satAdd(n, int64(len(l)))
	}
	envs := src.EnvSources
	if src.EnvSource != "" {
		envs = append(envs[:len(envs):len(envs)], src.EnvSource)
	}
	sources := make([]ref, 0, len(src.FileSources)+len(envs))
	for _, s := range src.FileSources {
		path := s
		if key, value, ok := strings.Cut(s, "="); ok {
			if key == "" || value == "" || strings.Contains(value, "=") {
				return 0, &FileError{Path: at.rel, Line: max(lineOf(at.docs, s), line), Err: fmt.Errorf("%s files entry %q: expected [key=]path", field, redact(s))}
			}
			path = value
		}
		sources = append(sources, ref{at: at, field: field + " files", written: s, path: path, use: useFile, line: line})
	}
	for _, e := range envs {
		sources = append(sources, ref{at: at, field: field + " envs", written: e, path: e, use: useFile, line: line})
	}
	for _, r := range sources {
		real, _, err := p.resolveRef(k, r)
		if err != nil {
			return 0, err
		}
		f, err := p.r.read(p.ctx, real)
		if err != nil {
			return 0, err
		}
		n = satAdd(n, int64(len(f.data)))
	}
	return n, nil
}
