package reconciler

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/report"
)

func TestInventoryName(t *testing.T) {
	tests := []struct {
		name, source, want string
	}{
		{"a derived source name stays readable", "prod-3f2a9c1b0d4e", "inventory-prod-3f2a9c1b0d4e"},
		{"capitals get a hash of the original", "Prod", "inventory-prod-5f56359ef1"},
		{"another spelling, another hash", "PROD", "inventory-prod-e3c834596d"},
		{"dots and underscores", "apps.prod_eu", "inventory-apps-prod-eu-d4dd30aa67"},
		{"nothing usable", "__", "inventory-9911f4d2b1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inventoryName(tt.source)
			if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
				t.Errorf("inventoryName(%q) = %q, not an object name: %v", tt.source, got, errs)
			}
			if got != tt.want {
				t.Errorf("inventoryName(%q) = %q, want %q", tt.source, got, tt.want)
			}
		})
	}
	if inventoryName("Prod") == inventoryName("PROD") || inventoryName("Prod") == inventoryName("prod") {
		t.Error("two sources share an inventory ConfigMap")
	}
}

func TestInventoryEncodingRoundTrip(t *testing.T) {
	inv := &Inventory{Source: "shop", Entries: []InventoryEntry{
		{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: "web", UID: "u1"},
		{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "system:weird name_with spaces", UID: "u2"},
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web", UID: "u3"},
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "api", UID: "u4"},
		{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: "web", UID: "u5"}, // applied again: the later one counts
	}}
	data, err := encodeInventory(inv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeInventory(data)
	if err != nil {
		t.Fatal(err)
	}
	want := &Inventory{Source: "shop", Entries: []InventoryEntry{
		{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: "web", UID: "u5"},
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "api", UID: "u4"},
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web", UID: "u3"},
		{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "system:weird name_with spaces", UID: "u2"},
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s\nencoded: %s", d, data)
	}
	if want := `{"apiVersion":"apps/v1","kind":"Deployment","namespace":"shop","objects":[["api","u4"],["web","u3"]]}`; !strings.Contains(data, want) {
		t.Errorf("encoding %s does not group objects by kind and namespace as %s", data, want)
	}
	for _, bad := range []string{"", "{", `{"source":"x","objects":[{"kind":"Service","objects":[["a","b"]]}]}`,
		`{"source":"x","objects":[{"apiVersion":"v1","kind":"Service","objects":[[]]}]}`} {
		if _, err := decodeInventory(bad); err == nil {
			t.Errorf("decodeInventory(%q) accepted it", bad)
		}
	}
}

// bigInventory has n Deployments of realistic names and UIDs in one namespace.
func bigInventory(source string, n int) *Inventory {
	inv := &Inventory{Source: source}
	for i := range n {
		inv.Entries = append(inv.Entries, InventoryEntry{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop-prod",
			Name: fmt.Sprintf("checkout-frontend-%05d", i), UID: uuid.NewUUID()})
	}
	return inv
}

