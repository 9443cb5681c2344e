package policy

// RuleID names a rule: a built-in's stable id, or a custom policy's name.
type RuleID string

// The built-in rules' ids. They are stable: reports, dashboards and policy
// files refer to them.
const (
	RuleDisallowLatestTag      RuleID = "disallow-latest-tag"
	RuleRestrictRegistries     RuleID = "restrict-registries"
	RuleRequireDigest          RuleID = "require-digest"
	RuleRunAsNonRoot           RuleID = "run-as-non-root"
	RuleDisallowPrivileged     RuleID = "disallow-privileged"
	RuleRequireResourceLimits  RuleID = "require-resource-limits"
	RuleRequireReadOnlyRootFS  RuleID = "require-read-only-root-fs"
	RuleDisallowHostNamespaces RuleID = "disallow-host-namespaces-and-paths"
	RuleBlockVulnerabilities   RuleID = "block-vulnerabilities"
	RuleImageRunsAsRoot        RuleID = "image-runs-as-root"
)

// RuleInfo describes a rule for documentation and for `plumbline check`
// output. For built-ins, Severity and Enabled are the defaults; from
// Engine.Rules they are the values in force.
type RuleInfo struct {
	// ID is the rule's stable id (built-in) or policy name (CEL).
	ID RuleID
	// Severity is the severity its violations carry.
	Severity Severity
	// Enabled says whether the rule runs. All built-ins but require-digest
	// are enabled by default; CEL policies always are.
	Enabled bool
	// Builtin is true for the built-in rules, false for CEL policies.
	Builtin bool
	// Description says what the rule catches.
	Description string
	// Fix says how to make a violating object pass. Empty for CEL policies.
	Fix string
	// NeedsImageContents is true for rules that read ImageFacts.Contents (a
	// scan of the image: its user, its vulnerabilities). They cannot be
	// expressed in CEL nor enforced by a ValidatingAdmissionPolicy, since the
	// API server never sees inside an image; they run in check, diff and run.
	NeedsImageContents bool
	// NeedsImageFacts is true when the rule reads what only a registry or Git knows (the
	// approved, resolved or running digests, what is inside an image), not just the object.
	// The API server has none of it, so such a rule is never rendered into a
	// ValidatingAdmissionPolicy (Engine.Admission lists it as not rendered). For CEL policies
	// it is true when an expression reads the images variable.
	NeedsImageFacts bool
}

// finding is one violation of a built-in, before the engine adds the rule
// id and severity.
type finding struct {
	container string
	path      string
	message   string
}

// builtinParams are the parts of spec.params that built-ins read, validated.
type builtinParams struct {
	// allowedRegistries holds normalised prefixes; empty means
	// restrict-registries has nothing to enforce.
	allowedRegistries []string
	// vulns are params.vulnerabilities (block-vulnerabilities).
	vulns vulnParams
}

// builtin is a built-in rule: its metadata and its check, a pure function
// of the pod spec (with image facts attached to its containers).
type builtin struct {
	info  RuleInfo
	check func(p *podView, params *builtinParams, out []finding) []finding
}

