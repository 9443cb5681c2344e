package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/images"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/reconciler"
)

// printingNotifier prints what the controller tells, as on-call would read it, and keeps it.
type printingNotifier struct {
	mu    sync.Mutex
	out   io.Writer
	start time.Time
	heard []string
}

func (p *printingNotifier) Notify(_ context.Context, n reconciler.Notification) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, inc := range n.Incidents {
		msg := string(inc.Type)
		if len(inc.Findings) > 0 {
			msg = inc.Findings[0].Message
		}
		line := fmt.Sprintf("[notifier +%.2fs] %s: %s: %s", time.Since(p.start).Seconds(), n.Event, inc.Object, msg)
		fmt.Fprintln(p.out, line)
		p.heard = append(p.heard, line)
	}
	if len(n.Incidents) == 0 {
		line := fmt.Sprintf("[notifier +%.2fs] %s: %s", time.Since(p.start).Seconds(), n.Event, n.Detail)
		fmt.Fprintln(p.out, line)
		p.heard = append(p.heard, line)
	}
	return nil
}

func (p *printingNotifier) said(event, text string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.heard {
		if strings.Contains(l, "] "+event+": ") && strings.Contains(l, text) {
			return true
		}
	}
	return false
}

// controllerStory runs the controller against the demo's namespace: a Source in revert mode
// for Modified, an out-of-band edit, and the notifier's messages as the controller reverts it.
func (d *demo) controllerStory(ctx context.Context, nginx string) error {
	d.section("Story: the controller sees the edit in a second and puts it right")
	cfg, _, err := (&kubeFlags{}).config()
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	if err := d.installCRD(ctx, admin); err != nil {
		return err
	}
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(io.Discard, nil)))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Cache:  cache.Options{DefaultNamespaces: map[string]cache.Config{d.namespace: {}}, DefaultTransform: reconciler.StripForDiff},
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		return err
	}
	notes := &printingNotifier{out: d.out, start: time.Now()}
	resolver, err := images.NewResolver(images.WithUserAgent("plumbline/" + version))
	if err != nil {
		return err
	}
	gitCache, err := os.MkdirTemp(d.dir, "git-cache-")
	if err != nil {
		return err
	}
	ctl, err := reconciler.NewController(mgr.GetClient(), cfg, reconciler.ControllerOptions{
		GitCacheDir: gitCache, Notifier: notes, APIReader: mgr.GetAPIReader(), Images: resolver,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	slackDone, err := d.slackStory(ctx, cfg, mgr, admin, ctl, notes)
	if err != nil {
		return err
	}
	if err := ctl.SetupWithManager(mgr, 2); err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(runCtx) }()
	defer func() {
		stop()
		<-done
	}()
	src := &v1alpha1.Source{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.namespace, Name: "shop"},
		Spec: v1alpha1.SourceSpec{Repo: "file://" + d.repo, Ref: "main", Path: "apps/prod",
			Mode: v1alpha1.ModeSpec{Default: v1alpha1.ModeAlert, Modified: v1alpha1.ModeRevert}},
	}
	d.say("A Source in namespace %s watches apps/prod; Modified is reverted, everything else alerted:", d.namespace)
	d.say("  mode: {default: alert, Modified: revert}")
	if err := admin.Create(ctx, src); err != nil {
		return fmt.Errorf("create Source: %w", err)
	}
	if err := waitFor(ctx, 30*time.Second, func() bool {
		var s v1alpha1.Source
		return admin.Get(ctx, client.ObjectKeyFromObject(src), &s) == nil && meta(s.Status.Conditions, v1alpha1.ConditionReady) == "True"
	}); err != nil {
		return fmt.Errorf("the Source never became Ready: %w", err)
	}
	d.say("The Source is Ready. Someone edits the Deployment by hand again:")
	notes.start = time.Now()
	if err := d.kubectl(ctx, "set", "image", "-n", d.namespace, "deployment/nginx-deployment", "nginx=nginx:latest"); err != nil {
		return err
	}
	err = waitFor(ctx, 10*time.Second, func() bool {
		var dep appsv1.Deployment
		err := admin.Get(ctx, client.ObjectKey{Namespace: d.namespace, Name: "nginx-deployment"}, &dep)
		return err == nil && dep.Spec.Template.Spec.Containers[0].Image == nginx && notes.said("resolved", "Image changed")
	})
	if err != nil {
		d.failures = append(d.failures, "the controller did not revert the edit within 10 s")
	} else {
		d.say("The image is %s again, %.1f s after the edit, and nobody ran a command.", nginx, time.Since(notes.start).Seconds())
	}
	if !notes.said("opened", "Image changed from '"+nginx+"' to 'nginx:latest'") {
		d.failures = append(d.failures, "the notifier did not hear of the image change")
	}
	if !notes.said("reverted", "Image changed") {
		d.failures = append(d.failures, "the notifier did not hear of the revert")
	}
	slackDone()
	return admin.Delete(ctx, src)
}

// installCRD installs the Source CRD from deploy/ when the cluster does not serve it yet.
func (d *demo) installCRD(ctx context.Context, c client.Client) error {
	var crd apiextensionsv1.CustomResourceDefinition
	err := c.Get(ctx, client.ObjectKey{Name: "sources.plumbline.dev"}, &crd)
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return err
	}
	if d.crdFile == "" {
		d.crdFile = findUp(filepath.Join("deploy", "crd", "plumbline.dev_sources.yaml"))
	}
	data, err := manifests.ReadLocalFile(ctx, d.crdFile)
	if err != nil {
		return fmt.Errorf("the Source CRD (--crd): %w", err)
	}
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		return fmt.Errorf("%s: %w", d.crdFile, err)
	}
	if err := c.Create(ctx, &crd); err != nil {
		return fmt.Errorf("install the Source CRD: %w", err)
	}
	d.installedCRD = true
	return waitFor(ctx, 30*time.Second, func() bool {
		var got apiextensionsv1.CustomResourceDefinition
		if c.Get(ctx, client.ObjectKey{Name: crd.Name}, &got) != nil {
			return false
		}
		for _, cond := range got.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true
			}
		}
		return false
	})
}

// findUp returns rel in the working folder or the nearest folder above it that has it; rel
// itself when none does (the error then names it).
func findUp(rel string) string {
	dir, err := os.Getwd()
	if err != nil {
		return rel
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
			return filepath.Join(dir, rel)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return rel
		}
		dir = parent
	}
}

func meta(conds []metav1.Condition, t string) string {
	for _, c := range conds {
		if c.Type == t {
			return string(c.Status)
		}
	}
	return ""
}

// waitFor polls cond every 50 ms until it holds, ctx ends or d passes.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
