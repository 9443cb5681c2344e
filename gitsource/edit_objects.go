package gitsource

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

func lookup(field string) kyaml.PathGetter { return kyaml.Lookup(field) }

func lookupCreateList(field string) kyaml.PathGetter {
	return kyaml.LookupCreate(yaml.SequenceNode, field)
}

// add writes a new object into its own file in dir, listed in dir's kustomization resources.
func (e *treeEditor) add(ch ObjectChange, out *Edit) error {
	name := path.Join(e.dir, strings.ToLower(ch.Object.Kind)+"-"+ch.Object.Name+".yaml")
	p := filepath.Join(e.root, filepath.FromSlash(name))
	if _, err := os.Stat(p); err == nil {
		return fmt.Errorf("%s: %s exists already", ch.Object, name)
	}
	body := ch.Add
	if len(body) > 0 && body[len(body)-1] != '\n' {
		body = append(body, '\n')
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, body, 0o644); err != nil {
		return err
	}
	out.touch(name)
	if k := e.kustomizationOf(e.dir); k != "" {
		if err := e.addToList(k, "resources", path.Base(name)); err != nil {
			return err
		}
	}
	out.Notes = append(out.Notes, fmt.Sprintf("%s is added to Git as %s", ch.Object, name))
	return nil
}

// delete removes the object's document from its file; a file left without objects is
// removed, and taken out of the kustomization that lists it.
func (e *treeEditor) delete(ch ObjectChange, out *Edit) error {
	if ch.File == "" || isKustomization(ch.File) {
		return fmt.Errorf("%s: cannot locate the file that declares it", ch.Object)
	}
	f, err := e.file(ch.File)
	if err != nil {
		return fmt.Errorf("%s: %w", ch.Object, err)
	}
	d := f.find(ch.Object)
	if d == nil {
		return fmt.Errorf("%s: %s does not declare it", ch.Object, ch.File)
	}
	var keep []*yamlDoc
	left := 0
	for _, dd := range f.docs {
		if dd == d {
			continue
		}
		if dd.node != nil {
			left++
		}
		keep = append(keep, dd)
	}
	if left > 0 {
		if len(keep) > 0 && keep[0].sep != "" && f.docs[0] == d {
			keep[0].sep = ""
		}
		f.docs = keep
		out.Notes = append(out.Notes, fmt.Sprintf("%s is removed from %s", ch.Object, ch.File))
		return nil
	}
	name := cleanRel(ch.File)
	delete(e.files, name)
	if err := os.Remove(filepath.Join(e.root, filepath.FromSlash(name))); err != nil {
		return err
	}
	e.removed = append(e.removed, name)
	dir := path.Dir(name)
	if k := e.kustomizationOf(dir); k != "" {
		if err := e.removeFromList(k, "resources", path.Base(name)); err != nil {
			return err
		}
	}
	out.Notes = append(out.Notes, fmt.Sprintf("%s is removed: %s is deleted", ch.Object, name))
	return nil
}

// UpsertListEntry edits a YAML file (one document) in place: in the top-level list field, the
// mapping whose key field equals keyValue gets the fields of set (drop lists fields to remove);
// without one, a new mapping of key and set is appended. Comments and other entries keep their
// text. It is generic YAML editing, which the image lock file's edits use.
func UpsertListEntry(name string, data []byte, list, key, keyValue string, set map[string]string, order []string, drop []string) ([]byte, error) {
	f, err := parseYAMLFile(name, data)
	if err != nil {
		return nil, err
	}
	var d *yamlDoc
	for _, dd := range f.docs {
		if dd.node != nil {
			d = dd
			break
		}
	}
	if d == nil {
		return nil, fmt.Errorf("%s: no YAML mapping", name)
	}
	seq, err := d.node.Pipe(kyaml.LookupCreate(yaml.SequenceNode, list))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", name, list, err)
	}
	if seq.YNode().Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: %s is not a list", name, list)
	}
	for i, el := range seq.YNode().Content {
		v, err := kyaml.NewRNode(el).Pipe(kyaml.Lookup(key))
		if err != nil || v == nil || v.YNode().Value != keyValue {
			continue
		}
		idx := fmt.Sprint(i)
		for _, k := range order {
			if val, ok := set[k]; ok {
				if err := d.set([]string{list, idx, k}, val); err != nil {
					return nil, err
				}
			}
		}
		for _, k := range drop {
			if _, ok := set[k]; ok {
				continue
			}
			if has := d.has([]string{list, idx, k}); has {
				if err := d.remove([]string{list, idx, k}); err != nil {
					return nil, err
				}
			}
		}
		return f.bytes()
	}
	entry := &yaml.Node{Kind: yaml.MappingNode}
	add := func(k, v string) {
		entry.Content = append(entry.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &yaml.Node{Kind: yaml.ScalarNode, Value: v, Style: quoteIfNeeded(v)})
	}
	add(key, keyValue)
	for _, k := range order {
		if v, ok := set[k]; ok {
			add(k, v)
		}
	}
	seq.YNode().Content = append(seq.YNode().Content, entry)
	seq.YNode().Style = 0
	d.dirty = true
	return f.bytes()
}

func quoteIfNeeded(v string) yaml.Style {
	if looksNonString(v) {
		return yaml.DoubleQuotedStyle
	}
	return 0
}
