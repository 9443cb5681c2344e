package activity

import (
	"time"

	"github.com/plumbline/plumbline/report"
)

// Kind says what an Event is.
type Kind string

// Event kinds.
const (
	// KindWrite: a create, update, patch or delete of an object (or its scale subresource).
	KindWrite Kind = "write"
	// KindAccess: an exec, attach, port-forward or ephemeral-container write into a pod.
	KindAccess Kind = "access"
	// KindFalco: a Falco event from inside a container.
	KindFalco Kind = "falco"
)

// Access kinds of a KindAccess Event, as report.Runtime.Access names them.
const (
	AccessExec        = "exec"
	AccessAttach      = "attach"
	AccessPortForward = "portforward"
	AccessDebug       = "debug"
)

// Object is the object an audit event is about, as the audit log names it (by resource, not
// kind).
type Object struct {
	APIGroup    string
	APIVersion  string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
}

// Event is one parsed audit or Falco event.
type Event struct {
	Kind Kind
	// Received is when the request that carried it arrived, for latency measurements.
	Received time.Time
	// Time is when it happened: the audit event's stage time, or Falco's event time.
	Time time.Time

	// Actor, Object and Code are set for KindWrite and KindAccess. Actor.FieldManager is the
	// fieldManager of the request, when it named one.
	Actor  *report.Actor
	Object Object
	// Code is the API server's response code.
	Code int
	// Access and Command are set for KindAccess: exec, attach, portforward or debug, and the
	// command of an exec (its arguments joined by spaces).
	Access  string
	Command string
	// Container is the container an exec or attach named.
	Container string

	// Namespace, Pod and Runtime are set for KindFalco: the pod Falco saw the event in, and what
	// happened (rule, priority, process, command line, file, user, container).
	Namespace string
	Pod       string
	Runtime   *report.Runtime
	// Output is Falco's own formatted line for the event.
	Output string
}
