package report

import "testing"

func TestFingerprint(t *testing.T) {
	nginx := ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "default", Name: "nginx"}
	image := Finding{Type: Modified, Object: nginx, Fields: []Field{{Path: ".spec.template.spec.containers[name=\"nginx\"].image", Desired: "nginx:1.21.0", Live: "nginx:latest"}}}
	otherValue := image
	otherValue.Fields = []Field{{Path: image.Fields[0].Path, Desired: "nginx:1.21.0", Live: "nginx:1.22"}}
	otherValue.Message = "another message"
	replicas := Finding{Type: Modified, Object: nginx, Fields: []Field{{Path: ".spec.replicas", Desired: 3, Live: 5}}}
	otherObject := image
	otherObject.Object.Name = "web"
	missing := Finding{Type: Missing, Object: nginx}
	latest := Finding{Type: PolicyViolation, Object: nginx, Rule: "disallow-latest-tag", Container: "nginx", Where: WhereLive}
	for _, tc := range []struct {
		name string
		a, b Finding
		same bool
	}{
		{"the same drift to another value", image, otherValue, true},
		{"another field", image, replicas, false},
		{"another object", image, otherObject, false},
		{"another type", image, missing, false},
		{"a violation is not the drift that caused it", image, latest, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := Fingerprint("apps", tc.a), Fingerprint("apps", tc.b)
			if (a == b) != tc.same {
				t.Errorf("Fingerprint = %s and %s, same = %v, want %v", a, b, a == b, tc.same)
			}
		})
	}
	if Fingerprint("apps", image) == Fingerprint("other", image) {
		t.Error("two sources share a fingerprint")
	}
	if got := len(Fingerprint("apps", image)); got != 16 {
		t.Errorf("fingerprint has %d characters, want 16", got)
	}
}
