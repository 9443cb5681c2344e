package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// leaderLabel marks the pod of the replica that leads, so that a Service can send the
// leader-only endpoints' traffic (Slack's buttons, audit and Falco events) to it alone.
const leaderLabel = "plumbline.dev/leader"

const leaderLabelPodFlag = "leader-label-pod"

// Timings of the label's patches. While leading, a failed patch is tried again until it goes
// through or leadership ends; the removals, at start and at the end, are bounded, because the
// first holds the start and the last the hand-over of the Lease.
var (
	leaderLabelSetBackoff    = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: math.MaxInt32, Cap: 30 * time.Second}
	leaderLabelRemoveBackoff = wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 5}
	leaderLabelRemoveTimeout = 5 * time.Second
)

// addLeaderLabelFlags adds --leader-label-pod to `run`. Its value is read back from the command's
// flags by wireLeaderLabel.
func addLeaderLabelFlags(fs *pflag.FlagSet) {
	fs.String(leaderLabelPodFlag, "", "name of this replica's own pod in --namespace (the downward API's metadata.name): label it "+leaderLabel+"=true while it leads; empty: no label")
}

// wireLeaderLabel takes the leader label off this replica's pod now, before the election (a
// container restarted after it lost the Lease keeps its pod's labels), and adds the Runnable that
// puts it on while this replica leads. Without --leader-label-pod it does nothing. A patch that
// fails is logged; it never stops the controller.
func wireLeaderLabel(cmd *cobra.Command, mgr ctrl.Manager, namespace string, log *slog.Logger) error {
	name, err := cmd.Flags().GetString(leaderLabelPodFlag)
	if err != nil || name == "" {
		return err
	}
	if namespace == "" {
		return fmt.Errorf("--%s %s needs --namespace, the pod's namespace", leaderLabelPodFlag, name)
	}
	l := &leaderLabeler{client: mgr.GetClient(), pod: types.NamespacedName{Namespace: namespace, Name: name}, log: log}
	ctx, cancel := context.WithTimeout(cmd.Context(), leaderLabelRemoveTimeout)
	defer cancel()
	l.remove(ctx, "start")
	return mgr.Add(l)
}

// leaderLabeler labels its own pod while its manager leads.
type leaderLabeler struct {
	client client.Client
	pod    types.NamespacedName
	log    *slog.Logger
}

// NeedLeaderElection makes the label follow the Lease.
func (l *leaderLabeler) NeedLeaderElection() bool { return true }

// Start labels the pod, then waits for leadership to end and takes the label off with a context
// of its own, as the one it was given is already done. It always returns nil: a label that cannot
// be written is a log line, not a reason to stop the controller.
func (l *leaderLabeler) Start(ctx context.Context) error {
	if err := l.patch(ctx, true, leaderLabelSetBackoff); err != nil {
		if ctx.Err() == nil {
			l.log.Error("leader label: not set", "pod", l.pod.String(), "label", leaderLabel, "err", err)
		}
	} else {
		l.log.Info("leader label set", "pod", l.pod.String(), "label", leaderLabel)
	}
	<-ctx.Done()
	off, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaderLabelRemoveTimeout)
	defer cancel()
	l.remove(off, "leadership ended")
	return nil
}

// remove takes the label off the pod (at start, or when leadership ended: when), logging the
// outcome.
func (l *leaderLabeler) remove(ctx context.Context, when string) {
	if err := l.patch(ctx, false, leaderLabelRemoveBackoff); err != nil {
		l.log.Error("leader label: not removed", "pod", l.pod.String(), "label", leaderLabel, "when", when, "err", err)
		return
	}
	l.log.Info("leader label removed", "pod", l.pod.String(), "label", leaderLabel, "when", when)
}

// patch sets (on) or removes the label with a JSON merge patch (null removes a key, and removing
// an absent key is no change), trying again with backoff until it goes through, ctx ends or the
// API server says that no retry can help (no such pod, an invalid name).
func (l *leaderLabeler) patch(ctx context.Context, on bool, backoff wait.Backoff) error {
	var value any // JSON null
	action := "remove"
	if on {
		value, action = "true", "set"
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{leaderLabel: value}}})
	if err != nil {
		return err
	}
	var last error
	err = wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: l.pod.Namespace, Name: l.pod.Name}}
		last = l.client.Patch(ctx, pod, client.RawPatch(types.MergePatchType, body))
		switch {
		case last == nil:
			return true, nil
		case apierrors.IsNotFound(last), apierrors.IsInvalid(last), apierrors.IsBadRequest(last):
			return false, last
		}
		l.log.Warn("leader label: patch failed", "pod", l.pod.String(), "action", action, "err", last)
		return false, nil
	})
	switch {
	case err == nil:
		return nil
	case last != nil: // the API server's answer says more than "timed out" or "canceled"
		return fmt.Errorf("Pod/%s: %w", l.pod, last)
	}
	return fmt.Errorf("Pod/%s: %w", l.pod, err)
}
