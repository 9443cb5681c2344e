package v1alpha1

// Prevent says what the API server itself does about a change to this Source's objects that
// does not come from Git, and about an object that breaks its policy: the validationActions
// of the ValidatingAdmissionPolicy bindings the controller keeps for the Source.
// +kubebuilder:validation:Enum=off;warn;audit;deny
type Prevent string

// Prevent values.
const (
	// PreventOff keeps no admission policies for the Source. The default.
	PreventOff Prevent = "off"
	// PreventWarn lets the change through; the client (kubectl) prints the message.
	PreventWarn Prevent = "warn"
	// PreventAudit lets the change through and records the message in the audit log.
	PreventAudit Prevent = "audit"
	// PreventDeny refuses the change with the message.
	PreventDeny Prevent = "deny"
)

// ConditionPrevented is the condition type that says whether the Source's admission policies
// are in force: True with their count, False with the rule the API server refused and its
// message (the last good policies stay in force), absent while spec.prevent is off.
const ConditionPrevented = "Prevented"
