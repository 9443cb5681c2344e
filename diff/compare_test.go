package diff

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// fakeServer answers dry runs with the objects of a scenario's dry-run-apply.yaml and
// dry-run-create.yaml: what the API server would store. It records the objects it was sent.
type fakeServer struct {
	applied, created *unstructured.Unstructured // answers; nil: the call is unexpected
	err              error                      // returned by every call when set
	applyErr         error                      // returned by dry-run applies when set
	createErr        error                      // returned by dry-run creates when set

	applyCalls, createCalls []*unstructured.Unstructured
	applyManagers           []string // the field manager of each dry-run apply
}

func (f *fakeServer) DryRunApply(_ context.Context, desired, _ *unstructured.Unstructured, manager string) (*unstructured.Unstructured, error) {
	f.applyCalls = append(f.applyCalls, desired.DeepCopy())
	f.applyManagers = append(f.applyManagers, manager)
	if f.err != nil {
		return nil, f.err
	}
	if f.applyErr != nil {
		return nil, f.applyErr
	}
	if f.applied == nil {
		return nil, errors.New("fake: unexpected dry-run apply")
	}
	return f.applied.DeepCopy(), nil
}

func (f *fakeServer) DryRunCreate(_ context.Context, desired, _ *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	f.createCalls = append(f.createCalls, desired.DeepCopy())
	if f.err != nil {
		return nil, f.err
	}
	if f.createErr != nil {
		return nil, f.createErr
	}
	if f.created == nil {
		return nil, errors.New("fake: unexpected dry-run create")
	}
	return f.created.DeepCopy(), nil
}

// scenario reads testdata/<name>/: desired.yaml and live.yaml, and the dry-run answers when the
// scenario has them.
func scenario(t *testing.T, name string) (desired, live *unstructured.Unstructured, server *fakeServer) {
	t.Helper()
	read := func(file string) *unstructured.Unstructured {
		data, err := os.ReadFile(filepath.Join("testdata", name, file))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return fromYAML(t, string(data))
	}
	desired, live = read("desired.yaml"), read("live.yaml")
	if desired == nil || live == nil {
		t.Fatalf("testdata/%s needs desired.yaml and live.yaml", name)
	}
	return desired, live, &fakeServer{applied: read("dry-run-apply.yaml"), created: read("dry-run-create.yaml")}
}

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

const nginxContainer = `.spec.template.spec.containers[name="nginx"]`

