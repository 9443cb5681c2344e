package v1alpha1

// ProposeSpec says where the pull requests of mode propose go. Without it, a finding in
// propose mode is alerted on and no pull request is opened (the notifier hears why).
type ProposeSpec struct {
	// Forge is the API the pull requests (GitLab: merge requests) are opened through.
	// +kubebuilder:validation:Enum=gitea;github;gitlab
	Forge string `json:"forge"`
	// APIURL is the forge's API root: a Gitea's web root, GitHub Enterprise's
	// https://host/api/v3/, or a GitLab's https://host/api/v4. Empty: https://api.github.com/
	// for github, the scheme and host of spec.repo for gitea and gitlab.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	APIURL string `json:"apiURL,omitempty"`
	// SecretRef names a Secret in the Source's namespace whose key `token` is the forge's API
	// token. The token also pushes the proposal branch over HTTPS (as the password of the user
	// in the key `username`, default x-access-token) unless spec.secretRef holds credentials.
	SecretRef LocalObjectReference `json:"secretRef"`
	// Base is the branch pull requests merge into. Empty: spec.ref, else the remote's default
	// branch.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Base string `json:"base,omitempty"`
	// AuthorName and AuthorEmail sign the proposal commits. Default Plumbline,
	// plumbline@localhost.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	AuthorName string `json:"authorName,omitempty"`
	// +kubebuilder:validation:MaxLength=256
	// +optional
	AuthorEmail string `json:"authorEmail,omitempty"`
	// InsecureHTTP allows the token over a plain http:// repository URL (a forge on the same
	// host, a test). Default false.
	// +optional
	InsecureHTTP bool `json:"insecureHTTP,omitempty"`
}

// ProposalState is where an incident's pull request is.
// +kubebuilder:validation:Enum=requested;open;merged;closed;failed
type ProposalState string

// Proposal states.
const (
	ProposalOpen   ProposalState = "open"
	ProposalMerged ProposalState = "merged"
	ProposalClosed ProposalState = "closed"
	ProposalFailed ProposalState = "failed"
)

// Proposal is the pull request that proposes an incident's live state (or served digest) to
// Git. It is kept with the incident, so that a restart never opens a second one.
type Proposal struct {
	// State is open, merged, closed (rejected: Plumbline reverts) or failed (none was opened).
	State ProposalState `json:"state"`
	// URL and Number name the pull request; Branch is its head branch.
	// +optional
	URL string `json:"url,omitempty"`
	// +optional
	Number int64 `json:"number,omitempty"`
	// +optional
	Branch string `json:"branch,omitempty"`
	// BaseCommit is the base tip the branch was built on; Change identifies what it proposes.
	// +optional
	BaseCommit string `json:"baseCommit,omitempty"`
	// +optional
	Change string `json:"change,omitempty"`
	// By is who merged or closed it.
	// +optional
	By string `json:"by,omitempty"`
	// MergedRevision is the Source's revision when the merge was seen. A drift still there at a
	// later revision (the merge did not declare it) is proposed again.
	// +optional
	MergedRevision string `json:"mergedRevision,omitempty"`
	// Thread links to the incident's Slack thread, once the pull request's body carries it.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Thread string `json:"thread,omitempty"`
	// Message says why a proposal failed.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Message string `json:"message,omitempty"`
}
