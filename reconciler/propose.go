package reconciler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/gitsource"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/report"
)

// proposeTimeout is the default of ControllerOptions.ProposeTimeout: the budget of a pass's Git
// and forge I/O, so that a slow or dead forge delays a pass by at most this much.
const proposeTimeout = 45 * time.Second

// proposalRequested is the state of an incident someone asked to keep (the Slack button),
// kept in the status until the pull request is opened.
const proposalRequested = "requested"

// proposalMemo is what the controller keeps in memory about a Source's proposals: when each
// one's pull request was last looked at, the keep requests not yet acted on, and the incidents
// whose Slack thread was just posted (their pull request's body gets its link).
type proposalMemo struct {
	checked map[string]time.Time
	keep    map[string]string
	link    map[string]bool
	// hooked is set by a forge webhook of a pull request: look at every open one now.
	hooked bool
}

func (c *Controller) proposalMemo(st *sourceState) *proposalMemo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.proposals == nil {
		st.proposals = &proposalMemo{checked: map[string]time.Time{}, keep: map[string]string{}, link: map[string]bool{}}
	}
	return st.proposals
}

// proposalsDue reports whether a pass is due for propose mode alone: a keep request waits, an
// open pull request's Slack thread was just posted, or an open pull request (or a failed
// proposal) was last looked at an interval ago. The caller holds c.mu and st.pass.
func proposalsDue(st *sourceState, src *v1alpha1.Source, now time.Time) bool {
	memo := st.proposals
	if memo == nil {
		return false
	}
	if len(memo.keep) > 0 || memo.hooked {
		return true
	}
	for fp := range memo.link {
		if inc := st.incidents[fp]; inc != nil && inc.Proposal != nil && inc.Proposal.State == string(v1alpha1.ProposalOpen) && inc.Proposal.Thread == "" {
			return true
		}
	}
	interval := src.Spec.PollInterval()
	for fp, inc := range st.incidents {
		if p := inc.Proposal; p != nil && (p.State == string(v1alpha1.ProposalOpen) || p.State == string(v1alpha1.ProposalFailed) || p.State == proposalRequested) &&
			now.Sub(memo.checked[fp]) >= interval {
			return true
		}
	}
	return false
}

// ProposeIncident asks for a pull request that keeps one incident's live state, whatever the
// Source's mode: the Slack button "Keep it" calls it. by names who asked. The pull request is
// opened by the Source's next pass, which this call triggers; the request is kept in the
// Source's status until then. It fails when the Source or the incident is not known.
func (c *Controller) ProposeIncident(ctx context.Context, src types.NamespacedName, fingerprint, by string) error {
	var s v1alpha1.Source
	if err := c.client.Get(ctx, src, &s); err != nil {
		return fmt.Errorf("Source %s: %w", src, err)
	}
	if s.Spec.Propose == nil {
		return fmt.Errorf("Source %s: spec.propose is not set: there is no forge to open a pull request on", src)
	}
	st := c.state(src)
	memo := c.proposalMemo(st)
	st.pass.Lock() // a pass replaces st.incidents while it holds st.pass
	_, known := st.incidents[fingerprint]
	loaded := st.incidents != nil
	st.pass.Unlock()
	if !known && loaded {
		return fmt.Errorf("Source %s: no open incident %s", src, fingerprint)
	}
	c.mu.Lock()
	memo.keep[fingerprint] = by
	st.dirty = true
	c.mu.Unlock()
	c.reconcileSoon(src)
	return nil
}