func TestCompare(t *testing.T) {
	tests := []struct {
		name     string
		scenario string
		mutate   func(desired, live *unstructured.Unstructured, server *fakeServer) // optional
		opts     Options
		want     Result
	}{
		{
			name:     "live matches Git: no request",
			scenario: "in-sync",
			opts:     DefaultOptions(),
			want:     Result{DryRuns: 0},
		},
		{
			name:     "quantities in other units: no request",
			scenario: "resources-in-other-units",
			opts:     DefaultOptions(),
			want:     Result{DryRuns: 0},
		},
		{
			name:     "image set by kubectl: confirmed by the dry run, attributed from managedFields",
			scenario: "image-set-by-kubectl",
			opts:     DefaultOptions(),
			want: Result{DryRuns: 1, Fields: []Field{{
				Path: nginxContainer + ".image", Desired: "nginx:1.21.0", Live: "nginx:latest",
				Manager: "kubectl-set", Time: at("2026-11-28T22:47:27Z"),
			}}},
		},
		{
			name:     "image rewritten by a webhook: the dry run stores live's value, no drift",
			scenario: "image-rewritten-by-webhook",
			opts:     DefaultOptions(),
			want:     Result{DryRuns: 1},
		},
		{
			name:     "env var added by kubectl edit: one field for the element",
			scenario: "env-added-by-kubectl-edit",
			opts:     DefaultOptions(),
			want: Result{DryRuns: 1, Fields: []Field{{
				Path:    nginxContainer + `.env[name="DEBUG"]`,
				Live:    map[string]any{"name": "DEBUG", "value": "true"},
				Manager: "kubectl-edit", Time: at("2026-11-28T23:05:00Z"),
			}}},
		},
		{
			name:     "env var that the server would add itself: no field",
			scenario: "env-added-by-kubectl-edit",
			mutate: func(_, _ *unstructured.Unstructured, server *fakeServer) {
				// A mutating webhook injects DEBUG=true into every container it admits.
				c := server.created.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
				c["env"] = append(c["env"].([]any), map[string]any{"name": "DEBUG", "value": "true"})
			},
			opts: DefaultOptions(),
			want: Result{DryRuns: 1},
		},
		{
			name:     "env list added by kubectl edit where Git declares none: one field for the list",
			scenario: "env-list-added-by-kubectl-edit",
			opts:     DefaultOptions(),
			want: Result{DryRuns: 1, Fields: []Field{{
				Path:    nginxContainer + ".env",
				Live:    []any{map[string]any{"name": "DEBUG", "value": "true"}},
				Manager: "kubectl-edit", Time: at("2026-11-28T23:05:00Z"),
			}}},
		},
		{
			name:     "additions are not checked without interactive managers",
			scenario: "env-added-by-kubectl-edit",
			opts:     Options{},
			want:     Result{DryRuns: 0},
		},
		{
			name:     "additions by a manager that is not a person",
			scenario: "env-added-by-kubectl-edit",
			opts:     Options{InteractiveManagers: []string{"k9s"}},
			want:     Result{DryRuns: 0},
		},
		{
			name:     "an added path that is ignored",
			scenario: "env-added-by-kubectl-edit",
			opts:     Options{InteractiveManagers: []string{"kubectl*"}, Ignore: []IgnoreRule{{Paths: []string{".spec.template.spec.containers[*].env"}}}},
			want:     Result{DryRuns: 0},
		},
		{
			name:     "defaults owned by kubectl apply: the dry-run create has them, no drift",
			scenario: "created-by-kubectl-apply",
			opts:     DefaultOptions(),
			want:     Result{DryRuns: 1},
		},
		{
			name:     "replicas set by the autoscaler, which is not a person: no request",
			scenario: "replicas-owned-by-autoscaler",
			opts:     DefaultOptions(),
			want:     Result{DryRuns: 0},
		},
		{
			name:     "two fields edited, sorted by path",
			scenario: "replicas-and-image-edited",
			opts:     DefaultOptions(),
			want: Result{DryRuns: 1, Fields: []Field{
				{Path: ".spec.replicas", Desired: int64(3), Live: int64(5), Manager: "kubectl-scale", Time: at("2026-11-28T22:40:00Z")},
				{Path: nginxContainer + ".image", Desired: "nginx:1.21.0", Live: "nginx:latest", Manager: "kubectl-set", Time: at("2026-11-28T22:47:27Z")},
			}},
		},
		{
			name:     "an ignore rule drops replicas",
			scenario: "replicas-and-image-edited",
			opts:     Options{Ignore: []IgnoreRule{{Kinds: []string{"Deployment"}, Paths: []string{".spec.replicas"}}}},
			want: Result{DryRuns: 1, Fields: []Field{
				{Path: nginxContainer + ".image", Desired: "nginx:1.21.0", Live: "nginx:latest", Manager: "kubectl-set", Time: at("2026-11-28T22:47:27Z")},
			}},
		},
		{
			name:     "ignore rules that drop every difference: no request",
			scenario: "replicas-and-image-edited",
			opts: Options{Ignore: []IgnoreRule{
				{Paths: []string{".spec.replicas"}},
				{Names: []string{"nginx-*"}, Paths: []string{".spec.template.spec.containers[*].image"}},
			}},
			want: Result{DryRuns: 0},
		},
		{
			name:     "ignore rules for other objects drop nothing",
			scenario: "replicas-and-image-edited",
			opts: Options{Ignore: []IgnoreRule{
				{Kinds: []string{"StatefulSet"}, Paths: []string{".spec.replicas"}},
				{Namespaces: []string{"kube-*"}, Paths: []string{".spec"}},
				{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "redis"}}, Paths: []string{".spec"}},
			}},
			want: Result{DryRuns: 1, Fields: []Field{
				{Path: ".spec.replicas", Desired: int64(3), Live: int64(5), Manager: "kubectl-scale", Time: at("2026-11-28T22:40:00Z")},
				{Path: nginxContainer + ".image", Desired: "nginx:1.21.0", Live: "nginx:latest", Manager: "kubectl-set", Time: at("2026-11-28T22:47:27Z")},
			}},
		},
		{
			name:     "an ignore rule selected by the live object's labels",
			scenario: "replicas-and-image-edited",
			opts:     Options{Ignore: []IgnoreRule{{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}}, Paths: []string{".spec"}}}},
			want:     Result{DryRuns: 0},
		},
		{
			name:     "Secret values come masked",
			scenario: "secret-edited-by-kubectl",
			opts:     DefaultOptions(),
			want: Result{DryRuns: 2, Fields: []Field{
				{Path: ".data.debug-token", Live: MaskedValue, Manager: "kubectl-edit", Time: at("2026-11-28T23:30:00Z"), Masked: true},
				{Path: ".data.password", Desired: MaskedValue, Live: MaskedDiffers, Manager: "kubectl-edit", Time: at("2026-11-28T23:30:00Z"), Masked: true},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desired, live, server := scenario(t, tt.scenario)
			if tt.mutate != nil {
				tt.mutate(desired, live, server)
			}
			d, err := New(server, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			desiredBefore, liveBefore := desired.DeepCopy(), live.DeepCopy()
			got, err := d.Compare(t.Context(), desired, live)
			if err != nil {
				t.Fatalf("Compare: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Compare (-want +got):\n%s", d)
			}
			if len(server.applyCalls)+len(server.createCalls) != got.DryRuns {
				t.Errorf("Result.DryRuns = %d, but the server got %d apply and %d create requests", got.DryRuns, len(server.applyCalls), len(server.createCalls))
			}
			if d := cmp.Diff(desiredBefore, desired); d != "" {
				t.Errorf("Compare modified desired (-before +after):\n%s", d)
			}
			if d := cmp.Diff(liveBefore, live); d != "" {
				t.Errorf("Compare modified live (-before +after):\n%s", d)
			}
		})
	}
}

