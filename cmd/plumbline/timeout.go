package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"
)

// defaultTimeout is the --timeout of every one-shot command.
const defaultTimeout = 5 * time.Minute

// registerTimeout adds --timeout to a command. Every command gives it the one meaning that
// withTimeout applies.
func registerTimeout(fs *pflag.FlagSet, d *time.Duration) {
	fs.DurationVar(d, "timeout", defaultTimeout, "give up after this long; 0 means no limit")
}

// withTimeout bounds ctx by a --timeout value: 0 means no limit (the run ends only when ctx
// does), a positive value is a deadline from now, a negative one is an error. The cancel
// function is never nil when the error is nil.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc, error) {
	switch {
	case d < 0:
		return nil, nil, fmt.Errorf("--timeout %s: want 0 (no limit) or a positive duration", d)
	case d == 0:
		ctx, cancel := context.WithCancel(ctx)
		return ctx, cancel, nil
	default:
		ctx, cancel := context.WithTimeout(ctx, d)
		return ctx, cancel, nil
	}
}
