package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Source says which Git repository and folder the controller keeps the cluster plumb with, and
// what it does about each kind of drift. Like Flux's Kustomization and Argo CD's Application, it
// is namespaced, so RBAC per namespace decides who may create one, and its serviceAccountName
// bounds what it may write.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=src;plsrc,categories=plumbline
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.lastFetchedRevision`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Drift",type=string,JSONPath=`.status.conditions[?(@.type=="Drifted")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Source struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SourceSpec   `json:"spec"`
	Status SourceStatus `json:"status,omitempty"`
}

// SourceList is a list of Sources.
//
// +kubebuilder:object:root=true
type SourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Source `json:"items"`
}

// SourceSpec is what to watch and what to do.
type SourceSpec struct {
	// Repo is the Git repository: https://, ssh://, git@host:path, file://, or a local path.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Repo string `json:"repo"`

	// Ref is a branch, tag or commit. Empty: the remote's default branch.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Ref string `json:"ref,omitempty"`

	// Path is the folder inside the repository to render (kustomize, or plain YAML).
	// +kubebuilder:default="."
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Path string `json:"path,omitempty"`

	// Interval is how often Git and the registries are polled. Live objects are watched, not
	// polled.
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// SecretRef names a Secret in the Source's namespace with the Git credentials, keys as
	// `plumbline diff --git-secret` reads them: username, password, bearerToken, identity,
	// known_hosts, ca.crt.
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`

	// Suspend stops polling and acting; the status keeps what was last seen.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Policy is the path, inside the repository, of a PolicySet file. Empty: the built-in
	// baseline.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Policy string `json:"policy,omitempty"`

	// Ignore drops drifted fields, as the ignore file of `plumbline diff --ignore-file` does.
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Ignore []IgnoreRule `json:"ignore,omitempty"`

	// InteractiveManagers are glob patterns of field managers that are people rather than
	// controllers. Empty: kubectl*, k9s, Mozilla*.
	// +kubebuilder:validation:MaxItems=64
	// +optional
	InteractiveManagers []string `json:"interactiveManagers,omitempty"`

	// Mode is the action per finding type.
	// +kubebuilder:default={default: alert}
	// +optional
	Mode ModeSpec `json:"mode,omitempty"`

	// BlockSeverity is the lowest policy severity that blocks acting: when the desired state
	// breaks a rule at or above it, nothing is reverted or pruned from it, and the controller
	// alerts instead.
	// +kubebuilder:default=high
	// +kubebuilder:validation:Enum=low;medium;high;critical
	// +optional
	BlockSeverity string `json:"blockSeverity,omitempty"`

	// Prune deletes objects that this Source applied and Git no longer declares.
	// +kubebuilder:default=false
	// +optional
	Prune bool `json:"prune,omitempty"`

	// PruneMaxFraction is the largest fraction of this Source's objects that one prune may
	// delete, as a decimal string between 0 and 1. A larger prune is refused, and alerted on.
	// +kubebuilder:default="0.25"
	// +kubebuilder:validation:Pattern=`^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)$`
	// +optional
	PruneMaxFraction string `json:"pruneMaxFraction,omitempty"`

	// ServiceAccountName is the service account, in the Source's namespace, that the controller
	// impersonates for every apply and delete of this Source. Empty: the controller's own.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// Notify says where the Source's incidents are told (Slack).
	// +optional
	Notify *NotifySpec `json:"notify,omitempty"`
	// Propose says where the pull requests of mode propose go.
	// +optional
	Propose *ProposeSpec `json:"propose,omitempty"`
	// Runtime is how the Source answers runtime drift (Falco events) in its workloads' pods.
	// +optional
	Runtime *RuntimeSpec `json:"runtime,omitempty"`
	// Prevent has the API server refuse (deny), warn about (warn) or audit (audit) edits of
	// this Source's objects that do not come from Git, and objects that break its policy, with
	// ValidatingAdmissionPolicies the controller keeps in sync. Default off.
	// +kubebuilder:default=off
	// +optional
	Prevent Prevent `json:"prevent,omitempty"`
}

// LocalObjectReference names an object in the Source's namespace.
type LocalObjectReference struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// IgnoreRule drops the fields under Paths of the objects it selects; empty selectors select
// every object. It has the shape of one rule of the ignore file.
type IgnoreRule struct {
	// Kinds are object kinds, matched exactly.
	// +optional
	Kinds []string `json:"kinds,omitempty"`
	// Namespaces are glob patterns.
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
	// Names are glob patterns.
	// +optional
	Names []string `json:"names,omitempty"`
	// Selector matches the labels of the live object.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Paths are field paths in structured-merge-diff notation, e.g. .spec.replicas; `[*]`
	// matches any list element.
	// +kubebuilder:validation:MinItems=1
	Paths []string `json:"paths"`
}

// Mode is what the controller does about a finding.
// +kubebuilder:validation:Enum=alert;revert;propose
type Mode string

// Modes.
const (
	// ModeAlert tells the notifier and changes nothing. The default.
	ModeAlert Mode = "alert"
	// ModeRevert server-side applies Git's state as field manager plumbline.
	ModeRevert Mode = "revert"
	// ModePropose opens a pull request that writes the live state into Git.
	ModePropose Mode = "propose"
)

// ModeSpec is the action per finding type: Default for every type, overridden per type.
type ModeSpec struct {
	// Default applies to every finding type that has no key of its own.
	// +kubebuilder:default=alert
	// +optional
	Default Mode `json:"default,omitempty"`
	// +optional
	Modified Mode `json:"Modified,omitempty"`
	// +optional
	Missing Mode `json:"Missing,omitempty"`
	// +optional
	Extra Mode `json:"Extra,omitempty"`
	// +optional
	ImageTagMutated Mode `json:"ImageTagMutated,omitempty"`
	// +optional
	ImageUnpinned Mode `json:"ImageUnpinned,omitempty"`
	// +optional
	RunningImageMismatch Mode `json:"RunningImageMismatch,omitempty"`
	// +optional
	PolicyViolation Mode `json:"PolicyViolation,omitempty"`
}

// DefaultInterval is the polling interval of a Source that sets none.
const DefaultInterval = time.Minute

// PollInterval returns spec.interval, or DefaultInterval when it is unset or not positive.
func (s *SourceSpec) PollInterval() time.Duration {
	if s.Interval == nil || s.Interval.Duration <= 0 {
		return DefaultInterval
	}
	return s.Interval.Duration
}

// For returns the mode for one finding type: its own key, else Default, else alert.
func (m ModeSpec) For(findingType string) Mode {
	var own Mode
	switch findingType {
	case "Modified":
		own = m.Modified
	case "Missing":
		own = m.Missing
	case "Extra":
		own = m.Extra
	case "ImageTagMutated":
		own = m.ImageTagMutated
	case "ImageUnpinned":
		own = m.ImageUnpinned
	case "RunningImageMismatch":
		own = m.RunningImageMismatch
	case "PolicyViolation":
		own = m.PolicyViolation
	}
	switch {
	case own != "":
		return own
	case m.Default != "":
		return m.Default
	}
	return ModeAlert
}
