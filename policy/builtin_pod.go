package policy

import "strings"

// Pod-level and resource rules: disallow-host-namespaces-and-paths,
// require-resource-limits.

func checkHostNamespaces(p *podView, _ *builtinParams, out []finding) []finding {
	if p.hostNetwork {
		out = append(out, finding{path: p.path + ".hostNetwork",
			message: "Sharing the host's network namespace is disallowed (hostNetwork: true)."})
	}
	if p.hostPID {
		out = append(out, finding{path: p.path + ".hostPID",
			message: "Sharing the host's process namespace is disallowed (hostPID: true)."})
	}
	if p.hostIPC {
		out = append(out, finding{path: p.path + ".hostIPC",
			message: "Sharing the host's IPC namespace is disallowed (hostIPC: true)."})
	}
	for i, v := range p.volumes {
		if v.hostPath {
			out = append(out, finding{path: itemPath(p.path+".volumes", v.name, i) + ".hostPath",
				message: "hostPath volumes are disallowed (volume '" + v.name + "')."})
		}
	}
	return out
}

func checkResources(p *podView, _ *builtinParams, out []finding) []finding {
	for i := range p.containers {
		c := &p.containers[i]
		if c.list == listEphemeral {
			continue
		}
		var missing []string
		if !hasKey(c.limits, "memory") {
			missing = append(missing, "limits.memory")
		}
		// The API server defaults a missing request to the limit.
		if !hasKey(c.requests, "memory") && !hasKey(c.limits, "memory") {
			missing = append(missing, "requests.memory")
		}
		if !hasKey(c.requests, "cpu") && !hasKey(c.limits, "cpu") {
			missing = append(missing, "requests.cpu")
		}
		if len(missing) > 0 {
			out = append(out, finding{container: c.name, path: c.path + ".resources",
				message: "Container must set resources: " + strings.Join(missing, ", ") + "."})
		}
	}
	return out
}

func hasKey(m map[string]any, k string) bool {
	v, ok := m[k]
	return ok && v != nil
}