func TestInventoryStoreSizeLimit(t *testing.T) {
	s := newScenario(t, "nginx-story")
	store := NewConfigMapInventory(s.c.dynamic, s.namespace)
	size := func(inv *Inventory) int {
		data, err := encodeInventory(inv)
		if err != nil {
			t.Fatal(err)
		}
		return len(inventoryKey) + len(data)
	}
	// The most objects that fit, found by halving; then one more.
	lo, hi := 1, 40000
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if size(bigInventory("big", mid)) <= corev1.MaxSecretSize {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	fits := bigInventory("big", lo)
	t.Logf("%d objects fit in one inventory ConfigMap, %d bytes each", lo, size(fits)/lo)
	if lo < 10000 {
		t.Errorf("only %d objects fit in 1 MiB: the encoding is not compact", lo)
	}
	if err := store.Save(s.ctx, fits); err != nil {
		t.Fatalf("the API server refused an inventory under the limit: %v", err)
	}
	loaded, err := store.Load(s.ctx, "big")
	if err != nil || len(loaded.Entries) != lo {
		t.Fatalf("load: %d entries, %v", len(loaded.Entries), err)
	}

	tooBig := bigInventory("big", lo+1)
	tooBig.ResourceVersion = loaded.ResourceVersion
	err = store.Save(s.ctx, tooBig)
	var tooLarge *InventoryTooLargeError
	if !errors.As(err, &tooLarge) {
		t.Fatalf("save over the limit: %v, want *InventoryTooLargeError", err)
	}
	want := fmt.Sprintf("the inventory of source big, %d objects, takes %d bytes, more than the 1048576 bytes a ConfigMap holds: split the source into smaller ones", lo+1, size(tooBig))
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
}

func TestInventoryStoreRefusesAStaleSave(t *testing.T) {
	s := newScenario(t, "nginx-story")
	store := NewConfigMapInventory(s.c.dynamic, s.namespace)
	first, err := store.Load(s.ctx, "shop")
	if err != nil || first.Exists() {
		t.Fatalf("load before any save: %+v, %v", first, err)
	}
	second := *first
	first.Entries = bigInventory("shop", 1).Entries
	if err := store.Save(s.ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(s.ctx, &second); !apierrors.IsConflict(err) {
		t.Errorf("a second create from the same load: %v, want a Conflict", err)
	}
	stale := *first
	first.Entries = nil
	if err := store.Save(s.ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(s.ctx, &stale); !apierrors.IsConflict(err) {
		t.Errorf("an update from a stale load: %v, want a Conflict", err)
	}
	cm, err := env.Clientset.CoreV1().ConfigMaps(s.namespace).Get(s.ctx, "inventory-shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Labels[labelInventoryOf] != "shop" || cm.Data[inventoryKey] != `{"source":"shop","objects":[]}` {
		t.Errorf("stored ConfigMap: labels %v, data %q", cm.Labels, cm.Data)
	}
}

func TestConcurrentAppliesOfOneSourceAllRecorded(t *testing.T) {
	s := newScenario(t, "nginx-story")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			cm := s.configMap(fmt.Sprintf("part-%d", i)).Object
			errs[i] = s.c.Apply(s.ctx, []*unstructured.Unstructured{cm}, ApplyOptions{SourceName: s.source})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent applies: %v", err)
	}
	inv, err := s.c.inventoryStore().Load(s.ctx, s.source)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Entries) != n+2 {
		t.Errorf("inventory holds %d objects, want the 2 of the fixture and %d ConfigMaps: %+v", len(inv.Entries), n, inv.Entries)
	}
}

func TestApplyKeepsLiveObjectsInTheInventoryUntilTheyAreGone(t *testing.T) {
	s := newScenario(t, "nginx-story")
	names := func() []string {
		inv, err := s.c.inventoryStore().Load(s.ctx, s.source)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range inv.Entries {
			out = append(out, e.Kind+"/"+e.Namespace+"/"+e.Name)
		}
		return out
	}
	applyAll := func(objs []manifests.Object) {
		us := make([]*unstructured.Unstructured, len(objs))
		for i, o := range objs {
			us[i] = o.Object
		}
		if err := s.c.Apply(s.ctx, us, ApplyOptions{SourceName: s.source, Complete: true}); err != nil {
			t.Fatal(err)
		}
	}
	both := []string{"Service/" + s.namespace + "/nginx", "Deployment/" + s.namespace + "/nginx-deployment"}
	if d := cmp.Diff(both, names()); d != "" {
		t.Fatalf("after the first apply (-want +got):\n%s", d)
	}
	applyAll(s.without("Service", "nginx"))
	if d := cmp.Diff(both, names()); d != "" {
		t.Errorf("after a complete apply without the Service (-want +got):\n%s", d)
	}
	if err := env.Clientset.CoreV1().Services(s.namespace).Delete(s.ctx, "nginx", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	s.apply(s.without("Service", "nginx"))
	if d := cmp.Diff(both, names()); d != "" {
		t.Errorf("an apply of some objects checked the others (-want +got):\n%s", d)
	}
	applyAll(s.without("Service", "nginx"))
	if d := cmp.Diff(both[1:], names()); d != "" {
		t.Errorf("after a complete apply once the Service was deleted (-want +got):\n%s", d)
	}
	// Pruning forgets what it deleted.
	ref := report.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: s.namespace, Name: "nginx-deployment"}
	if err := s.c.ForgetApplied(s.ctx, s.source, ref); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 0 {
		t.Errorf("after ForgetApplied: %v", got)
	}
}

func TestFirstInventoryStartsFromTheLabel(t *testing.T) {
	s := newScenario(t, "nginx-story")
	s.waitForEndpoints("nginx")
	// The source as it was before inventories: labelled objects, and none recorded.
	s.dropInventory()
	s.createConfigMap(s.namespace, "left-behind", "kubectl-create", map[string]string{LabelSource: s.source})
	if err := s.c.ForgetApplied(s.ctx, s.source, refOf(s.objects[0].Object)); err != nil {
		t.Fatal(err)
	}
	if inv, err := s.c.inventoryStore().Load(s.ctx, s.source); err != nil || inv.Exists() {
		t.Fatalf("ForgetApplied made an inventory: %+v, %v", inv, err)
	}

	// A revert applies one object; the inventory it starts holds what the label said.
	if err := s.c.Apply(s.ctx, []*unstructured.Unstructured{s.objects[0].Object}, ApplyOptions{SourceName: s.source}); err != nil {
		t.Fatal(err)
	}
	inv, err := s.c.inventoryStore().Load(s.ctx, s.source)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range inv.Entries {
		got = append(got, e.Kind+"/"+e.Name)
	}
	if d := cmp.Diff([]string{"ConfigMap/left-behind", "Service/nginx", "Deployment/nginx-deployment"}, got); d != "" {
		t.Errorf("first inventory (-want +got):\n%s", d)
	}
	want := []extra{{"ConfigMap", s.namespace, "left-behind", report.ReasonPrunedFromGit}}
	if d := cmp.Diff(want, extrasOf(t, s.diff(s.objects))); d != "" {
		t.Errorf("extra findings (-want +got):\n%s", d)
	}
}

// TestInventoryDecodeRoundTrips decodes what a person may have written into the ConfigMap, and
// encodes it back unchanged. (No fuzz target: this package's TestMain starts a control plane in
// every fuzz worker.)
func TestInventoryDecodeRoundTrips(t *testing.T) {
	for _, data := range []string{
		`{"source":"shop","objects":[{"apiVersion":"apps/v1","kind":"Deployment","namespace":"shop","objects":[["web","u1"]]}]}`,
		`{"source":"","objects":[{"apiVersion":"v1","kind":"Namespace","objects":[["a","b","c"]]}]}`,
		`{"source":"x","objects":[{"apiVersion":"v1","kind":"Service","namespace":"a","objects":[["s","1"]]},{"apiVersion":"v1","kind":"Service","namespace":"a","objects":[["s","2"]]}],"extra":1}`,
	} {
		inv, err := decodeInventory(data)
		if err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		again, err := encodeInventory(inv)
		if err != nil {
			t.Fatalf("encode what was decoded: %v", err)
		}
		back, err := decodeInventory(again)
		if err != nil {
			t.Fatalf("decode what was encoded: %v\n%s", err, again)
		}
		if d := cmp.Diff(inv, back); d != "" {
			t.Errorf("round trip of %s (-first +second):\n%s", data, d)
		}
	}
}

func TestCorruptInventoryIsAnErrorNamingIt(t *testing.T) {
	s := newScenario(t, "nginx-story")
	for _, tt := range []struct{ data, want string }{
		{`{"source":`, "inventory ConfigMap plumbline-system/" + inventoryName(s.source) + ": key inventory.json: unexpected end of JSON input"},
		{`{"source":"someone-else","objects":[]}`, "inventory ConfigMap plumbline-system/" + inventoryName(s.source) + ` holds the inventory of source "someone-else", not "` + s.source + `"`},
	} {
		_, err := env.Clientset.CoreV1().ConfigMaps(InventoryNamespace).Patch(s.ctx, inventoryName(s.source), types.MergePatchType,
			[]byte(`{"data":{"inventory.json":`+strconv.Quote(tt.data)+`}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"})
		if err != nil {
			t.Fatal(err)
		}
		opts := DefaultDiffOptions()
		opts.SourceName = s.source
		if _, err := s.c.Diff(s.ctx, s.objects, opts); err == nil || err.Error() != tt.want {
			t.Errorf("diff with inventory %s: error %v\nwant %s", tt.data, err, tt.want)
		}
	}
}
