package policy

// Image rules: disallow-latest-tag, restrict-registries, require-digest.
// They read the completed image facts of each container; containers whose
// image is empty or unparsable are left to restrict-registries, which
// cannot prove such an image allowed.

const msgLatestTag = "Use of 'latest' tag is disallowed."

func checkLatestTag(p *podView, _ *builtinParams, out []finding) []finding {
	for i := range p.containers {
		c := &p.containers[i]
		if c.factsOK && c.facts.Tag == "latest" {
			out = append(out, finding{container: c.name, path: c.path + ".image", message: msgLatestTag})
		}
	}
	return out
}

func checkRegistries(p *podView, params *builtinParams, out []finding) []finding {
	if len(params.allowedRegistries) == 0 {
		return out
	}
	for i := range p.containers {
		c := &p.containers[i]
		switch {
		case !c.factsOK:
			out = append(out, finding{container: c.name, path: c.path + ".image",
				message: "Image '" + c.image + "' is not a valid image reference, so its registry cannot be checked."})
		case !registryAllowed(c.facts.Registry, c.facts.Repository, params.allowedRegistries):
			out = append(out, finding{container: c.name, path: c.path + ".image",
				message: "Image '" + c.image + "' is not from an allowed registry."})
		}
	}
	return out
}

func checkDigest(p *podView, _ *builtinParams, out []finding) []finding {
	for i := range p.containers {
		c := &p.containers[i]
		if c.factsOK && c.facts.Digest == "" {
			out = append(out, finding{container: c.name, path: c.path + ".image",
				message: "Image '" + c.image + "' is not pinned by digest."})
		}
	}
	return out
}
