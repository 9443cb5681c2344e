package activity

import (
	"os"
	"testing"
	"time"
)

// FuzzParseAudit: no input makes the audit parser panic, and what it accepts is a bounded list
// of writes and accesses with an actor.
func FuzzParseAudit(f *testing.F) {
	f.Add([]byte(auditBatch))
	f.Add([]byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{}]}`))
	f.Add([]byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := ParseAudit(body, 50, time.Unix(0, 0))
		if err != nil {
			return
		}
		if len(events) > 50 {
			t.Fatalf("%d events past the limit", len(events))
		}
		for _, e := range events {
			if e.Actor == nil || (e.Kind != KindWrite && e.Kind != KindAccess) {
				t.Fatalf("event without actor or of kind %q", e.Kind)
			}
		}
	})
}

// FuzzParseFalco: no input makes the Falco parser panic; every event it accepts has a rule.
func FuzzParseFalco(f *testing.F) {
	for _, name := range []string{"falco-netcat.json", "falco-nginx-conf.json", "falco-new-binary.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`[{"rule":"r","output_fields":{"k8s.pod.name":5}}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := ParseFalco(body, 50, time.Unix(0, 0))
		if err != nil {
			return
		}
		if len(events) > 50 {
			t.Fatalf("%d events past the limit", len(events))
		}
		for _, e := range events {
			if e.Runtime == nil || e.Runtime.Rule == "" {
				t.Fatalf("event without rule: %+v", e)
			}
		}
	})
}
