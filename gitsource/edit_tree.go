package gitsource

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldChange is one field a proposal writes into Git.
type FieldChange struct {
	// Path is in structured-merge-diff notation, e.g. .spec.replicas.
	Path string
	// Value is the JSON value Git should declare; nil with Remove.
	Value any
	// Remove takes the field out of Git.
	Remove bool
	// Old is the value Git declares now (for images: entries), or nil.
	Old any
}

// ObjectChange is what a proposal changes about one object.
type ObjectChange struct {
	Object ObjectKey
	// File is the file that declares the object, relative to the repository root, as the
	// render reported it. Empty for an object Git does not declare yet.
	File string
	// Fields are set or removed (Modified).
	Fields []FieldChange
	// Add is the YAML of an object to add to Git (Extra); Delete removes the object (Missing).
	Add    []byte
	Delete bool
}

// Edit says where a proposal changed Git.
type Edit struct {
	// Files are the files written, relative to the repository root, sorted.
	Files []string
	// Notes say, for the pull request's body, where an edit did not go to the object's own
	// file and why (a patch edited, an images: entry, a patch added in the overlay).
	Notes []string
}

func (e *Edit) touch(file string) {
	if !slices.Contains(e.Files, file) {
		e.Files = append(e.Files, file)
		slices.Sort(e.Files)
	}
}

// EditTree writes ch into the checkout at root, whose folder dir (slash-separated, relative
// to root) is the one the Source renders. Each field goes where it comes from: the kustomize
// patch that sets it (the overlay's before its bases'), the images: entry that sets the
// image, or the object's own file. A field whose origin cannot be located without doubt goes
// into a patch that EditTree adds to dir's kustomization, and a note says so. Files keep their
// comments, key order and the text of untouched lines.
func EditTree(root, dir string, ch ObjectChange) (Edit, error) {
	e := &treeEditor{root: root, dir: cleanRel(dir), files: map[string]*yamlFile{}}
	var out Edit
	switch {
	case ch.Add != nil:
		if err := e.add(ch, &out); err != nil {
			return Edit{}, err
		}
	case ch.Delete:
		if err := e.delete(ch, &out); err != nil {
			return Edit{}, err
		}
	default:
		for _, fc := range ch.Fields {
			if err := e.field(ch, fc, &out); err != nil {
				return Edit{}, err
			}
		}
	}
	written, err := e.flush()
	if err != nil {
		return Edit{}, err
	}
	for _, name := range written {
		out.touch(name)
	}
	for _, name := range e.removed {
		out.touch(name)
	}
	return out, nil
}

type treeEditor struct {
	root, dir string
	files     map[string]*yamlFile
	removed   []string
}

func cleanRel(p string) string {
	c := path.Clean("/" + filepath.ToSlash(p))[1:]
	if c == "" {
		return "."
	}
	return c
}

// file reads (once) and parses a file of the tree. A name that leaves the tree is an error.
func (e *treeEditor) file(name string) (*yamlFile, error) {
	name = cleanRel(name)
	if f, ok := e.files[name]; ok {
		return f, nil
	}
	data, err := os.ReadFile(filepath.Join(e.root, filepath.FromSlash(name)))
	if err != nil {
		return nil, err
	}
	f, err := parseYAMLFile(name, data)
	if err != nil {
		return nil, err
	}
	e.files[name] = f
	return f, nil
}

