// Package activity receives what people and processes did in the cluster: the API server's
// audit events (audit.k8s.io/v1 EventList batches from its audit webhook) and Falco's events
// (json_output through http_output, or Falcosidekick's webhook). It authenticates each request
// (a bearer token, or a client certificate signed by a configured CA), caps its size and its
// number of events, parses it into typed Events and hands them on through a bounded stream.
//
// It never logs or keeps a request body, never blocks a sender on a slow consumer (a full
// stream drops and counts), and degrades a storm to sampling and counting: memory stays bounded
// whatever arrives. It does not know which objects are managed: the reconciler matches Events
// to Sources.
package activity
