package reconciler

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/policy"
	"github.com/plumbline/plumbline/report"
)

// ImageOptions turn on image checks: approved digests from Git, the digests registries serve,
// and the digests pods run.
type ImageOptions struct {
	// Resolver resolves tags to digests. Nil checks approvals only (no registry request): an
	// image without an approved digest is still ImageUnpinned, but a rebuilt tag goes unseen.
	Resolver *images.Resolver
	// Keychain gives registry credentials; nil is anonymous.
	Keychain authn.Keychain
	// Lock holds the approved digests of the source's lock file; the zero Lock approves nothing.
	Lock images.Lock
	// PullSecrets, when set, returns the keychain of a workload, as the kubelet would pull its
	// images: its imagePullSecrets, then its ServiceAccount's. It is tried before Keychain.
	PullSecrets func(ctx context.Context, namespace string, spec *corev1.PodSpec) (authn.Keychain, error)
	// Inspector, when set with a Resolver, looks inside images (packages, config,
	// vulnerabilities) for the rebuilt-tag findings and the policy's contents rules.
	Inspector *images.Inspector
}

// imageUse is one container image of one desired workload.
type imageUse struct {
	t         *target
	w         workload
	container string
	raw       string
	ref       images.Reference
	// creds names the credentials the image is pulled with: "" for the caller's keychain, else
	// the workload's namespace, ServiceAccount and pull secrets.
	creds string
	kc    authn.Keychain
}

// runningFunc returns the images that the pods of a live workload run.
type runningFunc func(*target, workload) []images.RunningImage

// useKey names one container of one object, for the policy's image facts.
type useKey struct {
	obj       objectKey
	container string
}

// imageChecks is the outcome of checking every image of a run.
type imageChecks struct {
	findings []report.Finding
	errors   []report.Error
	facts    map[useKey]policy.ImageFacts
	// liveFacts are the facts of what the registry serves where a tag was rebuilt (its
	// contents differ from the approved digest's); nil when no image was looked inside.
	liveFacts map[useKey]policy.ImageFacts
	warnings  []string
}

// checkImages checks the images of every desired workload through images.CheckAll, and turns
// its results into findings, errors and the policy's image facts. running returns the images
// that the pods of a workload run (nil without a cluster). An error is returned only for a
// state that cannot be checked at all: Git approving two digests for one tag.
func checkImages(ctx context.Context, targets []*target, running runningFunc, opts ImageOptions) (*imageChecks, error) {
	out := &imageChecks{facts: map[useKey]policy.ImageFacts{}}
	uses := out.collect(targets)
	if err := out.keychains(ctx, uses, opts); err != nil {
		return nil, err
	}
	batch := make([]images.Use, len(uses))
	for i, u := range uses {
		batch[i] = images.Use{Ref: u.ref, Container: u.container, Creds: u.creds, Keychain: u.kc}
		if running != nil && u.t.live != nil && u.w.podsKnown() {
			batch[i].Running = running(u.t, u.w)
		}
	}
	results, err := images.CheckAll(ctx, batch, images.CheckOptions{Resolver: opts.Resolver, Lock: opts.Lock})
	if err != nil {
		return nil, err
	}
	reported := map[string]bool{} // images whose registry error is already in the report
	for i, u := range uses {
		r := results[i]
		if r.Err != nil && !errors.Is(r.Err, images.ErrOffline) && !reported[u.ref.String()] {
			reported[u.ref.String()] = true
			out.errors = append(out.errors, report.Error{Image: u.raw, Message: r.Err.Error()})
		}
		for _, res := range r.Results {
			out.findings = append(out.findings, imageFinding(u, res))
		}
		out.facts[useKey{keyOf(u.t.desired.Object), u.container}] = facts(u, r.Input)
	}
	out.inspect(ctx, uses, results, opts)
	return out, nil
}

