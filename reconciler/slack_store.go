package reconciler

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/plumbline/plumbline/notify"
)

// Names of the Slack state ConfigMaps.
const (
	slackStateKey     = "state.json.gz"
	labelNotifyOf     = "plumbline.dev/notify-of"
	annotationNotifyS = "plumbline.dev/source"
)

// SlackStore keeps each Source's Slack threads and outbox in a ConfigMap notify-<source> of the
// controller's namespace, gzipped JSON under binaryData: the incident's channel and thread ts,
// and every message not sent yet. Only the leader writes; a write that conflicts with another
// writer is retried over the newer version (a new leader owns the state).
type SlackStore struct {
	client    dynamic.Interface
	namespace string

	mu       sync.Mutex
	versions map[string]string // resourceVersion last read or written, by source
}

// NewSlackStore returns a store in namespace; empty is InventoryNamespace.
func NewSlackStore(client dynamic.Interface, namespace string) *SlackStore {
	if namespace == "" {
		namespace = InventoryNamespace
	}
	return &SlackStore{client: client, namespace: namespace, versions: map[string]string{}}
}

func slackStateName(source string) string {
	return "notify-" + inventoryName(source)[len("inventory-"):]
}

func (s *SlackStore) get(ctx context.Context, source string) (*corev1.ConfigMap, error) {
	name := slackStateName(source)
	u, err := s.client.Resource(configMaps).Namespace(s.namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var cm corev1.ConfigMap
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cm); err != nil {
		return nil, fmt.Errorf("Slack state ConfigMap %s/%s: %w", s.namespace, name, err)
	}
	return &cm, nil
}

// Load reads a Source's Slack state; an empty one when there is none.
func (s *SlackStore) Load(ctx context.Context, source string) (*notify.State, error) {
	cm, err := s.get(ctx, source)
	st := &notify.State{}
	if apierrors.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("Slack state ConfigMap %s/%s: get: %w", s.namespace, slackStateName(source), err)
	}
	s.mu.Lock()
	s.versions[source] = cm.ResourceVersion
	s.mu.Unlock()
	if got := cm.Annotations[annotationNotifyS]; got != source {
		return nil, fmt.Errorf("Slack state ConfigMap %s/%s holds the state of Source %q, not %q", s.namespace, cm.Name, got, source)
	}
	zr, err := gzip.NewReader(bytes.NewReader(cm.BinaryData[slackStateKey]))
	if err != nil {
		return nil, fmt.Errorf("Slack state ConfigMap %s/%s: key %s: %w", s.namespace, cm.Name, slackStateKey, err)
	}
	if err := json.NewDecoder(io.LimitReader(zr, 64<<20)).Decode(st); err != nil {
		return nil, fmt.Errorf("Slack state ConfigMap %s/%s: key %s: %w", s.namespace, cm.Name, slackStateKey, err)
	}
	return st, nil
}

// Save writes a Source's Slack state.
func (s *SlackStore) Save(ctx context.Context, source string, st *notify.State) error {
	name := slackStateName(source)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(st); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if buf.Len() > maxConfigMapData {
		return fmt.Errorf("Slack state ConfigMap %s/%s: %d bytes, more than a ConfigMap holds", s.namespace, name, buf.Len())
	}
	client := s.client.Resource(configMaps).Namespace(s.namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s.mu.Lock()
		rv := s.versions[source]
		s.mu.Unlock()
		cm := &corev1.ConfigMap{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.namespace, ResourceVersion: rv,
				Labels:      map[string]string{labelNotifyOf: sourceLabelOf(source), LabelManagedBy: FieldManager, labelComponent: "notify"},
				Annotations: map[string]string{annotationNotifyS: source}},
			BinaryData: map[string][]byte{slackStateKey: buf.Bytes()},
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{Object: m}
		var saved *unstructured.Unstructured
		if rv != "" {
			saved, err = client.Update(ctx, u, metav1.UpdateOptions{FieldManager: FieldManager})
		} else {
			saved, err = client.Create(ctx, u, metav1.CreateOptions{FieldManager: FieldManager})
			if apierrors.IsNotFound(err) {
				if err = NewConfigMapInventory(s.client, s.namespace).createNamespace(ctx); err == nil {
					saved, err = client.Create(ctx, u, metav1.CreateOptions{FieldManager: FieldManager})
				}
			}
			if apierrors.IsAlreadyExists(err) {
				err = apierrors.NewConflict(configMaps.GroupResource(), name, err)
			}
		}
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) { // a newer version, or gone: write over it
			cur, gerr := s.get(ctx, source)
			s.mu.Lock()
			s.versions[source] = ""
			if gerr == nil {
				s.versions[source] = cur.ResourceVersion
			}
			s.mu.Unlock()
			return apierrors.NewConflict(configMaps.GroupResource(), name, err)
		}
		if err != nil {
			return fmt.Errorf("Slack state ConfigMap %s/%s: save: %w", s.namespace, name, err)
		}
		s.mu.Lock()
		s.versions[source] = saved.GetResourceVersion()
		s.mu.Unlock()
		return nil
	})
}

// List names the Sources with a stored Slack state.
func (s *SlackStore) List(ctx context.Context) ([]string, error) {
	l, err := s.client.Resource(configMaps).Namespace(s.namespace).List(ctx, metav1.ListOptions{LabelSelector: labelNotifyOf})
	if err != nil {
		return nil, fmt.Errorf("Slack state ConfigMaps in %s: list: %w", s.namespace, err)
	}
	var out []string
	for _, u := range l.Items {
		if src := u.GetAnnotations()[annotationNotifyS]; src != "" {
			out = append(out, src)
		}
	}
	return out, nil
}

// sourceLabelOf is the label value of a Source named namespace/name.
func sourceLabelOf(source string) string {
	ns, name, _ := cutSource(source)
	return sourceLabel(keyOfName(ns, name))
}

// Delete removes a Source's Slack state; none is no error.
func (s *SlackStore) Delete(ctx context.Context, source string) error {
	name := slackStateName(source)
	err := s.client.Resource(configMaps).Namespace(s.namespace).Delete(ctx, name, metav1.DeleteOptions{})
	s.mu.Lock()
	delete(s.versions, source)
	s.mu.Unlock()
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("Slack state ConfigMap %s/%s: delete: %w", s.namespace, name, err)
	}
	return nil
}