// proposals runs the propose mode of one pass: it opens a pull request for each incident that
// wants one, follows the open ones at the Source's interval (merged: Git is polled again;
// closed: the incident is reverted), rebuilds a branch whose base moved or whose drift changed,
// and closes, with a comment, the pull request of an incident that resolved by itself.
func (c *Controller) proposals(ctx context.Context, src *v1alpha1.Source, st *sourceState, incidents map[string]*report.Incident, notes []Notification, now time.Time) []Notification {
	memo := c.proposalMemo(st)
	c.mu.Lock()
	keep, link, hooked := memo.keep, memo.link, memo.hooked
	memo.keep, memo.link, memo.hooked = map[string]string{}, map[string]bool{}, false
	c.mu.Unlock()
	// One budget for the Git and forge I/O of every proposal of the pass: a forge that hangs
	// delays the Source's pass by ProposeTimeout at most, not by that much per incident.
	ctx, cancel := context.WithTimeout(ctx, c.opts.ProposeTimeout)
	defer cancel()
	skipped := 0
	var out []Notification
	for _, n := range notes {
		if n.Event != EventResolved {
			continue
		}
		for _, inc := range n.Incidents {
			if inc.Proposal != nil && inc.Proposal.State == string(v1alpha1.ProposalOpen) {
				out = append(out, c.closeResolved(ctx, src, inc)...) // a spent budget fails it at once, and says so
			}
		}
	}
	interval := src.Spec.PollInterval()
	for _, fp := range slices.Sorted(maps.Keys(incidents)) {
		inc := incidents[fp]
		if by, ok := keep[fp]; ok && (inc.Proposal == nil || inc.Proposal.State != string(v1alpha1.ProposalOpen)) {
			inc.Proposal = &report.Proposal{State: proposalRequested, By: by}
		}
		wants := src.Spec.Mode.For(string(inc.Type)) == v1alpha1.ModePropose && proposable(inc.Type)
		p := inc.Proposal
		if ctx.Err() != nil {
			// The budget is spent: what is left waits, in the state it is in, for a later pass.
			if p != nil || wants {
				skipped++
				memo.checked[fp] = now
			}
			continue
		}
		switch {
		case p != nil && p.State == proposalRequested:
			out = append(out, c.open(ctx, src, st, inc, now)...)
			memo.checked[fp] = now
		case p == nil && wants:
			out = append(out, c.open(ctx, src, st, inc, now)...)
			memo.checked[fp] = now
		case p != nil && p.State == string(v1alpha1.ProposalFailed) && wants && now.Sub(memo.checked[fp]) >= interval:
			out = append(out, c.open(ctx, src, st, inc, now)...)
			memo.checked[fp] = now
		case p != nil && p.State == string(v1alpha1.ProposalMerged) && wants && p.MergedRevision != "" && st.pollErr == nil &&
			st.revision.Revision != p.MergedRevision:
			// Git moved past the merge and the drift is still here: the merge did not declare it
			// (the branch was edited before the merge). Propose what runs again.
			inc.Proposal = nil
			out = append(out, c.open(ctx, src, st, inc, now)...)
			memo.checked[fp] = now
		case p != nil && p.State == string(v1alpha1.ProposalOpen):
			if ch, err := c.cluster.changeFor(ctx, inc, now); err == nil && ch.digest != p.Change {
				out = append(out, c.open(ctx, src, st, inc, now)...) // the drift changed: the branch follows it
				memo.checked[fp] = now
				continue
			}
			if link[fp] && p.Thread == "" {
				c.linkThread(ctx, src, inc)
			}
			if !hooked && now.Sub(memo.checked[fp]) < interval {
				continue
			}
			memo.checked[fp] = now
			out = append(out, c.follow(ctx, src, st, inc, now)...)
		}
	}
	if skipped > 0 {
		c.opts.Log.Warn("proposals wait for a later pass: the forge and Git took the pass's budget", "source", keyOfSource(src).String(),
			"budget", c.opts.ProposeTimeout.String(), "waiting", skipped)
	}
	return out
}

// forgeCooldown is how long no pass asks a forge again after it took a pass's whole budget
// without answering.
const forgeCooldown = time.Minute

// forgeHost names the forge of a Source's spec.propose: the host of its API URL, else of the
// repository.
func forgeHost(src *v1alpha1.Source) string {
	raw := src.Spec.Repo
	if src.Spec.Propose != nil && src.Spec.Propose.APIURL != "" {
		raw = src.Spec.Propose.APIURL
	}
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	if at, _, ok := strings.Cut(raw, ":"); ok && strings.Contains(at, "@") { // git@host:owner/repo
		return at[strings.Index(at, "@")+1:]
	}
	return raw
}