// collect lists the container images of the desired workloads; what cannot be read becomes an
// error of its object.
func (c *imageChecks) collect(targets []*target) []imageUse {
	var uses []imageUse
	for _, t := range targets {
		w, ok, err := workloadOf(t.desired.Object)
		if err != nil {
			c.fail(t.desired.Object, "", err)
			continue
		}
		if !ok {
			continue
		}
		for _, ct := range containers(w.spec) {
			ref, err := images.ParseReference(ct.image)
			if err != nil {
				c.fail(t.desired.Object, ct.image, fmt.Errorf("container %s: %w", ct.name, err))
				continue
			}
			uses = append(uses, imageUse{t: t, w: w, container: ct.name, raw: ct.image, ref: ref})
		}
	}
	return uses
}

func (c *imageChecks) fail(obj *unstructured.Unstructured, image string, err error) {
	c.errors = append(c.errors, objectError(obj, image, err))
}

// keychains gives each use the credentials it is pulled with. A workload whose pull secrets
// cannot be read gets an error and keeps the caller's keychain.
func (c *imageChecks) keychains(ctx context.Context, uses []imageUse, opts ImageOptions) error {
	byWorkload := map[string]authn.Keychain{}
	for i := range uses {
		u := &uses[i]
		u.kc = opts.Keychain
		if opts.PullSecrets == nil {
			continue
		}
		ns := u.t.desired.Object.GetNamespace()
		u.creds = credentialsName(ns, u.w.spec)
		kc, ok := byWorkload[u.creds]
		if !ok {
			var err error
			if kc, err = opts.PullSecrets(ctx, ns, u.w.spec); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				c.fail(u.t.desired.Object, u.raw, err)
			}
			byWorkload[u.creds] = kc
		}
		if kc != nil && opts.Keychain != nil {
			u.kc = authn.NewMultiKeychain(kc, opts.Keychain)
		} else if kc != nil {
			u.kc = kc
		}
	}
	return nil
}

// credentialsName names the pull credentials of a pod spec in a namespace.
func credentialsName(namespace string, spec *corev1.PodSpec) string {
	name := namespace + "/" + spec.ServiceAccountName
	for _, s := range spec.ImagePullSecrets {
		name += "," + s.Name
	}
	return name
}

var imageFindingTypes = map[images.Kind]report.FindingType{
	images.TagMutated:      report.ImageTagMutated,
	images.Unpinned:        report.ImageUnpinned,
	images.RunningMismatch: report.RunningImageMismatch,
}

func imageFinding(u imageUse, r images.Result) report.Finding {
	img := &report.Image{Ref: r.Ref, Approved: r.Approved, Resolved: r.Resolved}
	for _, run := range r.Running {
		img.Running = append(img.Running, report.RunningDigest{Digest: run.Digest, Pods: run.Pods})
	}
	if r.LayersKnown {
		n := r.LayersChanged
		img.LayersChanged = &n
	}
	return report.Finding{
		Type:      imageFindingTypes[r.Kind],
		Object:    refOf(u.t.desired.Object),
		Message:   r.Message,
		Source:    u.t.desired.Source,
		Container: r.Container,
		Image:     img,
	}
}

// facts are what the policy may know of one container's image.
func facts(u imageUse, in images.Input) policy.ImageFacts {
	f := policy.ImageFacts{
		Container: u.container, Image: u.raw,
		Registry: u.ref.Registry, Repository: u.ref.Repository, Tag: u.ref.Tag, Digest: u.ref.Digest,
	}
	if in.Approval != nil {
		f.Approved = in.Approval.Digest
	}
	if in.Resolution != nil && !in.Resolution.Pinned {
		f.Resolved = in.Resolution.Digest
	}
	for _, r := range in.Running {
		if r.Container != u.container {
			continue
		}
		if d, ok := images.ImageIDDigest(r.ImageID); ok {
			f.Running = append(f.Running, d)
		}
	}
	return f
}