// builtins is the table of built-in rules in the order they run and report.
var builtins = []builtin{
	{info: RuleInfo{
		ID: RuleDisallowLatestTag, Severity: SeverityHigh, Enabled: true, Builtin: true,
		Description: "An image uses the tag 'latest', or has neither a tag nor a digest (which pulls 'latest').",
		Fix:         "Reference an immutable version tag (nginx:1.27.3) or a digest (nginx@sha256:…).",
	}, check: checkLatestTag},
	{info: RuleInfo{
		ID: RuleRestrictRegistries, Severity: SeverityHigh, Enabled: true, Builtin: true,
		Description: "An image comes from a registry or path not listed in params.allowedRegistries. " +
			"Matching is on the normalised reference with a '/' boundary. With no allowedRegistries the rule enforces nothing.",
		Fix: "Pull the image from an allowed registry (mirror it there), or add its registry/path to spec.params.allowedRegistries.",
	}, check: checkRegistries},
	{info: RuleInfo{
		ID: RuleRequireDigest, Severity: SeverityMedium, Enabled: false, Builtin: true,
		Description: "An image reference has no digest, so the tag may move under it. Off unless enabled in spec.builtins.",
		Fix:         "Pin the image by digest (repo:tag@sha256:…), for example with kustomize's images[].digest.",
	}, check: checkDigest},
	{info: RuleInfo{
		ID: RuleRunAsNonRoot, Severity: SeverityHigh, Enabled: true, Builtin: true,
		Description: "A container may run as root: runAsNonRoot is not true for it (container setting overrides pod setting), " +
			"or runAsUser is 0. Pods with hostUsers: false (user namespaces) are exempt, as in Pod Security 'restricted'.",
		Fix: "Set securityContext.runAsNonRoot: true on the pod (or every container) and a non-zero runAsUser, or none and build the image with a non-root USER.",
	}, check: checkRunAsNonRoot},
	{info: RuleInfo{
		ID: RuleDisallowPrivileged, Severity: SeverityCritical, Enabled: true, Builtin: true,
		Description: "A container is privileged, or does not set allowPrivilegeEscalation: false (unset counts, " +
			"as in Pod Security 'restricted'; Windows pods are exempt from the escalation check).",
		Fix: "Remove securityContext.privileged: true and set securityContext.allowPrivilegeEscalation: false on every container.",
	}, check: checkPrivileged},
	{info: RuleInfo{
		ID: RuleRequireResourceLimits, Severity: SeverityMedium, Enabled: true, Builtin: true,
		Description: "A container lacks a memory limit, a memory request or a cpu request. A request counts as set when the " +
			"matching limit is (the API server defaults it). Ephemeral containers are skipped: the API forbids their resources.",
		Fix: "Set resources.limits.memory, resources.requests.memory and resources.requests.cpu on every container.",
	}, check: checkResources},
	{info: RuleInfo{
		ID: RuleRequireReadOnlyRootFS, Severity: SeverityMedium, Enabled: true, Builtin: true,
		Description: "A container's root filesystem is writable (readOnlyRootFilesystem is not true). " +
			"Windows pods are exempt: the API forbids the field for them.",
		Fix: "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the process must write.",
	}, check: checkReadOnlyRootFS},
	{info: RuleInfo{
		ID: RuleDisallowHostNamespaces, Severity: SeverityHigh, Enabled: true, Builtin: true,
		Description: "The pod shares the host's network, PID or IPC namespace, or mounts a hostPath volume.",
		Fix:         "Remove hostNetwork, hostPID and hostIPC (or set them false) and replace hostPath volumes with emptyDir, configMap or a PersistentVolumeClaim.",
	}, check: checkHostNamespaces},
	{info: RuleInfo{
		ID: RuleBlockVulnerabilities, Severity: SeverityHigh, Enabled: true, Builtin: true, NeedsImageFacts: true, NeedsImageContents: true,
		Description: "The image has a known vulnerability at params.vulnerabilities.minSeverity or above (default high: High and Critical), " +
			"not covered by an unexpired entry of params.vulnerabilities.ignore. Needs a scan of the image (--vuln-db); without one it finds nothing and a warning says so.",
		Fix: "Rebuild the image with the fixed package versions, or add {id, reason, expires} to spec.params.vulnerabilities.ignore.",
	}, check: checkVulnerabilities},
	{info: RuleInfo{
		ID: RuleImageRunsAsRoot, Severity: SeverityHigh, Enabled: true, Builtin: true, NeedsImageFacts: true, NeedsImageContents: true,
		Description: "The image's config runs as root (USER empty, 0 or root) and the pod does not override it with a non-zero runAsUser; " +
			"or it sets runAsNonRoot: true on such an image, which the kubelet refuses to start. Needs the image's config.",
		Fix: "Build the image with a non-root USER, or set securityContext.runAsUser to a non-zero UID.",
	}, check: checkImageRoot},
}

// Builtins describes every built-in rule with its default severity and
// enablement, in the order the engine runs them. The slice is a fresh copy.
func Builtins() []RuleInfo {
	out := make([]RuleInfo, len(builtins))
	for i, b := range builtins {
		out[i] = b.info
	}
	return out
}

func builtinByID(id RuleID) (builtin, bool) {
	for _, b := range builtins {
		if b.info.ID == id {
			return b, true
		}
	}
	return builtin{}, false
}