// forgeDown records that the Source's forge's API took a whole pass's budget: for forgeCooldown the
// passes of every Source that uses it fail their proposals at once instead of waiting again,
// so that one hung forge holds no more than one pass of one worker a minute.
func (c *Controller) forgeDown(src *v1alpha1.Source) {
	host, now := forgeHost(src), c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forgesDown == nil {
		c.forgesDown = map[string]time.Time{}
	}
	c.forgesDown[host] = now.Add(forgeCooldown)
	c.opts.Log.Warn("forge left alone: it took a pass's budget without answering", "forge", host, "budget", c.opts.ProposeTimeout.String(), "until", now.Add(forgeCooldown).UTC().Format(time.RFC3339))
}

// forgeOutageErr is the error of a forge left alone since it took a pass's budget, or nil.
func (c *Controller) forgeOutageErr(src *v1alpha1.Source) error {
	host, now := forgeHost(src), c.opts.Now()
	c.mu.Lock()
	until, ok := c.forgesDown[host]
	if ok && !now.Before(until) {
		delete(c.forgesDown, host)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	return errors.New(c.hungForge(src))
}

// open builds, checks, pushes and opens (or updates) the pull request of one incident.
func (c *Controller) open(ctx context.Context, src *v1alpha1.Source, st *sourceState, inc *report.Incident, now time.Time) []Notification {
	prev := inc.Proposal
	p, err := c.propose(ctx, src, st, inc, now)
	if err != nil {
		msg := truncate(c.budgetSpent(ctx, src, err), 2048)
		failed := &report.Proposal{State: string(v1alpha1.ProposalFailed), Message: msg}
		if prev != nil && prev.State == string(v1alpha1.ProposalOpen) {
			// The pull request stays open; the rebuild failed.
			failed = prev
			failed.Message = msg
		}
		inc.Proposal = failed
		c.event(src, "Warning", "ProposalFailed", fmt.Sprintf("%s: %s", inc.Object, msg))
		if prev != nil && prev.Message == msg {
			return nil // told already
		}
		return []Notification{{Event: EventProposalFailed, Incidents: []*report.Incident{inc}, Detail: msg}}
	}
	inc.Proposal = p
	if prev != nil && prev.State == string(v1alpha1.ProposalOpen) && prev.Number == p.Number {
		return nil // rebuilt or updated: the thread knows the pull request
	}
	c.event(src, "Normal", "ProposalOpened", fmt.Sprintf("%s: %s", inc.Object, p.URL))
	return []Notification{{Event: EventProposalOpened, Incidents: []*report.Incident{inc}, Detail: p.URL}}
}

// follow reads an open pull request's state, and rebuilds its branch when the base moved.
func (c *Controller) follow(ctx context.Context, src *v1alpha1.Source, st *sourceState, inc *report.Incident, now time.Time) []Notification {
	p := inc.Proposal
	forge, err := c.forgeOf(ctx, src)
	if err == nil {
		var pr *gitsource.PullRequest
		if pr, err = forge.Get(ctx, p.Number); err == nil {
			switch pr.State {
			case gitsource.PullRequestMerged:
				p.State, p.By, p.Message, p.MergedRevision = string(v1alpha1.ProposalMerged), pr.By, "", st.revision.Revision
				c.mu.Lock()
				st.polledAt = time.Time{} // Git has the change now: poll it at the next pass, now
				st.dirty = true
				c.mu.Unlock()
				c.reconcileSoon(keyOfSource(src))
				c.event(src, "Normal", "ProposalMerged", fmt.Sprintf("%s: %s merged by %s", inc.Object, p.URL, byName(pr.By)))
				return []Notification{{Event: EventProposalMerged, Incidents: []*report.Incident{inc}, Detail: "merged by " + byName(pr.By)}}
			case gitsource.PullRequestClosed:
				p.State, p.By, p.Message = string(v1alpha1.ProposalClosed), pr.By, ""
				c.markDirty(st) // rejected: the next pass, now, reverts
				c.reconcileSoon(keyOfSource(src))
				c.event(src, "Normal", "ProposalClosed", fmt.Sprintf("%s: %s closed by %s", inc.Object, p.URL, byName(pr.By)))
				return []Notification{{Event: EventProposalClosed, Incidents: []*report.Incident{inc}, Detail: "closed by " + byName(pr.By) + ": reverting to Git"}}
			}
		}
	}
	if err != nil {
		msg := truncate(c.budgetSpent(ctx, src, err), 2048)
		if p.Message == msg {
			return nil
		}
		p.Message = msg
		c.event(src, "Warning", "ProposalFailed", fmt.Sprintf("%s: %s", inc.Object, msg))
		return []Notification{{Event: EventProposalFailed, Incidents: []*report.Incident{inc}, Detail: msg}}
	}
	if p.Message != "" {
		p.Message = ""
	}
	if p.Thread == "" {
		c.linkThread(ctx, src, inc) // a thread posted before a restart
	}
	if p.BaseCommit != st.revision.Revision {
		return c.open(ctx, src, st, inc, now) // the base moved: rebase and force-push
	}
	return nil
}

// budgetSpent is the text of a proposal's error; when the pass's budget ran out it is the same
// words as a forge left alone says (hungForge), so that the thread hears of a hung forge once.
func (c *Controller) budgetSpent(ctx context.Context, src *v1alpha1.Source, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		c.opts.Log.Warn("proposal: no answer within the pass's budget", "source", keyOfSource(src).String(), "budget", c.opts.ProposeTimeout.String(), "err", err)
		if errors.Is(err, gitsource.ErrForge) {
			c.forgeDown(src) // the forge's API hung, not a slow clone of one repository
		}
		return c.hungForge(src)
	}
	return err.Error()
}

