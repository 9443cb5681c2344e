package manifests

import (
	"errors"
	"fmt"
	"strings"
)

// Kinds of render failure. Every error that Render returns for one of these reasons wraps
// the matching sentinel, so that callers can tell them apart with errors.Is.
var (
	// ErrRemoteReference marks an entry that names something outside the checkout: a URL, a
	// git or GitHub reference.
	ErrRemoteReference = errors.New("remote references are not allowed")
	// ErrOutsideRoot marks a path that resolves outside the repository root, directly, through
	// "..", through a symlink, or as an absolute path.
	ErrOutsideRoot = errors.New("path resolves outside the repository root")
	// ErrLimitExceeded marks a file, a total, an estimate or an output over one of the caps of
	// Options.
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrExcessiveAliasing marks YAML whose aliases expand far beyond the document itself.
	ErrExcessiveAliasing = errors.New("excessive YAML aliasing")
	// ErrUnsupported marks a kustomize feature that Plumbline refuses to run: helm charts,
	// non-builtin plugins, generator or transformer folders.
	ErrUnsupported = errors.New("not supported")
	// ErrTimeout marks a render that did not finish within Options.Timeout.
	ErrTimeout = errors.New("render timed out")
)

// FileError is a render error tied to one file of the checkout. Path is relative to the
// repository root, slash-separated ("." for the root itself); Line is 1-based, or 0 when
// unknown. Err is the cause and is never nil.
type FileError struct {
	Path string
	Line int
	Err  error
}

// Error reads "path:line: cause", or "path: cause" when the line is unknown.
func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// fileErr builds a *FileError; line 0 means unknown.
func fileErr(path string, line int, format string, args ...any) error {
	return &FileError{Path: path, Line: line, Err: fmt.Errorf(format, args...)}
}

// rewrittenError carries an error from kustomize whose text has had absolute paths of the
// checkout replaced by paths relative to the repository root. It unwraps to the original.
type rewrittenError struct {
	msg string
	err error
}

func (e *rewrittenError) Error() string { return e.msg }
func (e *rewrittenError) Unwrap() error { return e.err }

// relativiseError rewrites the absolute root prefixes in err's text so that a user reads
// repository paths rather than the layout of the machine that rendered them.
func relativiseError(err error, roots ...string) error {
	msg := err.Error()
	for _, r := range roots {
		if r == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, r+"/", "")
		msg = strings.ReplaceAll(msg, r, ".")
	}
	return &rewrittenError{msg: msg, err: err}
}
