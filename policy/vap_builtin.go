package policy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	admv1 "k8s.io/api/admissionregistration/v1"
)

// The built-in rules in CEL. Each check of a built-in (one message of its Go implementation)
// is one validation; its message lists every offending container or volume, each as
// "container 'NAME': MESSAGE", joined by "; ", then "[rule, severity]". The tests run each
// translation and its Go rule on the same objects and compare the messages.

// admissionBuiltins holds the translation of each built-in that has one. A built-in without
// an entry (for example one added with NeedsImageFacts) is listed as not rendered.
var admissionBuiltins = map[RuleID]func(params *builtinParams) []check{
	RuleDisallowLatestTag:      vapLatestTag,
	RuleRestrictRegistries:     vapRegistries,
	RuleRequireDigest:          vapDigest,
	RuleRunAsNonRoot:           vapRunAsNonRoot,
	RuleDisallowPrivileged:     vapPrivileged,
	RuleRequireResourceLimits:  vapResources,
	RuleRequireReadOnlyRootFS:  vapReadOnlyRootFS,
	RuleDisallowHostNamespaces: vapHostNamespaces,
}

// check is one validation of a built-in, before the rule and severity are added: a pod-level
// condition with a static message, or a per-item condition over a list variable.
type check struct {
	// exempt, when set, is a CEL condition followed by " || " under which the check passes.
	exempt string
	// podBad is the CEL condition of a pod-level violation; message is its message.
	podBad, message string
	// list is a CEL list, item the name of its element in bad and entry (the message of one
	// item, a CEL string).
	list, item, bad, entry string
}

// workloadResources maps each workload kind (see workloads) to its resource, for the rules of
// built-in policies.
var workloadResources = map[string]string{
	"Pod": "pods", "PodTemplate": "podtemplates", "ReplicationController": "replicationcontrollers",
	"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets",
	"ReplicaSet": "replicasets", "Job": "jobs", "CronJob": "cronjobs",
}

// builtinMatch selects the workload kinds in the groups the API server serves them from (of
// extensions, which once served some, nothing is left), and Pods' ephemeral containers, which
// a subresource adds.
func builtinMatch() admv1.MatchResources {
	byGroup := map[string][]string{}
	for _, kind := range WorkloadKinds() {
		for _, g := range workloads[kind].groups {
			if g == "extensions" {
				continue
			}
			byGroup[g] = append(byGroup[g], workloadResources[kind])
			if kind == "Pod" {
				byGroup[g] = append(byGroup[g], "pods/ephemeralcontainers")
			}
		}
	}
	var rules []admv1.NamedRuleWithOperations
	for _, g := range slices.Sorted(maps.Keys(byGroup)) {
		rules = append(rules, admv1.NamedRuleWithOperations{RuleWithOperations: admv1.RuleWithOperations{
			Operations: []admv1.OperationType{admv1.Create, admv1.Update},
			Rule:       admv1.Rule{APIGroups: []string{g}, APIVersions: []string{"*"}, Resources: byGroup[g]},
		}})
	}
	return admv1.MatchResources{ResourceRules: rules}
}

// podSpecExpression is the CEL of the podSpec variable: the pod spec of a workload in its own
// API group, null for everything else and for a workload that declares none.
func podSpecExpression() string {
	var b strings.Builder
	for _, kind := range WorkloadKinds() {
		w := workloads[kind]
		path := "object"
		for _, f := range w.fields {
			path += ".?" + f
		}
		fmt.Fprintf(&b, "request.kind.kind == %s && request.kind.group in %s ? %s.orValue(null) : ",
			celString(kind), celStringList(w.groups), path)
	}
	b.WriteString("null")
	return b.String()
}

