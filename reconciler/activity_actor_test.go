package reconciler

import (
	"testing"
	"time"

	"github.com/plumbline/plumbline/activity"
	"github.com/plumbline/plumbline/report"
)

func TestMatchWrite(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 5, 0, time.UTC) // managedFields: truncated to the second
	write := func(user, verb, manager, ua string, done time.Time) activity.Event {
		return activity.Event{Kind: activity.KindWrite, Time: done, Actor: &report.Actor{User: user, Verb: verb, FieldManager: manager, UserAgent: ua}}
	}
	modified := report.Finding{Type: report.Modified, Fields: []report.Field{{Path: ".spec.replicas", Manager: "kubectl-set", Time: &at}}}
	for _, tc := range []struct {
		name   string
		f      report.Finding
		writes []activity.Event
		want   string
	}{
		{"the write of the field's manager and second", modified, []activity.Event{
			write("old", "patch", "kubectl-set", "kubectl/v1.32.0", at.Add(-2*time.Second)),
			write("alice", "patch", "kubectl-set", "kubectl/v1.32.0", at.Add(400*time.Millisecond)),
			write("bob", "patch", "kubectl-edit", "kubectl/v1.32.0", at.Add(500*time.Millisecond)),
		}, "alice"},
		{"a write completed before the field's time is an older one", modified, []activity.Event{
			write("old", "patch", "kubectl-set", "kubectl/v1.32.0", at.Add(-300*time.Millisecond)),
		}, ""},
		{"another manager is not the one", modified, []activity.Event{
			write("bob", "patch", "kubectl-edit", "kubectl/v1.32.0", at.Add(100*time.Millisecond)),
		}, ""},
		{"no fieldManager: the user agent's program", report.Finding{Type: report.Modified, Fields: []report.Field{{Manager: "helm", Time: &at}}}, []activity.Event{
			write("carol", "update", "", "helm/v3.16.0 (linux/amd64)", at.Add(200*time.Millisecond)),
		}, "carol"},
		{"missing: the last delete", report.Finding{Type: report.Missing}, []activity.Event{
			write("alice", "patch", "kubectl-set", "", at), write("dave", "delete", "", "kubectl/v1.32.0", at.Add(time.Second)),
		}, "dave"},
		{"extra: the create", report.Finding{Type: report.Extra}, []activity.Event{write("erin", "create", "kubectl-create", "", at)}, "erin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if a := matchWrite(tc.f, tc.writes); a != nil {
				got = a.User
			}
			if got != tc.want {
				t.Errorf("matched %q, want %q", got, tc.want)
			}
		})
	}
}