// hungForge says that the Source's forge took a pass's whole budget.
func (c *Controller) hungForge(src *v1alpha1.Source) string {
	return fmt.Sprintf("forge %s (its API or Git) gave no answer within %s, the budget of one pass: it is asked again once a minute at most",
		forgeHost(src), c.opts.ProposeTimeout)
}

// proposable reports whether Git can declare the state a finding type is about: a field, an
// object, an approved digest. Policy violations, running pods and runtime events it cannot.
func proposable(t report.FindingType) bool {
	switch t {
	case report.Modified, report.Missing, report.Extra, report.ImageTagMutated, report.ImageUnpinned:
		return true
	}
	return false
}

func byName(by string) string {
	if by == "" {
		return "someone"
	}
	return by
}

// closeResolved closes, with a comment, the pull request of an incident whose drift went away.
func (c *Controller) closeResolved(ctx context.Context, src *v1alpha1.Source, inc *report.Incident) []Notification {
	p := inc.Proposal
	forge, err := c.forgeOf(ctx, src)
	if err == nil {
		// Git may have caught up with a merge before the pull request was looked at again.
		var pr *gitsource.PullRequest
		if pr, err = forge.Get(ctx, p.Number); err == nil && pr.State == gitsource.PullRequestMerged {
			p.State, p.By = string(v1alpha1.ProposalMerged), pr.By
			return []Notification{{Event: EventProposalMerged, Incidents: []*report.Incident{inc}, Detail: "merged by " + byName(pr.By)}}
		} else if err == nil && pr.State == gitsource.PullRequestClosed {
			p.State, p.By = string(v1alpha1.ProposalClosed), pr.By
			return []Notification{{Event: EventProposalClosed, Incidents: []*report.Incident{inc}, Detail: "closed by " + byName(pr.By)}}
		}
	}
	if err == nil {
		err = forge.Comment(ctx, p.Number, "The cluster matches Git again (the change was reverted by hand, or Git now declares it): Plumbline closes this pull request.")
	}
	if err == nil {
		err = forge.Close(ctx, p.Number)
	}
	if err != nil {
		return []Notification{{Event: EventProposalFailed, Incidents: []*report.Incident{inc}, Detail: "closing " + p.URL + ": " + c.budgetSpent(ctx, src, err)}}
	}
	p.State, p.By = string(v1alpha1.ProposalClosed), "plumbline"
	return []Notification{{Event: EventProposalClosed, Incidents: []*report.Incident{inc}, Detail: "closed by Plumbline: the drift is gone"}}
}

