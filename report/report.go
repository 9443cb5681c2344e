package report

import "time"

// APIVersion and Kind identify a serialised Report.
const (
	APIVersion = "plumbline.dev/v1alpha1"
	Kind       = "DriftReport"
)

// FindingType names what a finding is about. The set is the report vocabulary of DESIGN.md.
type FindingType string

// The finding types.
const (
	// Modified: a field declared in Git has another live value, or a person added a field in the
	// cluster that Git does not declare (then the field's desired value is null).
	Modified FindingType = "Modified"
	// Missing: declared in Git, absent from the cluster.
	Missing FindingType = "Missing"
	// Extra: live, not declared in Git; Reason says which kind of extra.
	Extra FindingType = "Extra"
	// ImageTagMutated: the registry now serves another digest for a tag than the approved one.
	ImageTagMutated FindingType = "ImageTagMutated"
	// ImageUnpinned: an image has no approved digest in Git.
	ImageUnpinned FindingType = "ImageUnpinned"
	// RunningImageMismatch: a pod of a managed workload runs a digest that is not approved.
	RunningImageMismatch FindingType = "RunningImageMismatch"
	// PolicyViolation: a rule failed on the desired or the live object.
	PolicyViolation FindingType = "PolicyViolation"
)

// Reasons carried by Extra findings.
const (
	// ReasonPrunedFromGit: the object carries Plumbline's ownership label for this source, but Git
	// no longer declares it.
	ReasonPrunedFromGit = "pruned-from-git"
	// ReasonNotInGit: an orphan, of a kind and in a namespace that the source declares, created
	// outside Git (no owner, not system-created).
	ReasonNotInGit = "not-in-git"
)

// Report is the result of one run: what was read and what differs. The zero value is an empty
// report of nothing.
type Report struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Source     Source    `json:"source"`
	Summary    Summary   `json:"summary"`
	Findings   []Finding `json:"findings"`
	// Errors are failures that concern one object or image, not the whole run (an unreachable
	// registry, an object the API server refused to dry-run). An error is never a finding and
	// never "no drift".
	Errors []Error `json:"errors,omitempty"`
}

// Source says where the desired state came from.
type Source struct {
	Repo string `json:"repo"`
	Ref  string `json:"ref"`
	// Revision is the commit SHA, or empty for a local folder that is not read through Git.
	Revision string `json:"revision"`
	Path     string `json:"path"`
}

// Summary counts what the report holds. Objects is the number of desired objects compared.
type Summary struct {
	Objects  int                 `json:"objects"`
	Findings int                 `json:"findings"`
	ByType   map[FindingType]int `json:"byType"`
	Errors   int                 `json:"errors,omitempty"`
}

// ObjectRef names one Kubernetes object.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// Finding is one difference between Git (and the policy) and what runs.
type Finding struct {
	Type FindingType `json:"type"`
	// Reason refines the type; for Extra it is ReasonPrunedFromGit or ReasonNotInGit.
	Reason  string    `json:"reason"`
	Object  ObjectRef `json:"object"`
	Message string    `json:"message"`
	// Source is the file in the repository that declares the object, when known.
	Source string  `json:"sourceFile,omitempty"`
	Fields []Field `json:"fields,omitempty"`
	Image  *Image  `json:"image,omitempty"`

	// Rule, Severity and Where are set on PolicyViolation findings. Where is WhereDesired (what
	// Git declares) or WhereLive (what runs: drift into a violation).
	Rule      string `json:"rule,omitempty"`
	Severity  string `json:"severity,omitempty"`
	Where     string `json:"where,omitempty"`
	Container string `json:"container,omitempty"`
}

// Where a policy violation was found.
const (
	WhereDesired = "desired"
	WhereLive    = "live"
)

// Field is one drifted field. Desired and Live are JSON values: a number stays a number, and a
// field that one side lacks is null. Secret values are masked before they get here.
type Field struct {
	// Path in structured-merge-diff notation, e.g. .spec.template.spec.containers[name="nginx"].image
	Path    string     `json:"path"`
	Desired any        `json:"desired"`
	Live    any        `json:"live"`
	Manager string     `json:"manager,omitempty"`
	Time    *time.Time `json:"time,omitempty"`
	// Masked is true when Desired and Live stand in for Secret values that are never shown.
	Masked bool `json:"masked,omitempty"`
	// Note says how the verdict was reached when that is not the usual way (the API server could
	// not confirm it, Git no longer declares the field, a default was changed). Usually empty.
	Note string `json:"note,omitempty"`
}

// Image describes the image behind an image finding.
type Image struct {
	Ref      string `json:"ref"`
	Approved string `json:"approved,omitempty"`
	Resolved string `json:"resolved,omitempty"`
	// Running lists the digests that pods run, with the pods that run each.
	Running []RunningDigest `json:"running,omitempty"`
	// LayersChanged is how many layers differ between the approved and the resolved image, or
	// nil when that could not be read.
	LayersChanged *int `json:"layersChanged,omitempty"`
}

// RunningDigest is one digest that pods of a workload run.
type RunningDigest struct {
	Digest string   `json:"digest"`
	Pods   []string `json:"pods"`
}

// Error is a failure about one object or image that the run could not decide.
type Error struct {
	Object  *ObjectRef `json:"object,omitempty"`
	Image   string     `json:"image,omitempty"`
	Message string     `json:"message"`
}
