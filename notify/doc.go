// Package notify tells on-call in Slack about a Source's incidents: one root message per
// incident (or per batch of incidents from one reconcile), its later life as replies in the
// root's thread, and an edit of the root when everything in it is resolved.
//
// Delivery goes through an outbox per Source that a Store keeps in the cluster before Notify
// returns, so a restart or a leader change neither loses nor repeats a message. One worker per
// Source sends the outbox in order, at most one message per second per channel, honours 429
// Retry-After, retries 5xx and connection errors with backoff and drops, and reports, permanent
// errors (channel_not_found, invalid_auth, not_in_channel).
//
// It renders Block Kit with slack-go's types, escapes &, < and > in every untrusted string, and
// never shows a Secret value: a Secret's fields read "data changed (masked)".
//
// It imports only the report vocabulary of the project; the reconciler wires it, and implements
// its Store with the API server. It never logs.
package notify
