package activity

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/plumbline/plumbline/report"
)

// ErrTooManyEvents is returned when a request carries more events than allowed.
var ErrTooManyEvents = errors.New("too many events in one request")

// ParseAudit reads an audit.k8s.io/v1 EventList and returns the events that matter: completed
// writes (create, update, patch, delete) that the API server accepted, and every access into a
// pod (exec, attach, portforward, ephemeralcontainers), whatever its response code. It refuses
// another apiVersion or kind, malformed JSON, and more than maxEvents items (0: no limit).
func ParseAudit(body []byte, maxEvents int, received time.Time) ([]Event, error) {
	var head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, fmt.Errorf("audit EventList: %w", err)
	}
	if head.APIVersion != auditv1.SchemeGroupVersion.String() || head.Kind != "EventList" {
		return nil, fmt.Errorf("audit: want apiVersion %s kind EventList, got apiVersion %q kind %q",
			auditv1.SchemeGroupVersion, head.APIVersion, head.Kind)
	}
	if maxEvents > 0 && len(head.Items) > maxEvents {
		return nil, fmt.Errorf("audit EventList: %d items, at most %d: %w", len(head.Items), maxEvents, ErrTooManyEvents)
	}
	out := make([]Event, 0, len(head.Items))
	for i, raw := range head.Items {
		var ev auditv1.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("audit EventList: items[%d]: %w", i, err)
		}
		if e, ok := fromAudit(&ev, received); ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// fromAudit turns one audit event into an Event, or false when it is not a write or an access.
func fromAudit(ev *auditv1.Event, received time.Time) (Event, bool) {
	if ev.ObjectRef == nil || ev.ObjectRef.Name == "" {
		return Event{}, false
	}
	code := 0
	if ev.ResponseStatus != nil {
		code = int(ev.ResponseStatus.Code)
	}
	e := Event{
		Received: received,
		Time:     ev.StageTimestamp.Time,
		Code:     code,
		Object: Object{
			APIGroup: ev.ObjectRef.APIGroup, APIVersion: ev.ObjectRef.APIVersion,
			Resource: ev.ObjectRef.Resource, Subresource: ev.ObjectRef.Subresource,
			Namespace: ev.ObjectRef.Namespace, Name: ev.ObjectRef.Name,
		},
	}
	if e.Time.IsZero() {
		e.Time = ev.RequestReceivedTimestamp.Time
	}
	query := url.Values{}
	if u, err := url.ParseRequestURI(ev.RequestURI); err == nil {
		query = u.Query()
	}
	access := ""
	if ev.ObjectRef.Resource == "pods" && ev.ObjectRef.APIGroup == "" {
		switch ev.ObjectRef.Subresource {
		case "exec":
			access = AccessExec
		case "attach":
			access = AccessAttach
		case "portforward":
			access = AccessPortForward
		case "ephemeralcontainers":
			access = AccessDebug
		}
	}
	switch {
	case access != "":
		// Every stage but the first: a session that streams for an hour shows at its start.
		if ev.Stage == auditv1.StageRequestReceived {
			return Event{}, false
		}
		e.Kind, e.Access, e.Container = KindAccess, access, query.Get("container")
		if access == AccessExec {
			e.Command = strings.Join(query["command"], " ")
		}
	case ev.ObjectRef.Subresource != "" && ev.ObjectRef.Subresource != "scale":
		return Event{}, false // status and other subresources are controllers' business
	case ev.Stage != auditv1.StageResponseComplete || code >= 400:
		return Event{}, false // a refused write made no drift
	default:
		switch ev.Verb {
		case "create", "update", "patch", "delete":
			e.Kind = KindWrite
		default:
			return Event{}, false
		}
	}
	at := e.Time.UTC()
	a := &report.Actor{
		User: ev.User.Username, Groups: ev.User.Groups, UserAgent: ev.UserAgent, SourceIPs: ev.SourceIPs,
		AuditID: string(ev.AuditID), Verb: ev.Verb, Time: &at, FieldManager: query.Get("fieldManager"),
	}
	if ev.ImpersonatedUser != nil {
		a.ImpersonatedUser, a.ImpersonatedGroups = ev.ImpersonatedUser.Username, ev.ImpersonatedUser.Groups
	}
	e.Actor = a
	return e, true
}
