package activity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/plumbline/plumbline/report"
)

// falcoPayload is one Falco event as json_output writes it, which http_output posts and
// Falcosidekick's webhook output forwards unchanged: rule, priority, time, output, and the
// rule's fields in output_fields.
type falcoPayload struct {
	UUID         string         `json:"uuid"`
	Output       string         `json:"output"`
	Priority     string         `json:"priority"`
	Rule         string         `json:"rule"`
	Time         time.Time      `json:"time"`
	Source       string         `json:"source"`
	Hostname     string         `json:"hostname"`
	Tags         []string       `json:"tags"`
	OutputFields map[string]any `json:"output_fields"`
}

// ParseFalco reads one Falco event (an object) or several (a JSON array of them). An event needs
// a rule; one with no pod (k8s.pod.name) or container ID is kept, for the caller to count and
// drop. It refuses malformed JSON and more than maxEvents events (0: no limit).
func ParseFalco(body []byte, maxEvents int, received time.Time) ([]Event, error) {
	body = bytes.TrimSpace(body)
	var payloads []falcoPayload
	switch {
	case len(body) > 0 && body[0] == '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, fmt.Errorf("falco events: %w", err)
		}
		if maxEvents > 0 && len(raws) > maxEvents {
			return nil, fmt.Errorf("falco events: %d events, at most %d: %w", len(raws), maxEvents, ErrTooManyEvents)
		}
		payloads = make([]falcoPayload, len(raws))
		for i, r := range raws {
			if err := json.Unmarshal(r, &payloads[i]); err != nil {
				return nil, fmt.Errorf("falco events: [%d]: %w", i, err)
			}
		}
	default:
		var p falcoPayload
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, fmt.Errorf("falco event: %w", err)
		}
		payloads = []falcoPayload{p}
	}
	out := make([]Event, 0, len(payloads))
	for i, p := range payloads {
		if p.Rule == "" {
			return nil, fmt.Errorf("falco event [%d]: no rule: not a Falco event", i)
		}
		out = append(out, fromFalco(&p, received))
	}
	return out, nil
}

func fromFalco(p *falcoPayload, received time.Time) Event {
	f := func(names ...string) string {
		for _, n := range names {
			switch v := p.OutputFields[n].(type) {
			case string:
				if v != "" && v != "<NA>" {
					return v
				}
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
		return ""
	}
	at := p.Time
	if at.IsZero() {
		at = received
	}
	t := at.UTC()
	process := f("proc.exepath", "proc.exe", "proc.name")
	rt := &report.Runtime{
		Pod: f("k8s.pod.name"), Container: f("container.name", "k8s.container.name"),
		ContainerID: f("container.id"),
		Rule:        p.Rule, Priority: p.Priority, Process: process,
		CommandLine: f("proc.cmdline"), File: f("fd.name", "fs.path.name", "fs.path.target"),
		User: f("user.name"), Image: imageOf(f("container.image.repository"), f("container.image.tag")),
		Time: &t, Count: 1,
	}
	if rt.File != "" && strings.Contains(f("fd.type", "evt.type"), "ipv") {
		rt.File = "" // a connection, not a file
	}
	return Event{Kind: KindFalco, Received: received, Time: t, Namespace: f("k8s.ns.name"), Pod: rt.Pod, Runtime: rt, Output: p.Output}
}

func imageOf(repo, tag string) string {
	if repo == "" || tag == "" {
		return repo
	}
	return repo + ":" + tag
}
