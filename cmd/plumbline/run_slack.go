package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/plumbline/plumbline/notify"
	"github.com/plumbline/plumbline/reconciler"
)

// slackFlags are run's Slack settings. No flag takes a credential: the token or webhook URL is
// in a Secret, the signing secret in a file.
type slackFlags struct {
	channel           string
	secret            string
	apiURL            string
	interactionsAddr  string
	signingSecretFile string
	allowedUsers      []string
}

func (f *slackFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.channel, "slack-channel", "", "Slack channel ID for Sources whose spec.notify.slack names none")
	fs.StringVar(&f.secret, "slack-secret", "", "Secret NS/NAME with key token (bot token) or webhookURL, for Sources whose spec.notify.slack names none")
	fs.StringVar(&f.apiURL, "slack-api-url", "https://slack.com/api/", "base URL of Slack's Web API (a proxy, or a test server)")
	fs.StringVar(&f.interactionsAddr, "slack-interactions-addr", "", "address to serve Slack's interactivity requests (the buttons) on, e.g. :8443; empty: no buttons act")
	fs.StringVar(&f.signingSecretFile, "slack-signing-secret-file", "", "file with the Slack app's signing secret; required with --slack-interactions-addr")
	fs.StringSliceVar(&f.allowedUsers, "slack-allowed-users", nil, "Slack user IDs (U…) and user group IDs (S…) whose button presses count")
}

// wire adds the Slack notifier (and the interactivity endpoint) to the manager and the
// controller. Sources without Slack, and no defaults, cost nothing.
func (f *slackFlags) wire(mgr ctrl.Manager, ctl *reconciler.Controller, cfg *rest.Config, namespace string, log *slog.Logger) error {
	var secret types.NamespacedName
	if f.secret != "" {
		ns, name, ok := strings.Cut(f.secret, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return fmt.Errorf("--slack-secret %q: want NAMESPACE/NAME", f.secret)
		}
		secret = types.NamespacedName{Namespace: ns, Name: name}
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	sn, err := reconciler.NewSlackNotifier(mgr.GetClient(), mgr.GetAPIReader(), reconciler.NewSlackStore(dyn, namespace), reconciler.SlackOptions{
		DefaultChannel: f.channel, DefaultSecret: secret, Log: log,
		Notify: notify.Options{APIURL: f.apiURL},
	})
	if err != nil {
		return err
	}
	if err := mgr.Add(sn); err != nil {
		return err
	}
	ctl.UseSlack(sn)
	if f.interactionsAddr == "" {
		return nil
	}
	if f.signingSecretFile == "" {
		return errors.New("--slack-interactions-addr needs --slack-signing-secret-file")
	}
	b, err := os.ReadFile(f.signingSecretFile)
	if err != nil {
		return fmt.Errorf("--slack-signing-secret-file: %w", err)
	}
	signing := strings.TrimSpace(string(b))
	if signing == "" {
		return fmt.Errorf("--slack-signing-secret-file %s: empty", f.signingSecretFile)
	}
	h, err := ctl.SlackInteractions(signing, f.allowedUsers)
	if err != nil {
		return err
	}
	return mgr.Add(leaderServer{flag: "slack-interactions-addr", addr: f.interactionsAddr, handler: h})
}

// leaderServer serves one HTTP endpoint on the leader: what it acts through (the controller's
// state and its watches) lives there.
type leaderServer struct {
	// flag names the address's flag in errors.
	flag, addr string
	handler    http.Handler
}

func (s leaderServer) NeedLeaderElection() bool { return true }

func (s leaderServer) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("--%s %s: %w", s.flag, s.addr, err)
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
