// Package reconciler is Plumbline's loop, and the only package that wires the others together:
// it takes the objects that manifests rendered from what gitsource fetched, reads their live
// twins from the cluster, has diff compare them, and turns every result into the findings of a
// report.Report.
//
// This first cut is the one-shot run behind `plumbline diff`: list the live objects of each
// declared kind and namespace once (no request per object), compare locally, and ask the API
// server (dry run) only where values differ. It also finds the objects Git no longer declares
// (Extra): those that carry Plumbline's ownership label for the source, and orphans created by
// hand next to the declared ones.
//
// The reconciler never reverts or prunes from a state it could not fetch, render or validate;
// in this one-shot mode it writes nothing at all except through Apply, which callers use to
// put a source's objects in place (the demo, tests).
package reconciler