// flush writes the files that changed and returns their names.
func (e *treeEditor) flush() ([]string, error) {
	var written []string
	for name, f := range e.files {
		b, err := f.bytes()
		if err != nil {
			return nil, err
		}
		if string(b) == string(f.orig) {
			continue
		}
		p := filepath.Join(e.root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
		written = append(written, name)
	}
	return written, nil
}

// field writes one field change where the field comes from.
func (e *treeEditor) field(ch ObjectChange, fc FieldChange, out *Edit) error {
	parts, perr := kyamlPath(fc.Path)
	if perr == nil && isImagePath(parts) {
		if done, err := e.imageEntry(fc, out); err != nil || done {
			return err
		}
	}
	if perr == nil {
		for _, p := range e.patchFiles(e.dir, map[string]bool{}) {
			f, err := e.file(p)
			if err != nil {
				return err
			}
			if d := f.find(ch.Object); d != nil && d.has(parts) {
				out.Notes = append(out.Notes, fmt.Sprintf("%s: %s is set by the kustomize patch %s; the patch is edited", ch.Object, fc.Path, p))
				return apply(d, parts, fc)
			}
		}
		if ch.File != "" && !isKustomization(ch.File) {
			f, err := e.file(ch.File)
			if err != nil {
				return fmt.Errorf("%s: %w", ch.Object, err)
			}
			d := f.find(ch.Object)
			if d != nil && (d.has(parts) || (!fc.Remove && !e.hasKustomization()) || (!fc.Remove && path.Dir(cleanRel(ch.File)) == e.dir)) {
				return apply(d, parts, fc)
			}
		}
	}
	if !e.hasKustomization() {
		return fmt.Errorf("%s: %s: cannot locate where Git declares it, and %s has no kustomization to add a patch to", ch.Object, fc.Path, e.dir)
	}
	return e.overlayPatch(ch, fc, out)
}

func apply(d *yamlDoc, parts []string, fc FieldChange) error {
	if fc.Remove {
		return d.remove(parts)
	}
	return d.set(parts, fc.Value)
}

// isImagePath reports whether parts name a container's image.
func isImagePath(parts []string) bool {
	n := len(parts)
	return n >= 3 && parts[n-1] == "image" && (parts[n-3] == "containers" || parts[n-3] == "initContainers")
}

func isKustomization(name string) bool {
	switch path.Base(name) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

func (e *treeEditor) kustomizationOf(dir string) string {
	for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		p := path.Join(dir, n)
		if _, err := os.Stat(filepath.Join(e.root, filepath.FromSlash(p))); err == nil {
			return p
		}
	}
	return ""
}

func (e *treeEditor) hasKustomization() bool { return e.kustomizationOf(e.dir) != "" }

// kustomization is the part of kustomization.yaml EditTree reads.
type kustomization struct {
	Resources             []string `yaml:"resources"`
	Bases                 []string `yaml:"bases"`
	PatchesStrategicMerge []string `yaml:"patchesStrategicMerge"`
	Patches               []struct {
		Path string `yaml:"path"`
	} `yaml:"patches"`
	Images []struct {
		Name    string `yaml:"name"`
		NewName string `yaml:"newName"`
	} `yaml:"images"`
}

func (e *treeEditor) readKustomization(dir string) (*kustomization, string, error) {
	name := e.kustomizationOf(dir)
	if name == "" {
		return nil, "", nil
	}
	data, err := os.ReadFile(filepath.Join(e.root, filepath.FromSlash(name)))
	if err != nil {
		return nil, "", err
	}
	var k kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	return &k, name, nil
}

// patchFiles lists the patch files of dir's kustomization, then of its bases, outermost first:
// the first that sets a field is the one whose value wins.
func (e *treeEditor) patchFiles(dir string, seen map[string]bool) []string {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	k, _, err := e.readKustomization(dir)
	if err != nil || k == nil {
		return nil
	}
	var out []string
	for i := len(k.Patches) - 1; i >= 0; i-- { // later patches win
		if p := k.Patches[i].Path; p != "" {
			out = append(out, path.Join(dir, p))
		}
	}
	for i := len(k.PatchesStrategicMerge) - 1; i >= 0; i-- {
		if p := k.PatchesStrategicMerge[i]; !strings.Contains(p, "\n") {
			out = append(out, path.Join(dir, p))
		}
	}
	for _, r := range append(slices.Clone(k.Resources), k.Bases...) {
		sub := path.Join(dir, r)
		if st, err := os.Stat(filepath.Join(e.root, filepath.FromSlash(sub))); err == nil && st.IsDir() {
			out = append(out, e.patchFiles(sub, seen)...)
		}
	}
	return out
}

// imageEntry edits the kustomize images: entry that sets the image Git declared (fc.Old), in
// dir's kustomization or a base's. It reports whether there was one.
func (e *treeEditor) imageEntry(fc FieldChange, out *Edit) (bool, error) {
	oldImage, _ := fc.Old.(string)
	newImage, _ := fc.Value.(string)
	if oldImage == "" || newImage == "" || fc.Remove {
		return false, nil
	}
	oldName, _, _ := splitImage(oldImage)
	newName, tag, digest := splitImage(newImage)
	for _, dir := range e.kustomizationDirs(e.dir, map[string]bool{}) {
		k, kname, err := e.readKustomization(dir)
		if err != nil || k == nil {
			return false, err
		}
		for i, im := range k.Images {
			if im.NewName != oldName && !(im.NewName == "" && im.Name == oldName) {
				continue
			}
			f, err := e.file(kname)
			if err != nil {
				return false, err
			}
			d := f.docs[0]
			for _, dd := range f.docs {
				if dd.node != nil {
					d = dd
				}
			}
			idx := fmt.Sprint(i)
			set := func(field, value string) error {
				if value == "" {
					return d.remove([]string{"images", idx, field})
				}
				return d.set([]string{"images", idx, field}, value)
			}
			if newName != oldName {
				if err := set("newName", newName); err != nil {
					return false, err
				}
			}
			if err := set("newTag", tag); err != nil {
				return false, err
			}
			if err := set("digest", digest); err != nil {
				return false, err
			}
			out.Notes = append(out.Notes, fmt.Sprintf("%s is set by the images: entry %q of %s; the entry is edited", fc.Path, im.Name, kname))
			return true, nil
		}
	}
	return false, nil
}

func (e *treeEditor) kustomizationDirs(dir string, seen map[string]bool) []string {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	k, _, err := e.readKustomization(dir)
	if err != nil || k == nil {
		return nil
	}
	out := []string{dir}
	for _, r := range append(slices.Clone(k.Resources), k.Bases...) {
		sub := path.Join(dir, r)
		if st, err := os.Stat(filepath.Join(e.root, filepath.FromSlash(sub))); err == nil && st.IsDir() {
			out = append(out, e.kustomizationDirs(sub, seen)...)
		}
	}
	return out
}

// splitImage splits name[:tag][@digest].
func splitImage(image string) (name, tag, digest string) {
	name = image
	if i := strings.Index(name, "@"); i >= 0 {
		name, digest = name[:i], name[i+1:]
	}
	if i := strings.LastIndex(name, ":"); i >= 0 && !strings.Contains(name[i:], "/") {
		name, tag = name[:i], name[i+1:]
	}
	return name, tag, digest
}

// overlayPatch puts the field into a patch file of Plumbline's own in dir, added to dir's
// kustomization patches: when it is not there yet.
func (e *treeEditor) overlayPatch(ch ObjectChange, fc FieldChange, out *Edit) error {
	parts, err := kyamlPath(fc.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", ch.Object, err)
	}
	if fc.Remove {
		return fmt.Errorf("%s: %s: cannot locate where Git declares it, so it cannot be removed", ch.Object, fc.Path)
	}
	name := path.Join(e.dir, "plumbline-patch-"+strings.ToLower(ch.Object.Kind)+"-"+ch.Object.Name+".yaml")
	p := filepath.Join(e.root, filepath.FromSlash(name))
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		head := fmt.Sprintf("# Added by Plumbline: %s of %s, whose origin in Git could not be located.\napiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n",
			fc.Path, ch.Object, ch.Object.APIVersion, ch.Object.Kind, ch.Object.Name)
		if err := os.WriteFile(p, []byte(head), 0o644); err != nil {
			return err
		}
		if err := e.addToList(e.kustomizationOf(e.dir), "patches", map[string]any{"path": path.Base(name)}); err != nil {
			return err
		}
	}
	f, err := e.file(name)
	if err != nil {
		return err
	}
	d := f.find(ObjectKey{Kind: ch.Object.Kind, Name: ch.Object.Name})
	if d == nil {
		return fmt.Errorf("%s: %s holds no patch of the object", ch.Object, name)
	}
	out.Notes = append(out.Notes, fmt.Sprintf("%s: where Git sets %s could not be located without doubt; the patch %s is added to %s", ch.Object, fc.Path, name, e.kustomizationOf(e.dir)))
	return d.set(parts, fc.Value)
}