// propose does the work of one proposal for the controller and returns the open pull request.
func (c *Controller) propose(ctx context.Context, src *v1alpha1.Source, st *sourceState, inc *report.Incident, now time.Time) (*report.Proposal, error) {
	cfg := src.Spec.Propose
	if cfg == nil {
		return nil, errors.New("spec.propose is not set: there is no forge to open a pull request on")
	}
	token, username, err := c.forgeToken(ctx, src)
	if err != nil {
		return nil, err
	}
	auth, err := c.gitAuth(ctx, src)
	if err != nil {
		return nil, err
	}
	if auth == nil || (auth.Password == "" && auth.BearerToken == "" && len(auth.SSHPrivateKey) == 0) {
		auth = &gitsource.Auth{Username: username, Password: token}
	}
	forge, err := c.forgeOf(ctx, src)
	if err != nil {
		return nil, err
	}
	base := cfg.Base
	if base == "" {
		base = src.Spec.Ref
	}
	return c.cluster.Propose(ctx, inc, ProposeOptions{
		Repo: src.Spec.Repo, Base: base, Path: sourceDir(src), Auth: auth, InsecureHTTP: cfg.InsecureHTTP, Forge: forge,
		Author: gitsource.Signature{Name: cfg.AuthorName, Email: cfg.AuthorEmail}, Policy: st.engine,
		BlockSeverity: src.Spec.BlockSeverity, DefaultNamespace: src.Namespace, SourceName: keyOfSource(src).String(),
		ThreadLink: c.threadLink(ctx, src, inc.Fingerprint),
	}, now)
}

// threadPosted hears from the Slack notifier that the thread of these incidents exists now:
// a pass links their open pull requests to it (proposalsDue decides whether one is due).
func (c *Controller) threadPosted(source string, fingerprints []string) {
	key, err := keyOfSourceName(source)
	if err != nil {
		return
	}
	st := c.state(key)
	memo := c.proposalMemo(st)
	c.mu.Lock()
	for _, fp := range fingerprints {
		memo.link[fp] = true
	}
	c.mu.Unlock()
	c.reconcileSoon(key)
}

// threadLink is the link to the incident's thread where the notifier told of it (Slack), or
// "" while there is none. A failure to ask is logged: the link is asked for again later.
func (c *Controller) threadLink(ctx context.Context, src *v1alpha1.Source, fingerprint string) string {
	l, ok := c.opts.Notifier.(ThreadLinker)
	if !ok {
		return ""
	}
	link, err := l.ThreadLink(ctx, keyOfSource(src).String(), fingerprint)
	if err != nil {
		c.opts.Log.Warn("link the pull request to the Slack thread", "source", keyOfSource(src).String(), "incident", fingerprint, "err", err)
		return ""
	}
	return link
}

// linkThread puts the link to the incident's thread into the body of its open pull request,
// once the thread has one. The pull request opens in the pass that opens the incident, before
// Slack has the thread, so the link comes with this later edit. A failure leaves p.Thread
// empty: the next look at the pull request tries again.
func (c *Controller) linkThread(ctx context.Context, src *v1alpha1.Source, inc *report.Incident) {
	p := inc.Proposal
	link := c.threadLink(ctx, src, inc.Fingerprint)
	if link == "" {
		return
	}
	forge, err := c.forgeOf(ctx, src)
	var pr *gitsource.PullRequest
	if err == nil {
		pr, err = forge.Get(ctx, p.Number)
	}
	if err == nil && pr.State != gitsource.PullRequestOpen {
		return // merged or closed: the next look at it says so
	}
	if err == nil {
		if body := withThreadLink(pr.Body, link); body != pr.Body {
			_, err = forge.Update(ctx, p.Number, pr.Title, body)
		}
	}
	if err != nil {
		c.opts.Log.Warn("link the pull request to the Slack thread", "source", keyOfSource(src).String(), "pullRequest", p.URL, "err", err)
		return
	}
	p.Thread = link
}

