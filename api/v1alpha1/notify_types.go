package v1alpha1

// NotifySpec says where a Source's incidents are told.
type NotifySpec struct {
	// Slack posts each incident to a Slack channel, with its life in the message's thread.
	// Unset: the controller's defaults (--slack-channel, --slack-secret), if any.
	// +optional
	Slack *SlackNotifySpec `json:"slack,omitempty"`
}

// SlackNotifySpec is a Source's Slack channel and credentials.
type SlackNotifySpec struct {
	// Channel is the channel ID (C…) for a bot token. Use the ID, not the name: only with the ID
	// can the controller check, after a timeout, whether a message reached Slack before it sends
	// it again. Empty: --slack-channel. Ignored with a webhook.
	// +kubebuilder:validation:MaxLength=80
	// +optional
	Channel string `json:"channel,omitempty"`
	// SecretRef names a Secret in the Source's namespace with key `token` (a bot token, xoxb-…)
	// or key `webhookURL` (an incoming webhook, which cannot thread or edit). Empty:
	// --slack-secret.
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`
	// MinSeverity is the lowest severity of policy violations posted; other incidents are
	// always posted. Empty: all.
	// +kubebuilder:validation:Enum=low;medium;high;critical
	// +optional
	MinSeverity string `json:"minSeverity,omitempty"`
	// QuietResolve posts no "Resolved" reply; the root message is still edited to resolved.
	// +optional
	QuietResolve bool `json:"quietResolve,omitempty"`
}