func TestCompareErrors(t *testing.T) {
	denied := errors.New(`admission webhook "validate.kyverno.svc" denied the request: image tag 'latest' is not allowed`)
	tests := []struct {
		name     string
		scenario string
		mutate   func(desired, live *unstructured.Unstructured)
		err      error
		wantErr  string
		prefix   bool // wantErr is the start of the error: the rest is structured-merge-diff's
		wantIs   error
		wantSent [2]int // dry-run apply and create requests
	}{
		{
			name:     "dry-run apply fails",
			scenario: "image-set-by-kubectl",
			err:      denied,
			wantErr:  "dry-run apply: " + denied.Error(),
			wantIs:   denied,
			wantSent: [2]int{1, 0},
		},
		{
			name:     "dry-run create fails",
			scenario: "env-added-by-kubectl-edit",
			err:      context.DeadlineExceeded,
			wantErr:  "dry-run create (to learn the server's defaults): context deadline exceeded",
			wantIs:   context.DeadlineExceeded,
			wantSent: [2]int{0, 1},
		},
		{
			name:     "desired does not match the schema",
			scenario: "in-sync",
			mutate: func(desired, _ *unstructured.Unstructured) {
				desired.Object["spec"].(map[string]any)["replicas"] = "three"
			},
			wantErr: `desired object does not match the schema of apps/v1, Kind=Deployment: .spec.replicas: `,
			prefix:  true,
		},
		{
			name:     "live does not match the schema",
			scenario: "in-sync",
			mutate: func(_, live *unstructured.Unstructured) {
				live.Object["spec"].(map[string]any)["paused"] = "yes"
			},
			wantErr: `live object does not match the schema of apps/v1, Kind=Deployment: .spec.paused: `,
			prefix:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desired, live, server := scenario(t, tt.scenario)
			server.err = tt.err
			if tt.mutate != nil {
				tt.mutate(desired, live)
			}
			d, err := New(server, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.Compare(t.Context(), desired, live)
			got := errString(err)
			if tt.prefix && len(got) > len(tt.wantErr) {
				got = got[:len(tt.wantErr)]
			}
			if diff := cmp.Diff(tt.wantErr, got); diff != "" {
				t.Errorf("Compare error (-want +got):\n%s", diff)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Compare error %v does not wrap %v", err, tt.wantIs)
			}
			if got := [2]int{len(server.applyCalls), len(server.createCalls)}; got != tt.wantSent {
				t.Errorf("dry-run apply and create requests: got %v, want %v", got, tt.wantSent)
			}
		})
	}
}

