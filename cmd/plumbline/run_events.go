package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/plumbline/plumbline/activity"
	"github.com/plumbline/plumbline/reconciler"
)

// eventsFlags configure the endpoints for audit and Falco events.
type eventsFlags struct {
	bindAddress string
	certFile    string
	keyFile     string
	tokenFile   string
	clientCA    string
}

// addEventsFlags adds the flags of the audit and Falco endpoints to `run`.
func addEventsFlags(fs *pflag.FlagSet, f *eventsFlags) {
	fs.StringVar(&f.bindAddress, "events-bind-address", "", "address of the HTTPS endpoints POST /audit (the API server's audit webhook) and POST /falco (Falco's http_output, Falcosidekick's webhook); empty turns them off")
	fs.StringVar(&f.certFile, "events-tls-cert-file", "", "TLS certificate (PEM) of the events endpoints; required with --events-bind-address")
	fs.StringVar(&f.keyFile, "events-tls-key-file", "", "TLS private key (PEM) of the events endpoints")
	fs.StringVar(&f.tokenFile, "events-token-file", "", "file holding the bearer token senders present (a mounted Secret)")
	fs.StringVar(&f.clientCA, "events-client-ca", "", "CA bundle (PEM) whose client certificates the events endpoints accept, as well as or instead of the token")
}

// wire starts the events endpoints with the manager (on the leader) and returns the controller's
// activity options, or nil when --events-bind-address is empty.
func (f *eventsFlags) wire(mgr ctrl.Manager, log *slog.Logger) (*reconciler.ActivityOptions, error) {
	if f.bindAddress == "" {
		if f.certFile != "" || f.keyFile != "" || f.tokenFile != "" || f.clientCA != "" {
			return nil, errors.New("--events-tls-cert-file, --events-tls-key-file, --events-token-file and --events-client-ca need --events-bind-address")
		}
		return nil, nil
	}
	if f.certFile == "" || f.keyFile == "" {
		return nil, errors.New("--events-bind-address needs --events-tls-cert-file and --events-tls-key-file: the API server sends its token only over HTTPS")
	}
	if f.tokenFile == "" && f.clientCA == "" {
		return nil, errors.New("--events-bind-address needs --events-token-file or --events-client-ca: the endpoints never accept anonymous senders")
	}
	cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return nil, fmt.Errorf("--events-tls-cert-file %s, --events-tls-key-file %s: %w", f.certFile, f.keyFile, err)
	}
	var opts activity.Options
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--events-token-file: %w", err)
		}
		if opts.Token = []byte(strings.TrimSpace(string(b))); len(opts.Token) == 0 {
			return nil, fmt.Errorf("--events-token-file %s: the file is empty", f.tokenFile)
		}
	}
	if f.clientCA != "" {
		b, err := os.ReadFile(f.clientCA)
		if err != nil {
			return nil, fmt.Errorf("--events-client-ca: %w", err)
		}
		opts.ClientCAs = x509.NewCertPool()
		if !opts.ClientCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--events-client-ca %s: no PEM certificate in it", f.clientCA)
		}
	}
	recv, err := activity.NewReceiver(opts)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: recv.Handler(), TLSConfig: recv.TLSConfig(cert), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	err = mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		ln, err := net.Listen("tcp", f.bindAddress)
		if err != nil {
			return fmt.Errorf("--events-bind-address %s: %w", f.bindAddress, err)
		}
		log.Info("events endpoints", "address", ln.Addr().String(), "paths", "/audit /falco")
		go func() {
			<-ctx.Done()
			shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shut) // the process is stopping; a slow sender is cut off
		}()
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}))
	if err != nil {
		return nil, err
	}
	return &reconciler.ActivityOptions{Stream: recv}, nil
}