// ProposeOptions say where a proposal goes and how it is checked.
type ProposeOptions struct {
	// Repo is the desired-state repository; Base the branch to merge into (empty: the remote's
	// default branch); Path the folder the source renders.
	Repo, Base, Path string
	// Auth pushes the proposal branch; InsecureHTTP allows it over plain http://.
	Auth         *gitsource.Auth
	InsecureHTTP bool
	// Forge opens the pull request. Required.
	Forge gitsource.Forge
	// Author signs the commit. Default Plumbline <plumbline@localhost>.
	Author gitsource.Signature
	// Policy and BlockSeverity check the proposed state: a state that breaks a rule at or
	// above BlockSeverity (default high) is not proposed. Nil Policy: the built-in baseline.
	Policy        *policy.Engine
	BlockSeverity string
	// DefaultNamespace is given to objects that declare none. Default "default".
	DefaultNamespace string
	// SourceName names the source in the body.
	SourceName string
	// ThreadLink links the body to the incident's Slack thread; empty: no link (yet).
	ThreadLink string
}

// Propose writes the change that makes Git declare an incident's live state (or served
// digest) on the branch plumbline/<type>-<short fingerprint>, after checking that the proposed
// state renders, passes the blocking policy and, compared with the cluster, shows no drift of
// the object; then it opens the pull request, or updates the open one of that branch. The
// same incident never opens two pull requests.
func (c *Cluster) Propose(ctx context.Context, inc *report.Incident, opts ProposeOptions, now time.Time) (*report.Proposal, error) {
	if opts.Forge == nil {
		return nil, errors.New("propose: no forge")
	}
	if opts.DefaultNamespace == "" {
		opts.DefaultNamespace = "default"
	}
	if opts.Policy == nil {
		var err error
		if opts.Policy, err = policy.NewEngine(nil); err != nil {
			return nil, err
		}
	}
	if opts.Author.Name == "" {
		opts.Author.Name = "Plumbline"
	}
	if opts.Author.Email == "" {
		opts.Author.Email = "plumbline@localhost"
	}
	ch, err := c.changeFor(ctx, inc, now)
	if err != nil {
		return nil, err
	}
	ws, err := gitsource.Open(ctx, gitsource.WorkspaceOptions{URL: opts.Repo, Base: opts.Base, Auth: opts.Auth, InsecureHTTP: opts.InsecureHTTP, Timeout: proposeTimeout})
	if err != nil {
		return nil, err
	}
	defer ws.Close()
	dir := cleanDir(opts.Path)
	edit, err := ch.apply(ws.Dir, dir, now)
	if err != nil {
		return nil, fmt.Errorf("edit Git: %w", err)
	}
	policyResult, err := c.checkProposed(ctx, opts, ws, dir, inc, ch)
	if err != nil {
		return nil, err
	}
	branch := proposalBranch(inc)
	msg := ch.title + "\n\nPlumbline incident " + inc.Fingerprint + " of " + opts.SourceName + ".\n"
	_, err = ws.Push(ctx, gitsource.PushOptions{Branch: branch, Message: msg, Author: opts.Author, When: now})
	if errors.Is(err, gitsource.ErrNoChange) {
		return nil, fmt.Errorf("Git already declares this state on %s: nothing to propose", shortRevision(ws.BaseCommit))
	}
	if err != nil {
		return nil, err
	}
	body := proposalBody(opts.SourceName, ws.BaseCommit, inc, edit.Notes, policyResult, opts.ThreadLink)
	pr, err := opts.Forge.FindOpen(ctx, branch)
	if err != nil {
		return nil, err
	}
	if pr != nil {
		if pr, err = opts.Forge.Update(ctx, pr.Number, ch.title, body); err != nil {
			return nil, err
		}
	} else if pr, err = opts.Forge.Create(ctx, gitsource.NewPullRequest{Branch: branch, Base: strings.TrimPrefix(ws.Base, "refs/heads/"), Title: ch.title, Body: body}); err != nil {
		return nil, err
	}
	return &report.Proposal{State: string(v1alpha1.ProposalOpen), URL: pr.URL, Number: pr.Number, Branch: branch, BaseCommit: ws.BaseCommit, Change: ch.digest, Thread: opts.ThreadLink}, nil
}