// addToList appends value to the top-level list field of a kustomization (or any one-document
// YAML file), creating the list.
func (e *treeEditor) addToList(file, field string, value any) error {
	f, err := e.file(file)
	if err != nil {
		return err
	}
	var d *yamlDoc
	for _, dd := range f.docs {
		if dd.node != nil {
			d = dd
		}
	}
	if d == nil {
		return fmt.Errorf("%s: empty", file)
	}
	vn, err := valueNode(value)
	if err != nil {
		return err
	}
	list, err := d.node.Pipe(lookupCreateList(field))
	if err != nil {
		return err
	}
	list.YNode().Content = append(list.YNode().Content, vn.YNode())
	d.dirty = true
	return nil
}

// removeFromList removes the scalar value from the top-level list field of file.
func (e *treeEditor) removeFromList(file, field, value string) error {
	f, err := e.file(file)
	if err != nil {
		return err
	}
	for _, d := range f.docs {
		if d.node == nil {
			continue
		}
		list, err := d.node.Pipe(lookup(field))
		if err != nil || list == nil {
			continue
		}
		content := list.YNode().Content
		for i, n := range content {
			if n.Kind == yaml.ScalarNode && cleanRel(n.Value) == cleanRel(value) {
				list.YNode().Content = append(content[:i:i], content[i+1:]...)
				d.dirty = true
				return nil
			}
		}
	}
	return nil
}
