package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types of a Source.
const (
	// ConditionReady is True when the last fetch, render and check of the Source succeeded.
	ConditionReady = "Ready"
	// ConditionDrifted is True when the Source has open incidents.
	ConditionDrifted = "Drifted"
)

// SourceStatus is what the controller last saw of a Source.
type SourceStatus struct {
	// ObservedGeneration is the generation of the spec the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Ready and Drifted, with reasons and messages.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastFetchedRevision is the commit last fetched from Git.
	// +optional
	LastFetchedRevision string `json:"lastFetchedRevision,omitempty"`

	// LastAppliedRevision is the commit whose desired state was last applied.
	// +optional
	LastAppliedRevision string `json:"lastAppliedRevision,omitempty"`

	// Findings counts the open findings by type.
	// +optional
	Findings map[string]int32 `json:"findings,omitempty"`

	// Incidents are the open problems of the Source.
	// +kubebuilder:validation:MaxItems=1000
	// +optional
	Incidents []Incident `json:"incidents,omitempty"`
}

// IncidentState is the life of an incident.
// +kubebuilder:validation:Enum=open;reverted;fight;resolved
type IncidentState string

// Incident states.
const (
	IncidentOpen     IncidentState = "open"
	IncidentReverted IncidentState = "reverted"
	IncidentFight    IncidentState = "fight"
	IncidentResolved IncidentState = "resolved"
)

// Incident is one open problem of one Source, identified by its fingerprint: source, object,
// finding type and field paths, never times or revisions, so the same drift is the same
// incident across reconciles and restarts.
type Incident struct {
	// Fingerprint identifies the incident.
	Fingerprint string `json:"fingerprint"`
	// Type is the finding type.
	Type string `json:"type"`
	// Object is the object the incident is about.
	Object ObjectReference `json:"object"`
	// Paths are the drifted field paths, sorted.
	// +optional
	Paths []string `json:"paths,omitempty"`
	// State is the incident's state.
	State IncidentState `json:"state"`
	// Message is the first line of the finding, for kubectl describe.
	// +optional
	Message string `json:"message,omitempty"`
	// FirstSeen and LastSeen bound the incident's life so far.
	FirstSeen metav1.Time `json:"firstSeen"`
	LastSeen  metav1.Time `json:"lastSeen"`
	// Proposal is the incident's pull request, in mode propose.
	// +optional
	Proposal *Proposal `json:"proposal,omitempty"`
}

// ObjectReference names a Kubernetes object.
type ObjectReference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}
