package report

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

const nginxImagePath = `.spec.template.spec.containers[name="nginx"].image`

func TestDescribeField(t *testing.T) {
	tests := []struct {
		name  string
		field Field
		want  string
	}{
		{
			name:  "image of a container",
			field: Field{Path: nginxImagePath, Desired: "nginx:1.21.0", Live: "nginx:latest"},
			want:  "Image changed from 'nginx:1.21.0' to 'nginx:latest'",
		},
		{
			name:  "a note follows the change",
			field: Field{Path: ".spec.sessionAffinity", Desired: "None", Live: "ClientIP", Note: "Git leaves this field to the server's default"},
			want:  "Field .spec.sessionAffinity changed from 'None' to 'ClientIP' (Git leaves this field to the server's default)",
		},
		{
			name:  "a field Git dropped is not called added",
			field: Field{Path: ".spec.minReadySeconds", Live: int64(10), Note: "Git no longer declares it"},
			want:  "Field .spec.minReadySeconds is set in the cluster but not declared in Git: 10 (Git no longer declares it)",
		},
		{
			name:  "image of an init container",
			field: Field{Path: `.spec.template.spec.initContainers[name="migrate"].image`, Desired: "migrate:2", Live: "migrate:3"},
			want:  "Image changed from 'migrate:2' to 'migrate:3'",
		},
		{
			name:  "replicas as JSON numbers are bare",
			field: Field{Path: ".spec.replicas", Desired: int64(3), Live: int64(5)},
			want:  "Replicas changed from 3 to 5",
		},
		{
			name:  "replicas decoded from JSON as float64 are bare",
			field: Field{Path: ".spec.replicas", Desired: float64(3), Live: float64(5)},
			want:  "Replicas changed from 3 to 5",
		},
		{
			name:  "generic string field names its path",
			field: Field{Path: `.spec.template.spec.containers[name="nginx"].imagePullPolicy`, Desired: "IfNotPresent", Live: "Always"},
			want:  `Field .spec.template.spec.containers[name="nginx"].imagePullPolicy changed from 'IfNotPresent' to 'Always'`,
		},
		{
			name:  "booleans are bare",
			field: Field{Path: ".spec.template.spec.hostNetwork", Desired: false, Live: true},
			want:  "Field .spec.template.spec.hostNetwork changed from false to true",
		},
		{
			name:  "numbers other than replicas are bare",
			field: Field{Path: ".spec.template.spec.terminationGracePeriodSeconds", Desired: int64(30), Live: 0.5},
			want:  "Field .spec.template.spec.terminationGracePeriodSeconds changed from 30 to 0.5",
		},
		{
			name:  "a number against a string keeps the string quoted",
			field: Field{Path: `.spec.ports[port=80,protocol="TCP"].targetPort`, Desired: int64(8080), Live: "http"},
			want:  `Field .spec.ports[port=80,protocol="TCP"].targetPort changed from 8080 to 'http'`,
		},
		{
			name:  "added string field",
			field: Field{Path: ".metadata.labels.debug", Live: "true"},
			want:  "Field .metadata.labels.debug added in the cluster but not declared in Git: 'true'",
		},
		{
			name: "added list element is rendered as compact JSON",
			field: Field{
				Path: `.spec.template.spec.containers[name="nginx"].env[name="DEBUG"]`,
				Live: map[string]any{"name": "DEBUG", "value": "1"},
			},
			want: `Field .spec.template.spec.containers[name="nginx"].env[name="DEBUG"] added in the cluster but not declared in Git: {"name":"DEBUG","value":"1"}`,
		},
		{
			name:  "added list is rendered as compact JSON",
			field: Field{Path: ".metadata.finalizers", Live: []any{"example.com/protect", "other"}},
			want:  `Field .metadata.finalizers added in the cluster but not declared in Git: ["example.com/protect","other"]`,
		},
		{
			name:  "added image is not described as a change",
			field: Field{Path: `.spec.template.spec.containers[name="debug"].image`, Live: "busybox"},
			want:  `Field .spec.template.spec.containers[name="debug"].image added in the cluster but not declared in Git: 'busybox'`,
		},
		{
			name:  "removed field",
			field: Field{Path: ".spec.replicas", Desired: int64(3)},
			want:  "Field .spec.replicas removed in the cluster (Git declares 3)",
		},
		{
			name:  "removed object field",
			field: Field{Path: `.spec.template.spec.containers[name="nginx"].resources`, Desired: map[string]any{"limits": map[string]any{"cpu": "500m"}}},
			want:  `Field .spec.template.spec.containers[name="nginx"].resources removed in the cluster (Git declares {"limits":{"cpu":"500m"}})`,
		},
		{
			name:  "both sides null",
			field: Field{Path: ".spec.paused"},
			want:  "Field .spec.paused differs",
		},
		{
			name:  "masked Secret value added",
			field: Field{Path: ".data.token", Live: "[masked]", Masked: true},
			want:  "Secret value .data.token added in the cluster but not declared in Git (value masked)",
		},
		{
			name:  "masked Secret value removed",
			field: Field{Path: ".data.token", Desired: "[masked]", Masked: true},
			want:  "Secret value .data.token removed in the cluster (value masked)",
		},
		{
			name:  "masked Secret value changed",
			field: Field{Path: ".data.password", Desired: "[masked]", Live: "[masked: differs from Git]", Masked: true},
			want:  "Secret value .data.password differs from Git (values masked)",
		},
		{
			name:  "list element whose key contains a dot is not a field",
			field: Field{Path: `.spec.template.spec.containers[name="nginx"].env[name="a.b"]`, Desired: map[string]any{"name": "a.b", "value": "1"}, Live: map[string]any{"name": "a.b", "value": "2"}},
			want:  `Field .spec.template.spec.containers[name="nginx"].env[name="a.b"] changed from {"name":"a.b","value":"1"} to {"name":"a.b","value":"2"}`,
		},
		{
			name:  "list element whose key ends in .image is not an image",
			field: Field{Path: `.spec.template.spec.volumes[name="cache.image"]`, Desired: map[string]any{"name": "cache.image"}, Live: map[string]any{"emptyDir": map[string]any{}, "name": "cache.image"}},
			want:  `Field .spec.template.spec.volumes[name="cache.image"] changed from {"name":"cache.image"} to {"emptyDir":{},"name":"cache.image"}`,
		},
		{
			name:  "a field after a key with a dot is found",
			field: Field{Path: `.spec.template.spec.containers[name="api.v2"].image`, Desired: "api:2.0.0", Live: "api:2.0.1"},
			want:  "Image changed from 'api:2.0.0' to 'api:2.0.1'",
		},
		{
			name:  "set element",
			field: Field{Path: `.metadata.finalizers[="example.com/protect"]`, Desired: "example.com/protect", Live: "example.com/other"},
			want:  `Field .metadata.finalizers[="example.com/protect"] changed from 'example.com/protect' to 'example.com/other'`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DescribeField(tt.field)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("DescribeField(%+v) (-want +got):\n%s", tt.field, d)
			}
		})
	}
}

func TestDescribeFields(t *testing.T) {
	tests := []struct {
		name   string
		fields []Field
		want   string
	}{
		{name: "none", fields: nil, want: ""},
		{
			name:   "one",
			fields: []Field{{Path: ".spec.replicas", Desired: int64(2), Live: int64(4)}},
			want:   "Replicas changed from 2 to 4",
		},
		{
			name: "several are joined with semicolons in order",
			fields: []Field{
				{Path: ".spec.replicas", Desired: int64(2), Live: int64(4)},
				{Path: nginxImagePath, Desired: "nginx:1.21.0", Live: "nginx:latest"},
			},
			want: "Replicas changed from 2 to 4; Image changed from 'nginx:1.21.0' to 'nginx:latest'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DescribeFields(tt.fields)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("DescribeFields (-want +got):\n%s", d)
			}
		})
	}
}