// compareScenario runs Compare with the default options.
func compareScenario(t *testing.T, desired, live *unstructured.Unstructured, server *fakeServer) Result {
	t.Helper()
	d, err := New(server, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Compare(t.Context(), desired, live)
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	return got
}

// `kubectl rollout restart` stamps kubectl.kubernetes.io/restartedAt on the pod template, the
// only place that annotation is ever written. prepare drops it from the object's own
// annotations only, so every rollout restart is reported as drift.
func TestCompareRolloutRestartIsNotDrift(t *testing.T) {
	desired, live, server := scenario(t, "rollout-restarted-by-kubectl")
	got := compareScenario(t, desired, live, server)
	if d := cmp.Diff([]Field(nil), got.Fields); d != "" {
		t.Errorf("Compare fields (-want +got):\n%s", d)
	}
}

// A field that Git leaves to the server's default and that a person changed (here the rollout's
// maxUnavailable, from 25% to 100%, with kubectl edit) is drift, with the default as the desired
// value. The same field owned by the tool that created Git's object is not: it was given the
// default at creation, and defaults such as a Service's clusterIP differ on every create.
func TestCompareDefaultedFieldChangedByAPerson(t *testing.T) {
	desired, live, server := scenario(t, "strategy-edited-by-kubectl")
	got := compareScenario(t, desired, live, server)
	want := []Field{{
		Path: ".spec.strategy.rollingUpdate.maxUnavailable", Desired: "25%", Live: "100%",
		Manager: "kubectl-edit", Time: at("2026-11-28T23:20:00Z"), Note: noteDefaultChanged,
	}}
	if d := cmp.Diff(want, got.Fields); d != "" {
		t.Errorf("Compare fields (-want +got):\n%s", d)
	}
	if got.DryRuns != 1 {
		t.Errorf("dry runs = %d, want 1 (the create that tells the defaults)", got.DryRuns)
	}
}

func TestCompareDefaultOwnedByTheCreatorIsNotDrift(t *testing.T) {
	desired, live, server := scenario(t, "strategy-edited-by-kubectl")
	// kubectl apply (client-side) created the object: it owns Git's fields and every default,
	// and the default it was given differs from this create's, as an allocated value does.
	mf := live.GetManagedFields()
	mf[0].Manager, mf[0].Operation = "kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate
	mf[0].FieldsV1.Raw = []byte(`{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:strategy":{"f:rollingUpdate":{"f:maxUnavailable":{}}}}}`)
	live.SetManagedFields(mf[:2])
	got := compareScenario(t, desired, live, server)
	if d := cmp.Diff([]Field(nil), got.Fields); d != "" {
		t.Errorf("Compare fields (-want +got):\n%s", d)
	}
}

// Git declares DNS on port 53 over TCP (protocol left to its default) and UDP, as CoreDNS does.
func TestCompareSamePortTwoProtocols(t *testing.T) {
	ports := func(u *unstructured.Unstructured, list ...any) {
		c := u.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
		c["ports"] = list
	}
	port := func(fields ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(fields); i += 2 {
			m[fields[i].(string)] = fields[i+1]
		}
		return m
	}
	udp := nginxContainer + `.ports[containerPort=53,protocol="UDP"]`
	tests := []struct {
		name                   string
		desired, live, applied []any
		want                   []Field
	}{
		{
			name:    "the UDP port was renamed",
			desired: []any{port("containerPort", int64(53), "name", "dns-tcp"), port("containerPort", int64(53), "protocol", "UDP", "name", "dns")},
			live:    []any{port("containerPort", int64(53), "protocol", "TCP", "name", "dns-tcp"), port("containerPort", int64(53), "protocol", "UDP", "name", "dns-udp")},
			applied: []any{port("containerPort", int64(53), "protocol", "TCP", "name", "dns-tcp"), port("containerPort", int64(53), "protocol", "UDP", "name", "dns")},
			want:    []Field{{Path: udp + ".name", Desired: "dns", Live: "dns-udp"}},
		},
		{
			name:    "the UDP port's host port was changed to the TCP port's",
			desired: []any{port("containerPort", int64(53), "hostPort", int64(53)), port("containerPort", int64(53), "protocol", "UDP", "hostPort", int64(1053))},
			live:    []any{port("containerPort", int64(53), "protocol", "TCP", "hostPort", int64(53)), port("containerPort", int64(53), "protocol", "UDP", "hostPort", int64(53))},
			applied: []any{port("containerPort", int64(53), "protocol", "TCP", "hostPort", int64(53)), port("containerPort", int64(53), "protocol", "UDP", "hostPort", int64(1053))},
			want:    []Field{{Path: udp + ".hostPort", Desired: int64(1053), Live: int64(53)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desired, live, server := scenario(t, "in-sync")
			live.SetManagedFields(nil)
			server.applied = live.DeepCopy()
			ports(desired, tt.desired...)
			ports(live, tt.live...)
			ports(server.applied, tt.applied...)
			got := compareScenario(t, desired, live, server)
			if d := cmp.Diff(tt.want, got.Fields); d != "" {
				t.Errorf("Compare fields (-want +got):\n%s", d)
			}
		})
	}
}

// A Secret's labels and annotations are not secret, yet every field of a Secret is masked: the
// report then reads "Secret value .metadata.labels.team differs from Git (values masked)".
// secretValuePath, which tells data from the rest, is never called.
func TestCompareSecretMetadataIsNotMasked(t *testing.T) {
	desired, live, server := scenario(t, "secret-edited-by-kubectl")
	desired.SetLabels(map[string]string{"team": "payments"})
	live.SetLabels(map[string]string{"team": "growth"})
	server.applied.SetLabels(map[string]string{"team": "payments"})
	got := compareScenario(t, desired, live, server)
	want := []Field{
		{Path: ".data.debug-token", Live: MaskedValue, Manager: "kubectl-edit", Time: at("2026-11-28T23:30:00Z"), Masked: true},
		{Path: ".data.password", Desired: MaskedValue, Live: MaskedDiffers, Manager: "kubectl-edit", Time: at("2026-11-28T23:30:00Z"), Masked: true},
		{Path: ".metadata.labels.team", Desired: "payments", Live: "growth"},
	}
	if d := cmp.Diff(want, got.Fields); d != "" {
		t.Errorf("Compare fields (-want +got):\n%s", d)
	}
}
