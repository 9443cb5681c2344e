// Package reconciler is Plumbline's loop, and the only package that wires the others together:
// it takes the objects that manifests rendered from what gitsource fetched, reads their live
// twins, has diff compare them, checks images and policy, and turns every result into the
// findings of a report.Report.
//
// One comparison path serves both users. Cluster.Diff is `plumbline diff`: it lists the live
// objects of each declared kind and namespace once (LiveObjects over the API server), compares
// locally, and asks the API server (dry run, cached) only where values differ. Controller is
// `plumbline run`: per Source it polls Git at the interval (no fetch or render when the tip has
// not moved), reads live objects from controller-runtime's watch cache (CacheLive), passes again
// only when something changed (a commit, the spec, a watch event, a Source error; images by tag
// at every poll), reuses the comparison of every unchanged object (CompareMemo), folds the
// findings into incidents kept in the Source's status, and lets the pure decide choose what to
// revert or prune from the Source's modes. Acting happens in one place (act), paced per object,
// with fights detected; the notifier hears of each new incident, change of state and Source
// error once.
//
// In mode propose, incidents become pull requests (proposals, Cluster.Propose, shared with
// `plumbline propose`): the change that makes Git declare what runs is written into a
// workspace of the repository, the proposed tree is rendered, policy-checked and diffed, and
// one pull request per incident is opened or updated on the branch named by its fingerprint.
// Its state is kept with the incident and polled at the Source's interval: merged, Git is
// polled again; closed, the incident is reverted; the drift gone, it is closed with a comment.
// Forge I/O is time-bounded per proposal.
//
// Extra objects come from the inventory of what Plumbline applied (a ConfigMap per source in
// plumbline-system), minus what Git declares; orphans of the declared kinds are reported apart.
//
// The reconciler never reverts or prunes from a state it could not fetch, render or validate,
// nor from one that breaks a blocking policy; it never prunes from an empty render or more than
// a Source's pruneMaxFraction at once; and one broken Source never stalls the others.
package reconciler