// builtinVariables are the variables every built-in's policy declares; they are evaluated
// only when a validation reads them.
func builtinVariables() []admv1.Variable {
	containers := func(list containerList) string {
		return fmt.Sprintf("variables.podSpec == null ? [] : variables.podSpec.?%s.orValue([])", list)
	}
	// images: each container's image split as policy's parseImageRef does, in steps.
	img := func(fields map[string]string) string {
		keys := slices.Sorted(maps.Keys(fields))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s: dyn(%s)", celString(k), fields[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	keep := func(names ...string) map[string]string {
		m := map[string]string{}
		for _, n := range names {
			m[n] = "x." + n
		}
		return m
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	// The steps of parseImageRef, as CEL over the fields of the step before.
	hasTag := "(x.base.lastIndexOf(':') > x.base.lastIndexOf('/'))"
	first := "(x.path.indexOf('/') >= 0 ? x.path.substring(0, x.path.indexOf('/')) : '')"
	isReg := "(" + first + " == 'localhost' || " + first + ".contains('.') || " + first + ".contains(':'))"
	repo := "(" + isReg + " ? x.path.substring(x.path.indexOf('/') + 1) : x.path)"
	registry := "(!" + isReg + " || " + first + " == 'docker.io' ? 'index.docker.io' : " + first + ")"
	return []admv1.Variable{
		{Name: "podSpec", Expression: podSpecExpression()},
		{Name: "windows", Expression: "variables.podSpec != null && variables.podSpec.?os.?name.orValue('') == 'windows'"},
		{Name: "initContainers", Expression: containers(listInit)},
		{Name: "mainContainers", Expression: containers(listMain)},
		{Name: "ephemeralContainers", Expression: containers(listEphemeral)},
		{Name: "containers", Expression: "variables.initContainers + variables.mainContainers + variables.ephemeralContainers"},
		{Name: "img1", Expression: "variables.containers.map(c, " + img(map[string]string{
			"name": "c.?name.orValue('')", "image": "c.?image.orValue('')",
			"hasDigest": "c.?image.orValue('').contains('@')",
			"base":      "c.?image.orValue('').contains('@') ? c.image.substring(0, c.image.indexOf('@')) : c.?image.orValue('')",
			"digest":    "c.?image.orValue('').contains('@') ? c.image.substring(c.image.indexOf('@') + 1) : ''"}) + ")"},
		{Name: "img2", Expression: "variables.img1.map(x, " + img(with(keep("name", "image", "hasDigest", "digest"),
			"hasTag", hasTag,
			"path", "("+hasTag+" ? x.base.substring(0, x.base.lastIndexOf(':')) : x.base)",
			"tag", "("+hasTag+" ? x.base.substring(x.base.lastIndexOf(':') + 1) : '')")) + ")"},
		{Name: "images", Expression: "variables.img2.map(x, " + img(with(keep("name", "image", "hasDigest"),
			"valid", "x.image != '' && (!x.hasTag || x.tag.matches('^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$')) && "+
				repo+".matches('^[a-z0-9_./-]{1,255}$') && "+
				"(!"+isReg+" || (isURL('https://' + "+first+" + '/') && url('https://' + "+first+" + '/').getHost() == "+first+")) && "+
				"(!x.hasDigest || x.digest.matches('^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$'))",
			"tag", "x.hasTag ? x.tag : (x.hasDigest ? '' : 'latest')",
			"ref", "("+registry+").lowerAscii() + '/' + (!"+repo+".contains('/') && "+registry+" == 'index.docker.io' ? 'library/' + "+repo+" : "+repo+")")) + ")"},
	}
}

// Pieces of CEL the checks share. A value of the wrong type reads as unset, as in the Go
// rules (optBool, optInt).
func isTrue(opt string) string  { return "(" + opt + ".orValue(null) == true)" }
func isFalse(opt string) string { return "(" + opt + ".orValue(null) == false)" }
func unsetBool(opt string) string {
	return "(type(" + opt + ".orValue(null)) != bool)"
}
func isZero(opt string) string { return "(" + opt + ".orValue(null) == 0)" }

const (
	celPodSC       = "variables.podSpec.?securityContext"
	celContainerSC = "c.?securityContext"
	entryPrefix    = "\"container '\" + c.?name.orValue('') + \"': \" + "
)

func containerCheck(bad, message string) check {
	return check{list: "variables.containers", item: "c", bad: bad, entry: entryPrefix + celString(message)}
}

func imageCheck(bad, entry string) check {
	return check{list: "variables.images", item: "i", bad: bad, entry: "\"container '\" + i.name + \"': \" + " + entry}
}

func vapLatestTag(*builtinParams) []check {
	return []check{imageCheck("i.valid && i.tag == 'latest'", celString(msgLatestTag))}
}

func vapDigest(*builtinParams) []check {
	return []check{imageCheck("i.valid && !i.hasDigest", `"Image '" + i.image + "' is not pinned by digest."`)}
}

func vapRegistries(p *builtinParams) []check {
	if len(p.allowedRegistries) == 0 {
		return nil
	}
	prefixes := celStringList(p.allowedRegistries)
	return []check{
		imageCheck("!i.valid", `"Image '" + i.image + "' is not a valid image reference, so its registry cannot be checked."`),
		imageCheck("i.valid && !"+prefixes+".exists(p, i.ref == p || i.ref.startsWith(p + '/'))",
			`"Image '" + i.image + "' is not from an allowed registry."`),
	}
}

func vapRunAsNonRoot(*builtinParams) []check {
	exempt := isFalse("variables.podSpec.?hostUsers") + " || "
	cs := []check{
		{podBad: isFalse(celPodSC + ".?runAsNonRoot"), message: "Pod must not set securityContext.runAsNonRoot to false."},
		{podBad: isZero(celPodSC + ".?runAsUser"), message: "Pod must not set securityContext.runAsUser to 0 (root)."},
		containerCheck(isFalse(celContainerSC+".?runAsNonRoot"), "Container must not set securityContext.runAsNonRoot to false."),
		containerCheck(unsetBool(celContainerSC+".?runAsNonRoot")+" && "+unsetBool(celPodSC+".?runAsNonRoot"),
			"Container may run as root: set securityContext.runAsNonRoot to true on the pod or the container."),
		containerCheck(isZero(celContainerSC+".?runAsUser"), "Container must not set securityContext.runAsUser to 0 (root)."),
	}
	for i := range cs {
		cs[i].exempt = exempt
	}
	return cs
}

func vapPrivileged(*builtinParams) []check {
	return []check{
		containerCheck(isTrue(celContainerSC+".?privileged"), "Privileged containers are disallowed."),
		containerCheck("!variables.windows && !"+isFalse(celContainerSC+".?allowPrivilegeEscalation"),
			"Privilege escalation must be disallowed: set securityContext.allowPrivilegeEscalation to false."),
	}
}

func vapReadOnlyRootFS(*builtinParams) []check {
	return []check{containerCheck("!variables.windows && !"+isTrue(celContainerSC+".?readOnlyRootFilesystem"),
		"Root filesystem must be read-only: set securityContext.readOnlyRootFilesystem to true.")}
}

func vapResources(*builtinParams) []check {
	has := func(field, key string) string {
		return "(c.?resources.?" + field + ".?" + key + ".orValue(null) != null)"
	}
	missing := "(" + has("limits", "memory") + " ? [] : ['limits.memory']) + " +
		"(" + has("requests", "memory") + " || " + has("limits", "memory") + " ? [] : ['requests.memory']) + " +
		"(" + has("requests", "cpu") + " || " + has("limits", "cpu") + " ? [] : ['requests.cpu'])"
	return []check{{
		// The API forbids resources on ephemeral containers.
		list: "(variables.initContainers + variables.mainContainers)", item: "c",
		bad:   "(" + missing + ").size() > 0",
		entry: entryPrefix + "\"Container must set resources: \" + (" + missing + ").join(', ') + \".\"",
	}}
}

func vapHostNamespaces(*builtinParams) []check {
	return []check{
		{podBad: isTrue("variables.podSpec.?hostNetwork"), message: "Sharing the host's network namespace is disallowed (hostNetwork: true)."},
		{podBad: isTrue("variables.podSpec.?hostPID"), message: "Sharing the host's process namespace is disallowed (hostPID: true)."},
		{podBad: isTrue("variables.podSpec.?hostIPC"), message: "Sharing the host's IPC namespace is disallowed (hostIPC: true)."},
		{list: "variables.podSpec.?volumes.orValue([])", item: "v", bad: "v.?hostPath.orValue(null) != null",
			entry: `"hostPath volumes are disallowed (volume '" + v.?name.orValue('') + "')."`},
	}
}

// validation turns a check into a VAP validation whose message ends with suffix.
func (c check) validation(suffix string) admv1.Validation {
	guard := "variables.podSpec == null || " + c.exempt
	if c.podBad != "" {
		return admv1.Validation{Expression: guard + "!" + c.podBad, Message: c.message + suffix}
	}
	return admv1.Validation{
		Expression: fmt.Sprintf("%s!%s.exists(%s, %s)", guard, c.list, c.item, c.bad),
		Message:    "the object breaks this rule" + suffix,
		MessageExpression: fmt.Sprintf("%s.filter(%s, %s).map(%s, %s).join('; ') + %s",
			c.list, c.item, c.bad, c.item, c.entry, celString(suffix)),
	}
}

// celString quotes s as a CEL string literal.
func celString(s string) string { return strconv.Quote(s) }

func celStringList(list []string) string {
	parts := make([]string, len(list))
	for i, s := range list {
		parts[i] = celString(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