// checkProposed renders the proposed tree, refuses it when it breaks a blocking policy or
// does not declare what runs, and returns the policy result for the body.
func (c *Cluster) checkProposed(ctx context.Context, opts ProposeOptions, ws *gitsource.Workspace, dir string, inc *report.Incident, ch *change) (string, error) {
	objs, err := manifests.Render(ctx, ws.Dir, dir, manifests.DefaultOptions())
	if err != nil {
		return "", fmt.Errorf("the proposed state does not render: %w", err)
	}
	revision := report.Source{Repo: gitsource.RedactURL(opts.Repo), Ref: ws.Base, Revision: ws.BaseCommit, Path: dir}
	if err := blockingViolations(ctx, objs, opts.Policy, revision, opts.BlockSeverity); err != nil {
		return "", fmt.Errorf("the proposed state breaks a blocking policy, so no pull request is opened: %w", err)
	}
	block := opts.BlockSeverity
	if block == "" {
		block = "high"
	}
	result := "No rule is broken at or above " + block + "."
	if r, err := Check(ctx, objs, CheckOptions{Source: revision, Policy: opts.Policy}); err == nil {
		var lower []string
		for _, f := range r.Findings {
			if f.Type == report.PolicyViolation {
				lower = append(lower, fmt.Sprintf("%s: %s [%s, %s]", f.Object, f.Message, f.Rule, f.Severity))
			}
		}
		if len(lower) > 0 {
			result += " Below it: " + strings.Join(lower, "; ")
		}
	}
	if ch.object == nil {
		return result, nil
	}
	var proposed []manifests.Object
	for _, o := range objs {
		ref := refOf(o.Object)
		if ref.Kind == inc.Object.Kind && ref.Name == inc.Object.Name && (ref.Namespace == "" || ref.Namespace == inc.Object.Namespace) {
			proposed = append(proposed, o)
		}
	}
	switch {
	case ch.object.Delete && len(proposed) > 0:
		return "", fmt.Errorf("%s: the proposed state still declares it", inc.Object)
	case ch.object.Delete:
		return result, nil
	case len(proposed) != 1:
		return "", fmt.Errorf("%s: the proposed state declares it %d times", inc.Object, len(proposed))
	}
	dopts := DefaultDiffOptions()
	dopts.DefaultNamespace = opts.DefaultNamespace
	rep, err := c.Diff(ctx, proposed, dopts)
	if err != nil {
		return "", fmt.Errorf("%s: compare the proposed state with the cluster: %w", inc.Object, err)
	}
	for _, f := range rep.Findings {
		if f.Type == report.Modified || f.Type == report.Missing {
			return "", fmt.Errorf("%s: the edit does not make Git declare what runs (%s); no pull request is opened", inc.Object, strings.Join(report.FieldPaths(f), ", "))
		}
	}
	return result, nil
}

// proposalBranch is plumbline/<type>-<short hash of the fingerprint>: the same incident always
// proposes on the same branch.
func proposalBranch(inc *report.Incident) string {
	fp := inc.Fingerprint
	if len(fp) > 12 {
		fp = fp[:12]
	}
	return "plumbline/" + strings.ToLower(string(inc.Type)) + "-" + fp
}

// sourceDir is the Source's folder, cleaned, relative to the repository root.
func sourceDir(src *v1alpha1.Source) string { return cleanDir(src.Spec.Path) }

