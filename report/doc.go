// Package report is Plumbline's shared vocabulary: the source a run read, the objects it compared,
// and the findings it made. Every consumer (CLI text and JSON, Slack, metrics, pull requests)
// reads the same Report. The package imports nothing else of the project, so that every other
// package may use it; it performs no I/O beyond writing a rendered report to an io.Writer.
package report
