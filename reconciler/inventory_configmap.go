package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// InventoryNamespace is where Apply and Diff keep the inventories of sources: the controller's
// namespace, as Flux keeps its in flux-system and Argo CD in argocd. There, an application team
// that may write ConfigMaps in its own namespace cannot add someone else's object to the list of
// what Plumbline would prune, and the record outlives the deletion of an application namespace.
const InventoryNamespace = "plumbline-system"

// inventoryKey is the ConfigMap key that holds the encoded inventory.
const inventoryKey = "inventory.json"

// maxConfigMapData is what the API server accepts in a ConfigMap's data, keys included (1 MiB).
const maxConfigMapData = corev1.MaxSecretSize

// Labels of the inventory ConfigMaps, so that `kubectl get cm -l` finds them.
const (
	labelInventoryOf = "plumbline.dev/inventory-of"
	labelComponent   = "app.kubernetes.io/component"
)

var configMaps = corev1.SchemeGroupVersion.WithResource("configmaps")

// ConfigMapInventory keeps each source's inventory in a ConfigMap, inventory-<source>, of one
// namespace. Its encoding is compact JSON, one [name, uid] pair per object grouped by kind and
// namespace: about 80 bytes an object, so some 12,000 objects fit in a ConfigMap's 1 MiB.
type ConfigMapInventory struct {
	client    dynamic.Interface
	namespace string
}

// NewConfigMapInventory returns a store in namespace; an empty namespace is InventoryNamespace.
func NewConfigMapInventory(client dynamic.Interface, namespace string) *ConfigMapInventory {
	if namespace == "" {
		namespace = InventoryNamespace
	}
	return &ConfigMapInventory{client: client, namespace: namespace}
}

// inventoryStore is the store that Apply writes and Diff reads: the Cluster's own when one was
// set (the controller remembers inventories, and writes them as itself also when it applies as a
// Source's service account), else the ConfigMaps of InventoryNamespace.
func (c *Cluster) inventoryStore() InventoryStore {
	if c.inventory != nil {
		return c.inventory
	}
	return NewConfigMapInventory(c.dynamic, InventoryNamespace)
}

// InventoryTooLargeError is Save's error for an inventory that does not fit in a ConfigMap.
type InventoryTooLargeError struct {
	Source         string
	Objects, Bytes int
}

func (e *InventoryTooLargeError) Error() string {
	return fmt.Sprintf("the inventory of source %s, %d objects, takes %d bytes, more than the %d bytes a ConfigMap holds: split the source into smaller ones",
		e.Source, e.Objects, e.Bytes, maxConfigMapData)
}

// Load returns the source's inventory; an empty one, not Exists, when the ConfigMap (or its
// namespace) is not there.
func (s *ConfigMapInventory) Load(ctx context.Context, source string) (*Inventory, error) {
	name := inventoryName(source)
	u, err := s.client.Resource(configMaps).Namespace(s.namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &Inventory{Source: source}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inventory ConfigMap %s/%s: get: %w", s.namespace, name, err)
	}
	var cm corev1.ConfigMap
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cm); err != nil {
		return nil, fmt.Errorf("inventory ConfigMap %s/%s: %w", s.namespace, name, err)
	}
	inv, err := decodeInventory(cm.Data[inventoryKey])
	if err != nil {
		return nil, fmt.Errorf("inventory ConfigMap %s/%s: key %s: %w", s.namespace, name, inventoryKey, err)
	}
	if inv.Source != source {
		return nil, fmt.Errorf("inventory ConfigMap %s/%s holds the inventory of source %q, not %q", s.namespace, name, inv.Source, source)
	}
	inv.ResourceVersion = cm.ResourceVersion
	return inv, nil
}

