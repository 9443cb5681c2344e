package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/plumbline/plumbline/notify"
	"github.com/plumbline/plumbline/reconciler"
	"github.com/plumbline/plumbline/test/slackserver"
)

// demoSlack is the Slack side of the controller story: a slacktest server that records what
// the controller posts, and prints it as on-call would read it.
type demoSlack struct {
	d   *demo
	srv *slackserver.Server
	mu  sync.Mutex
	n   int
}

// slackStory wires a Slack notifier into the controller story's controller, beside its
// printing notifier: a bot token in a Secret of the demo's namespace, the default channel
// C0DEMO, and the threads and outbox in a ConfigMap of plumbline-system. Call done when the story ends: it
// waits for the last messages and stops the server.
func (d *demo) slackStory(ctx context.Context, cfg *rest.Config, mgr ctrl.Manager, admin client.Client, ctl *reconciler.Controller, also reconciler.Notifier) (done func(), err error) {
	s := &demoSlack{d: d, srv: slackserver.New()}
	d.say("Slack: a slacktest server at %s stands in for Slack; what it receives is printed as [slack] lines.", s.srv.APIURL())
	s.srv.OnRecord(s.print)
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: d.namespace, Name: "plumbline-slack"},
		Data: map[string][]byte{"token": []byte("xoxb-demo-token")}}
	if err := admin.Create(ctx, sec); err != nil {
		s.srv.Stop()
		return nil, fmt.Errorf("create the Slack Secret: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		s.srv.Stop()
		return nil, err
	}
	sn, err := reconciler.NewSlackNotifier(mgr.GetClient(), mgr.GetAPIReader(), reconciler.NewSlackStore(dyn, "") /* plumbline-system, beside the inventories */, reconciler.SlackOptions{
		DefaultChannel: "C0DEMO", DefaultSecret: client.ObjectKeyFromObject(sec), Also: also,
		Notify: notify.Options{APIURL: s.srv.APIURL(), MinBackoff: 200 * time.Millisecond},
	})
	if err == nil {
		err = mgr.Add(sn)
	}
	if err != nil {
		s.srv.Stop()
		return nil, err
	}
	ctl.UseSlack(sn)
	return func() {
		// The root, the replies (coalesced at 1 message/s) and the edit of the resolved root.
		if err := waitFor(ctx, 10*time.Second, func() bool {
			for _, m := range s.srv.Messages() {
				if m.Method == "chat.update" {
					return true
				}
			}
			return false
		}); err != nil {
			d.failures = append(d.failures, "Slack: the resolved root was not edited within 10 s")
		}
		s.srv.Stop()
		if len(s.srv.Messages()) == 0 {
			d.failures = append(d.failures, "Slack received no message")
		}
	}, nil
}

// print writes one received message as text.
func (s *demoSlack) print(m slackserver.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	where := "#" + m.Channel
	switch {
	case m.Method == "chat.update":
		where += " (edit of message " + m.TS + ")"
	case m.ThreadTS != "":
		where += " (thread " + m.ThreadTS + ")"
	}
	fmt.Fprintf(s.d.out, "[slack] %s %s:\n", m.Method, where)
	for _, l := range strings.Split(m.Text, "\n") {
		fmt.Fprintf(s.d.out, "[slack]   %s\n", l)
	}
}
