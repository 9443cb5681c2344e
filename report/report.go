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
	// RuntimeAccess: someone exec'd, attached, port-forwarded or debugged into a pod of a managed
	// workload (audit events, the Pod watch).
	RuntimeAccess FindingType = "RuntimeAccess"
	// RuntimeDrift: inside a container of a managed workload a process, file or connection broke
	// the image's baseline (Falco events).
	RuntimeDrift FindingType = "RuntimeDrift"
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
	// Warnings say what a run could not check and why its answer may be incomplete (no
	// vulnerability database, a stale one). A warning is never a finding nor an error.
	Warnings []string `json:"warnings,omitempty"`
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

	// Actor is the person behind the write that made the drift, from the API server's audit
	// events; nil without audit data.
	Actor *Actor `json:"actor,omitempty"`
	// Runtime says what happened inside or against a pod, for RuntimeAccess and RuntimeDrift.
	Runtime *Runtime `json:"runtime,omitempty"`
}

// Actor is who made a write, as the API server's audit log names them.
type Actor struct {
	User   string   `json:"user"`
	Groups []string `json:"groups,omitempty"`
	// ImpersonatedUser and ImpersonatedGroups are set when User acted as someone else.
	ImpersonatedUser   string   `json:"impersonatedUser,omitempty"`
	ImpersonatedGroups []string `json:"impersonatedGroups,omitempty"`
	UserAgent          string   `json:"userAgent,omitempty"`
	// FieldManager is the fieldManager the write named, when it named one.
	FieldManager string     `json:"fieldManager,omitempty"`
	SourceIPs    []string   `json:"sourceIPs,omitempty"`
	AuditID      string     `json:"auditID,omitempty"`
	Verb         string     `json:"verb,omitempty"`
	Time         *time.Time `json:"time,omitempty"`
}

// Runtime is what happened against or inside a pod of a managed workload.
type Runtime struct {
	Pod         string `json:"pod"`
	Container   string `json:"container,omitempty"`
	ContainerID string `json:"containerID,omitempty"`
	// Access is exec, attach, portforward or debug, for RuntimeAccess.
	Access string `json:"access,omitempty"`
	// Command is the command of an exec, or the image of a debug container.
	Command string `json:"command,omitempty"`
	Image   string `json:"image,omitempty"`
	// Code is the API server's response code for the access request, when known.
	Code int `json:"code,omitempty"`
	// Rule, Priority, Process, CommandLine, File and User come from a Falco event.
	Rule        string     `json:"rule,omitempty"`
	Priority    string     `json:"priority,omitempty"`
	Process     string     `json:"process,omitempty"`
	CommandLine string     `json:"commandLine,omitempty"`
	File        string     `json:"file,omitempty"`
	User        string     `json:"user,omitempty"`
	Time        *time.Time `json:"time,omitempty"`
	// Count is how many events this finding stands for (a storm is sampled and counted).
	Count int `json:"count,omitempty"`
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
	// Changes is what changed inside the image between the approved and the served digest
	// (packages, configuration, vulnerabilities); nil when it was not scanned.
	Changes *ImageChanges `json:"changes,omitempty"`
}

// ImageChanges is what a rebuild changed inside an image.
type ImageChanges struct {
	PackagesAdded   []Package       `json:"packagesAdded,omitempty"`
	PackagesRemoved []Package       `json:"packagesRemoved,omitempty"`
	PackagesChanged []PackageChange `json:"packagesChanged,omitempty"`
	Config          []ConfigChange  `json:"config,omitempty"`
	// NewVulnerabilities are in the served digest and not in the approved one.
	NewVulnerabilities []Vulnerability `json:"newVulnerabilities,omitempty"`
	// Note says what could not be compared, e.g. that the approved digest can no longer be pulled.
	Note string `json:"note,omitempty"`
}

// Package is one installed package of an image.
type Package struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Ecosystem string `json:"ecosystem,omitempty"`
}

// PackageChange is one package whose version changed.
type PackageChange struct {
	Name      string `json:"name"`
	From      string `json:"from"`
	To        string `json:"to"`
	Ecosystem string `json:"ecosystem,omitempty"`
}

// ConfigChange is one image configuration field that changed (User, Entrypoint, Cmd, ports,
// labels, the names of environment variables).
type ConfigChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// Vulnerability is one known vulnerability of an installed package.
type Vulnerability struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases,omitempty"`
	Package  string   `json:"package"`
	Version  string   `json:"version"`
	Fixed    string   `json:"fixed,omitempty"`
	Severity string   `json:"severity"`
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