// Save writes inv, creating the namespace when it is not there (as `helm install
// --create-namespace` does). It refuses an inventory over 1 MiB with *InventoryTooLargeError.
func (s *ConfigMapInventory) Save(ctx context.Context, inv *Inventory) error {
	name := inventoryName(inv.Source)
	data, err := encodeInventory(inv)
	if err != nil {
		return fmt.Errorf("inventory ConfigMap %s/%s: %w", s.namespace, name, err)
	}
	if size := len(inventoryKey) + len(data); size > maxConfigMapData {
		return &InventoryTooLargeError{Source: inv.Source, Objects: len(inv.Entries), Bytes: size}
	}
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.namespace, ResourceVersion: inv.ResourceVersion,
			Labels: map[string]string{labelInventoryOf: inv.Source, LabelManagedBy: FieldManager, labelComponent: "inventory"}},
		Data: map[string]string{inventoryKey: data},
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
	if err != nil {
		return fmt.Errorf("inventory ConfigMap %s/%s: %w", s.namespace, name, err)
	}
	u := &unstructured.Unstructured{Object: m}
	client := s.client.Resource(configMaps).Namespace(s.namespace)
	var saved *unstructured.Unstructured
	if inv.Exists() {
		saved, err = client.Update(ctx, u, metav1.UpdateOptions{FieldManager: FieldManager})
		if apierrors.IsNotFound(err) { // deleted since Load: load again
			err = apierrors.NewConflict(configMaps.GroupResource(), name, err)
		}
	} else {
		saved, err = client.Create(ctx, u, metav1.CreateOptions{FieldManager: FieldManager})
		if apierrors.IsNotFound(err) {
			if err = s.createNamespace(ctx); err == nil {
				saved, err = client.Create(ctx, u, metav1.CreateOptions{FieldManager: FieldManager})
			}
		}
		if apierrors.IsAlreadyExists(err) { // another writer created it since Load: load again
			err = apierrors.NewConflict(configMaps.GroupResource(), name, err)
		}
	}
	if err != nil {
		return fmt.Errorf("inventory ConfigMap %s/%s: save: %w", s.namespace, name, err)
	}
	inv.ResourceVersion = saved.GetResourceVersion()
	return nil
}

// Delete deletes the source's ConfigMap; one that is not there is no error.
func (s *ConfigMapInventory) Delete(ctx context.Context, source string) error {
	name := inventoryName(source)
	err := s.client.Resource(configMaps).Namespace(s.namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("inventory ConfigMap %s/%s: delete: %w", s.namespace, name, err)
	}
	return nil
}

func (s *ConfigMapInventory) createNamespace(ctx context.Context) error {
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(s.namespace)
	ns.SetLabels(map[string]string{LabelManagedBy: FieldManager})
	_, err := s.client.Resource(corev1.SchemeGroupVersion.WithResource("namespaces")).Create(ctx, ns, metav1.CreateOptions{FieldManager: FieldManager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", s.namespace, err)
	}
	return nil
}

var nameUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

// inventoryName is the ConfigMap name of a source's inventory. A source name is a label value,
// which may hold capitals, dots and underscores that this name does not take: such a name gets a hash of
// the original, so that two sources never share a ConfigMap.
func inventoryName(source string) string {
	safe := strings.Trim(nameUnsafe.ReplaceAllString(strings.ToLower(source), "-"), "-")
	if safe != source {
		sum := sha256.Sum256([]byte(source))
		safe = strings.TrimPrefix(safe+"-"+hex.EncodeToString(sum[:])[:10], "-")
	}
	return "inventory-" + safe
}

// inventoryDoc is the stored form of an Inventory.
type inventoryDoc struct {
	Source  string           `json:"source"`
	Objects []inventoryGroup `json:"objects"`
}

// inventoryGroup holds the objects of one kind in one namespace as [name, uid] pairs.
type inventoryGroup struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Namespace  string      `json:"namespace,omitempty"`
	Objects    [][2]string `json:"objects"`
}

func encodeInventory(inv *Inventory) (string, error) {
	doc := inventoryDoc{Source: inv.Source, Objects: []inventoryGroup{}}
	for _, e := range sortEntries(inv.Entries) {
		n := len(doc.Objects)
		if n == 0 || doc.Objects[n-1].APIVersion != e.APIVersion || doc.Objects[n-1].Kind != e.Kind || doc.Objects[n-1].Namespace != e.Namespace {
			doc.Objects = append(doc.Objects, inventoryGroup{APIVersion: e.APIVersion, Kind: e.Kind, Namespace: e.Namespace})
			n++
		}
		doc.Objects[n-1].Objects = append(doc.Objects[n-1].Objects, [2]string{e.Name, string(e.UID)})
	}
	b, err := json.Marshal(doc)
	return string(b), err
}

func decodeInventory(data string) (*Inventory, error) {
	var doc inventoryDoc
	if err := json.Unmarshal([]byte(data), &doc); err != nil {
		return nil, err
	}
	inv := &Inventory{Source: doc.Source}
	for _, g := range doc.Objects {
		if g.APIVersion == "" || g.Kind == "" {
			return nil, fmt.Errorf("a group of objects without apiVersion or kind")
		}
		for _, o := range g.Objects {
			if o[0] == "" || o[1] == "" {
				return nil, fmt.Errorf("%s %s: an object without a name or UID", g.APIVersion, g.Kind)
			}
			inv.Entries = append(inv.Entries, InventoryEntry{APIVersion: g.APIVersion, Kind: g.Kind, Namespace: g.Namespace, Name: o[0], UID: types.UID(o[1])})
		}
	}
	inv.Entries = sortEntries(inv.Entries)
	return inv, nil
}
