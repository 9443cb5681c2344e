// Package policy checks Kubernetes objects against rules: a built-in
// baseline and custom CEL rules from a policy file.
//
// Rules are pure functions of three inputs (Input): the object, the live
// object or nil, and image facts per container (ImageFacts). They run in two
// places: on what Git declares, before deploy (`plumbline check` in CI, no
// cluster), and on what runs, where the caller passes the live object as
// Input.Object to catch drift into a violation.
//
// The built-in rules (Builtins) cover every workload kind (Pod, Deployment,
// StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, ReplicationController,
// PodTemplate; see WorkloadKinds) and all three container lists; other
// objects get no pod rules. Their security semantics follow the Pod Security
// Standards checks of k8s.io/pod-security-admission, which the tests use as
// an oracle. Each has a stable id, a default severity, a description and a
// fix text (RuleInfo) for CLI output and documentation.
//
// Custom rules are CEL expressions in a PolicySet file shaped like a
// ValidatingAdmissionPolicy, compiled once by NewEngine in the Kubernetes
// 1.37 CEL environment (quantity, regex, lists, sets, optionals, URLs, IP,
// CIDR, format, semver, strings) with the variables object, oldObject (null
// without a live object), params (spec.params, {} when unset), podSpec (null
// for non-workloads) and images (one map per container: container, image,
// registry, repository, tag, digest, approved, resolved, running). Each
// evaluation of an expression may spend at most CostLimit (1,000,000, as in
// Kubernetes); NewEngine also rejects expressions whose estimated cost
// exceeds it on inputs of CostEstimateInputSize items.
//
// Typical use by the caller:
//
//	ps, err := policy.ParsePolicySet(data, "policy.yaml") // cmd/ reads the file
//	eng, err := policy.NewEngine(ps)                      // nil ps: the baseline
//	vs, err := eng.Evaluate(policy.Input{Object: obj, Images: facts})
//	for _, v := range vs {
//		if v.Severity.AtLeast(failOn) { … }
//	}
//
// Facts may be omitted: Evaluate derives registry, repository, tag and
// digest from each container's image. A caller that knows more (the digest
// approved in Git, the one the registry resolves now, the ones pods run)
// starts from NewImageFacts(container, image) and sets Approved, Resolved
// and Running.
//
// What it never does: read files, the network, the cluster or a registry;
// log; mutate its inputs; import other Plumbline packages. It returns plain
// data (Violation) and errors; the reconciler turns violations into report
// findings and decides what fails a run.
package policy
