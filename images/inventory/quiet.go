package inventory

import scalog "github.com/google/osv-scalibr/log"

// osv-scalibr logs to stderr by default; this package does not log, and what
// goes wrong reaches the caller as errors and statuses instead.
func init() { scalog.SetLogger(quiet{}) }

type quiet struct{}

func (quiet) Errorf(string, ...any) {}
func (quiet) Error(...any)          {}
func (quiet) Warnf(string, ...any)  {}
func (quiet) Warn(...any)           {}
func (quiet) Infof(string, ...any)  {}
func (quiet) Info(...any)           {}
func (quiet) Debugf(string, ...any) {}
func (quiet) Debug(...any)          {}
