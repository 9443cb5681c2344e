package v1alpha1

// RuntimeResponse is what the controller does when something runs inside a pod of a managed
// workload that its image does not (a Falco event).
// +kubebuilder:validation:Enum=alert;evict
type RuntimeResponse string

// Runtime responses.
const (
	// RuntimeAlert reports the runtime drift and does nothing else.
	RuntimeAlert RuntimeResponse = "alert"
	// RuntimeEvict also evicts the pod through the Eviction API (PodDisruptionBudgets hold), at
	// most once per workload per 10 minutes, so that the workload recreates it from the approved
	// image.
	RuntimeEvict RuntimeResponse = "evict"
)

// RuntimeSpec says how the Source answers runtime drift in the pods of its workloads.
type RuntimeSpec struct {
	// Response is alert (the default) or evict.
	// +kubebuilder:default=alert
	// +optional
	Response RuntimeResponse `json:"response,omitempty"`
}

// ResponseOr returns the response, alert when unset; nil-safe.
func (r *RuntimeSpec) ResponseOr() RuntimeResponse {
	if r == nil || r.Response == "" {
		return RuntimeAlert
	}
	return r.Response
}
