package policy

// Security-context rules: run-as-non-root, disallow-privileged,
// require-read-only-root-fs. Their semantics follow the Pod Security
// Standards "restricted" checks of k8s.io/pod-security-admission (policy
// version 1.35+), which the tests use as an oracle.

func checkRunAsNonRoot(p *podView, _ *builtinParams, out []finding) []finding {
	// In a user namespace (hostUsers: false) UID 0 in the container is an
	// unprivileged UID on the host.
	if p.hostUsers != nil && !*p.hostUsers {
		return out
	}
	if p.sc.runAsNonRoot != nil && !*p.sc.runAsNonRoot {
		out = append(out, finding{path: p.path + ".securityContext.runAsNonRoot",
			message: "Pod must not set securityContext.runAsNonRoot to false."})
	}
	if p.sc.runAsUser != nil && *p.sc.runAsUser == 0 {
		out = append(out, finding{path: p.path + ".securityContext.runAsUser",
			message: "Pod must not set securityContext.runAsUser to 0 (root)."})
	}
	for i := range p.containers {
		c := &p.containers[i]
		switch {
		case c.sc.runAsNonRoot != nil && !*c.sc.runAsNonRoot:
			out = append(out, finding{container: c.name, path: c.path + ".securityContext.runAsNonRoot",
				message: "Container must not set securityContext.runAsNonRoot to false."})
		case c.sc.runAsNonRoot == nil && p.sc.runAsNonRoot == nil:
			// Unset on both levels. (A pod-level false is reported once,
			// above, not again for each container that inherits it.)
			out = append(out, finding{container: c.name, path: c.path + ".securityContext.runAsNonRoot",
				message: "Container may run as root: set securityContext.runAsNonRoot to true on the pod or the container."})
		}
		if c.sc.runAsUser != nil && *c.sc.runAsUser == 0 {
			out = append(out, finding{container: c.name, path: c.path + ".securityContext.runAsUser",
				message: "Container must not set securityContext.runAsUser to 0 (root)."})
		}
	}
	return out
}

func checkPrivileged(p *podView, _ *builtinParams, out []finding) []finding {
	for i := range p.containers {
		c := &p.containers[i]
		if c.sc.privileged != nil && *c.sc.privileged {
			out = append(out, finding{container: c.name, path: c.path + ".securityContext.privileged",
				message: "Privileged containers are disallowed."})
		}
		// Windows has no privilege escalation and the API forbids the field
		// for Windows pods.
		if !p.windows && (c.sc.allowPrivilegeEscalation == nil || *c.sc.allowPrivilegeEscalation) {
			out = append(out, finding{container: c.name, path: c.path + ".securityContext.allowPrivilegeEscalation",
				message: "Privilege escalation must be disallowed: set securityContext.allowPrivilegeEscalation to false."})
		}
	}
	return out
}

func checkReadOnlyRootFS(p *podView, _ *builtinParams, out []finding) []finding {
	// The API forbids readOnlyRootFilesystem for Windows pods.
	if p.windows {
		return out
	}
	for i := range p.containers {
		c := &p.containers[i]
		if c.sc.readOnlyRootFilesystem == nil || !*c.sc.readOnlyRootFilesystem {
			out = append(out, finding{container: c.name, path: c.path + ".securityContext.readOnlyRootFilesystem",
				message: "Root filesystem must be read-only: set securityContext.readOnlyRootFilesystem to true."})
		}
	}
	return out
}
