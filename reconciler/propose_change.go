package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/plumbline/plumbline/gitsource"
	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/report"
)

// change is what one proposal writes into Git for one incident.
type change struct {
	title string
	// object is the change to the object's files, or nil for a lock file change.
	object *gitsource.ObjectChange
	// lock is the lock file entry to set, or nil.
	lock *lockChange
	// digest identifies the change, so that the same change is never pushed twice.
	digest string
}

type lockChange struct {
	ref, digest string
}

// changeFor turns an incident into the change that makes Git declare what runs. A Secret's
// values are never written to Git: such a change is refused.
func (c *Cluster) changeFor(ctx context.Context, inc *report.Incident, now time.Time) (*change, error) {
	if len(inc.Findings) == 0 {
		return nil, fmt.Errorf("%s: no findings to propose", inc.Object)
	}
	f := inc.Findings[0]
	key := gitsource.ObjectKey{APIVersion: inc.Object.APIVersion, Kind: inc.Object.Kind, Namespace: inc.Object.Namespace, Name: inc.Object.Name}
	ch := &change{}
	switch inc.Type {
	case report.Modified:
		oc := &gitsource.ObjectChange{Object: key, File: f.Source}
		for _, fl := range f.Fields {
			if fl.Masked || (inc.Object.Kind == "Secret" && isSecretDataPath(fl.Path)) {
				return nil, fmt.Errorf("%s: %s is Secret data: Plumbline never writes Secret values into Git; change the Secret's source of truth by hand", inc.Object, fl.Path)
			}
			oc.Fields = append(oc.Fields, gitsource.FieldChange{Path: fl.Path, Value: fl.Live, Remove: fl.Live == nil, Old: fl.Desired})
		}
		ch.object, ch.title = oc, fmt.Sprintf("plumbline: keep %s drift", inc.Object)
	case report.Missing:
		ch.object = &gitsource.ObjectChange{Object: key, File: f.Source, Delete: true}
		ch.title = fmt.Sprintf("plumbline: remove %s from Git", inc.Object)
	case report.Extra:
		if inc.Object.Kind == "Secret" {
			return nil, fmt.Errorf("%s: Plumbline never writes Secret values into Git", inc.Object)
		}
		live, _, err := c.get(ctx, inc.Object)
		if err != nil {
			return nil, fmt.Errorf("%s: read the live object: %w", inc.Object, err)
		}
		b, err := yaml.Marshal(cleanForGit(live).Object)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", inc.Object, err)
		}
		ch.object = &gitsource.ObjectChange{Object: key, Add: b}
		ch.title = fmt.Sprintf("plumbline: keep %s (add it to Git)", inc.Object)
	case report.ImageTagMutated, report.ImageUnpinned:
		if f.Image == nil || f.Image.Resolved == "" {
			return nil, fmt.Errorf("%s: the digest the registry serves is not known", inc.Object)
		}
		ch.lock = &lockChange{ref: f.Image.Ref, digest: f.Image.Resolved}
		if inc.Type == report.ImageTagMutated {
			ch.title = fmt.Sprintf("plumbline: approve %s rebuild (%s)", f.Image.Ref, shortDigest(f.Image.Resolved))
		} else {
			ch.title = fmt.Sprintf("plumbline: pin %s (%s)", f.Image.Ref, shortDigest(f.Image.Resolved))
		}
	default:
		return nil, fmt.Errorf("%s: a %s finding has no pull request: it is not a state Git can declare", inc.Object, inc.Type)
	}
	b, err := json.Marshal(struct {
		O *gitsource.ObjectChange
		L *lockChange
	}{ch.object, ch.lock})
	if err != nil {
		return nil, err
	}
	if ch.lock != nil {
		b = []byte(ch.lock.ref + "@" + ch.lock.digest)
	}
	sum := sha256.Sum256(b)
	ch.digest = hex.EncodeToString(sum[:8])
	return ch, nil
}

func isSecretDataPath(p string) bool {
	return strings.HasPrefix(p, ".data") || strings.HasPrefix(p, ".stringData")
}

// shortDigest is sha256: and 12 hex digits, then an ellipsis.
func shortDigest(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return algo + ":" + hex[:12] + "…"
}

// cleanForGit is the live object as Git would declare it: no status, no server-set metadata,
// no Plumbline ownership labels, no last-applied annotation.
func cleanForGit(live *unstructured.Unstructured) *unstructured.Unstructured {
	u := live.DeepCopy()
	unstructured.RemoveNestedField(u.Object, "status")
	for _, f := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "ownerReferences", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"} {
		unstructured.RemoveNestedField(u.Object, "metadata", f)
	}
	labels := u.GetLabels()
	delete(labels, LabelSource)
	if labels[LabelManagedBy] == FieldManager {
		delete(labels, LabelManagedBy)
	}
	if len(labels) == 0 {
		labels = nil
	}
	u.SetLabels(labels)
	ann := u.GetAnnotations()
	delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
	for k := range ann {
		if strings.HasPrefix(k, appliedMetadataPrefix) {
			delete(ann, k)
		}
	}
	if len(ann) == 0 {
		ann = nil
	}
	u.SetAnnotations(ann)
	return u
}

// apply writes the change into the checkout at root, whose Source folder is dir.
func (ch *change) apply(root, dir string, now time.Time) (gitsource.Edit, error) {
	if ch.object != nil {
		return gitsource.EditTree(root, dir, *ch.object)
	}
	return editLock(root, dir, ch.lock, now)
}

// lockHeader starts a lock file that did not exist.
const lockHeader = "# Approved image digests, written by Plumbline (plumbline images lock).\napiVersion: plumbline.dev/v1alpha1\nkind: ImageLock\nimages: []\n"

// editLock moves (or adds) the lock file's entry of one tag to a digest, with the approval
// time, as a generic list-entry edit of the YAML; the result must parse as a lock.
func editLock(root, dir string, lc *lockChange, now time.Time) (gitsource.Edit, error) {
	name := path.Join(dir, images.LockFileName)
	file := filepath.Join(root, filepath.FromSlash(name))
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = []byte(lockHeader), nil
	}
	if err != nil {
		return gitsource.Edit{}, err
	}
	out, err := gitsource.UpsertListEntry(name, data, "images", "image", lc.ref,
		map[string]string{"digest": lc.digest, "approvedAt": now.UTC().Format(time.RFC3339)},
		[]string{"digest", "approvedAt"}, []string{"mediaType", "platforms"})
	if err != nil {
		return gitsource.Edit{}, err
	}
	if _, err := images.ParseLock(name, out); err != nil {
		return gitsource.Edit{}, fmt.Errorf("the edited lock file does not parse: %w", err)
	}
	if err := os.WriteFile(file, out, 0o644); err != nil {
		return gitsource.Edit{}, err
	}
	return gitsource.Edit{Files: []string{name}, Notes: []string{fmt.Sprintf("%s approves %s for %s", name, lc.digest, lc.ref)}}, nil
}
