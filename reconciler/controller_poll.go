package reconciler

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/gitsource"
	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/report"
)

// Reasons of the Ready condition when a poll fails. Each names the step that failed.
const (
	ReasonFetchFailed   = "FetchFailed"
	ReasonRenderFailed  = "RenderFailed"
	ReasonPolicyFailed  = "PolicyFailed"
	ReasonPolicyBlocked = "PolicyBlocked"
	ReasonInvalidSpec   = "InvalidSpec"
)

// pollError is a failed poll: the step, as a Ready reason, and what went wrong.
type pollError struct {
	reason string
	err    error
}

func (e *pollError) Error() string { return e.err.Error() }
func (e *pollError) Unwrap() error { return e.err }

func failed(reason string, err error) *pollError { return &pollError{reason: reason, err: err} }

// poll fetches the Source's ref, and when the commit moved (or the spec changed) renders and
// checks it. A failure keeps the last good desired state in force; it is remembered in
// st.pollErr for the status and the notifier.
func (c *Controller) poll(ctx context.Context, src *v1alpha1.Source, st *sourceState) {
	st.polledAt = c.opts.Now()
	key := types.NamespacedName{Namespace: src.Namespace, Name: src.Name}
	err := c.pollOnce(ctx, src, st)
	result := "ok"
	if err != nil {
		result = "error"
		st.pollErr = err
		c.opts.Log.Warn("poll failed", "source", key.String(), "err", err)
	} else {
		st.pollErr = nil
		st.generation = src.Generation
	}
	c.metrics.GitFetches.WithLabelValues(result).Inc()
}

func (c *Controller) pollOnce(ctx context.Context, src *v1alpha1.Source, st *sourceState) error {
	auth, err := c.gitAuth(ctx, src)
	if err != nil {
		return failed(ReasonInvalidSpec, err)
	}
	opts := gitsource.DefaultFetchOptions()
	opts.URL, opts.Ref, opts.Auth, opts.CacheDir = src.Spec.Repo, src.Spec.Ref, auth, c.opts.GitCacheDir
	res, err := gitsource.Fetch(ctx, opts)
	if err != nil {
		return failed(ReasonFetchFailed, fmt.Errorf("spec.repo: %w", err))
	}
	defer res.Close()
	if st.good && res.Commit == st.revision.Revision && st.generation == src.Generation {
		return nil // the tip has not moved: no render
	}
	dir := path.Clean("/" + strings.TrimPrefix(src.Spec.Path, "/"))[1:]
	if dir == "" {
		dir = "."
	}
	objs, err := manifests.Render(ctx, res.Dir, dir, manifests.DefaultOptions())
	if err != nil {
		return failed(ReasonRenderFailed, fmt.Errorf("%s@%s: %w", res.URL, shortRevision(res.Commit), err))
	}
	engine, err := c.policyOf(ctx, res.Dir, src.Spec.Policy)
	if err != nil {
		return failed(ReasonPolicyFailed, err)
	}
	lock, err := ReadLock(ctx, res.Dir, dir)
	if err != nil {
		return failed(ReasonRenderFailed, err)
	}
	revision := report.Source{Repo: res.URL, Ref: res.Ref, Revision: res.Commit, Path: dir}
	if err := blockingViolations(ctx, objs, engine, revision, src.Spec.BlockSeverity); err != nil {
		return failed(ReasonPolicyBlocked, err)
	}
	st.good, st.desired, st.revision, st.engine, st.lock = true, objs, revision, engine, lock
	st.hasTags = hasTagImages(objs)
	st.fights.reset() // Git changed: what was fought over may be settled by the new commit
	return nil
}

// ReadLock reads the lock file of folder dir of the repository at root through manifests'
// guarded reader; a folder without one has the empty lock. `diff`, `check`, `images lock` and
// the controller read it so.
func ReadLock(ctx context.Context, root, dir string) (images.Lock, error) {
	file := path.Join(dir, images.LockFileName)
	data, err := manifests.ReadConfigFile(ctx, root, file)
	if errors.Is(err, fs.ErrNotExist) {
		return images.Lock{}, nil
	}
	if err != nil {
		return images.Lock{}, err
	}
	return images.ParseLock(file, data)
}

// policyOf compiles the Source's PolicySet file from the fetched tree, through the guarded
// reader, or the baseline.
func (c *Controller) policyOf(ctx context.Context, root, file string) (*policy.Engine, error) {
	if file == "" {
		return policy.NewEngine(nil)
	}
	clean := path.Clean("/" + file)[1:]
	data, err := manifests.ReadConfigFile(ctx, root, clean)
	if err != nil {
		return nil, fmt.Errorf("spec.policy %s: %w", clean, err)
	}
	ps, err := policy.ParsePolicySet(data, clean)
	if err != nil {
		return nil, err
	}
	return policy.NewEngine(ps)
}

// blockingViolations checks the desired state with the policy, and fails when it breaks a
// rule at or above the block severity: such a state is never applied.
func blockingViolations(ctx context.Context, objs []manifests.Object, engine *policy.Engine, src report.Source, block string) error {
	severity := policy.Severity(block)
	if !severity.Valid() {
		severity = policy.Severity("high")
	}
	r, err := Check(ctx, objs, CheckOptions{Source: src, Policy: engine})
	if err != nil {
		return err
	}
	var broken []string
	for _, f := range r.Findings {
		if f.Type == report.PolicyViolation && policy.Severity(f.Severity).AtLeast(severity) {
			broken = append(broken, fmt.Sprintf("%s (%s): %s [%s, %s]", f.Object, f.Source, f.Message, f.Rule, f.Severity))
		}
	}
	if len(broken) == 0 {
		return nil
	}
	return fmt.Errorf("%d policy violations at or above %s: %s", len(broken), severity, strings.Join(broken, "; "))
}

// gitAuth reads the Source's Git credentials Secret.
func (c *Controller) gitAuth(ctx context.Context, src *v1alpha1.Source) (*gitsource.Auth, error) {
	if src.Spec.SecretRef == nil {
		return nil, nil
	}
	var secret corev1.Secret
	key := types.NamespacedName{Namespace: src.Namespace, Name: src.Spec.SecretRef.Name}
	if err := c.client.Get(ctx, key, &secret); err != nil {
		return nil, fmt.Errorf("spec.secretRef: Secret %s: %w", key, err)
	}
	auth, err := gitsource.AuthFromSecretData(secret.Data)
	if err != nil {
		return nil, fmt.Errorf("spec.secretRef: Secret %s: %w", key, err)
	}
	return auth, nil
}