// cleanDir cleans a folder relative to the repository root; "" is ".".
func cleanDir(p string) string {
	dir := path.Clean("/" + strings.TrimPrefix(p, "/"))[1:]
	if dir == "" {
		return "."
	}
	return dir
}

// forgeToken reads the token (and push user) from spec.propose.secretRef.
func (c *Controller) forgeToken(ctx context.Context, src *v1alpha1.Source) (token, username string, err error) {
	cfg := src.Spec.Propose
	var secret corev1.Secret
	key := types.NamespacedName{Namespace: src.Namespace, Name: cfg.SecretRef.Name}
	if err := c.client.Get(ctx, key, &secret); err != nil {
		return "", "", fmt.Errorf("spec.propose.secretRef: Secret %s: %w", key, err)
	}
	token = strings.TrimSpace(string(secret.Data["token"]))
	if token == "" {
		return "", "", fmt.Errorf("spec.propose.secretRef: Secret %s has no key token", key)
	}
	username = strings.TrimSpace(string(secret.Data["username"]))
	if username == "" {
		username = "x-access-token"
	}
	return token, username, nil
}

// forgeOf returns the Forge of the Source's spec.propose.
func (c *Controller) forgeOf(ctx context.Context, src *v1alpha1.Source) (gitsource.Forge, error) {
	cfg := src.Spec.Propose
	if cfg == nil {
		return nil, errors.New("spec.propose is not set")
	}
	if err := c.forgeOutageErr(src); err != nil {
		return nil, err
	}
	token, _, err := c.forgeToken(ctx, src)
	if err != nil {
		return nil, err
	}
	f, err := gitsource.NewForge(gitsource.ForgeOptions{Kind: gitsource.ForgeKind(cfg.Forge), APIURL: cfg.APIURL, RepoURL: src.Spec.Repo, Token: token})
	if err != nil {
		return nil, fmt.Errorf("spec.propose: %w", err)
	}
	return f, nil
}

// withRejected adds the reverts of incidents whose pull request was closed unmerged: the
// change was rejected, so Git's state goes back, whatever the mode says.
func (c *Controller) withRejected(d decision, src *v1alpha1.Source, st *sourceState, incidents map[string]*report.Incident, in decideInput) decision {
	var rejected []report.Finding
	for _, fp := range slices.Sorted(maps.Keys(incidents)) {
		inc := incidents[fp]
		if inc.Proposal != nil && inc.Proposal.State == string(v1alpha1.ProposalClosed) && inc.State != report.IncidentFight {
			rejected = append(rejected, inc.Findings...)
		}
	}
	if len(rejected) == 0 {
		return d
	}
	in.Findings, in.Modes = rejected, v1alpha1.ModeSpec{Default: v1alpha1.ModeRevert}
	r := decide(in)
	have := map[report.ObjectRef]bool{}
	for _, a := range d.Actions {
		have[a.Object] = true
	}
	for _, a := range r.Actions {
		if !have[a.Object] {
			d.Actions = append(d.Actions, a)
		}
	}
	d.Held = append(d.Held, r.Held...)
	return d
}

// proposalToStatus and proposalFromStatus carry an incident's proposal to and from the
// Source's status, so that a restart finds its pull request.
func proposalToStatus(p *report.Proposal) *v1alpha1.Proposal {
	if p == nil {
		return nil
	}
	return &v1alpha1.Proposal{State: v1alpha1.ProposalState(p.State), URL: p.URL, Number: p.Number, Branch: p.Branch,
		BaseCommit: p.BaseCommit, Change: p.Change, By: p.By, MergedRevision: p.MergedRevision, Thread: truncate(p.Thread, 2048), Message: truncate(p.Message, 2048)}
}

func proposalFromStatus(p *v1alpha1.Proposal) *report.Proposal {
	if p == nil {
		return nil
	}
	return &report.Proposal{State: string(p.State), URL: p.URL, Number: p.Number, Branch: p.Branch,
		BaseCommit: p.BaseCommit, Change: p.Change, By: p.By, MergedRevision: p.MergedRevision, Thread: p.Thread, Message: p.Message}
}
