package policy

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// workload says where a kind keeps its pod spec.
type workload struct {
	groups []string // API groups the kind is served from ("" is core)
	fields []string // path from the object root to the pod spec
}

// workloads lists the kinds that carry a pod spec. Kinds from other groups
// with the same name (a custom resource called Deployment) are not
// workloads.
var workloads = map[string]workload{
	"Pod":                   {groups: []string{""}, fields: []string{"spec"}},
	"PodTemplate":           {groups: []string{""}, fields: []string{"template", "spec"}},
	"ReplicationController": {groups: []string{""}, fields: []string{"spec", "template", "spec"}},
	"Deployment":            {groups: []string{"apps", "extensions"}, fields: []string{"spec", "template", "spec"}},
	"StatefulSet":           {groups: []string{"apps"}, fields: []string{"spec", "template", "spec"}},
	"DaemonSet":             {groups: []string{"apps", "extensions"}, fields: []string{"spec", "template", "spec"}},
	"ReplicaSet":            {groups: []string{"apps", "extensions"}, fields: []string{"spec", "template", "spec"}},
	"Job":                   {groups: []string{"batch"}, fields: []string{"spec", "template", "spec"}},
	"CronJob":               {groups: []string{"batch"}, fields: []string{"spec", "jobTemplate", "spec", "template", "spec"}},
}

// WorkloadKinds lists, sorted, the kinds whose pod spec the built-in rules
// check and the CEL variable podSpec exposes. Each counts only in its own
// API groups (Deployment in apps or extensions, Job in batch, Pod in core…).
func WorkloadKinds() []string {
	return slices.Sorted(maps.Keys(workloads))
}

// podSpecOf returns the pod spec of obj and its field path (".spec.template.spec"),
// or ok=false when obj is not a workload or declares no pod spec.
func podSpecOf(obj *unstructured.Unstructured) (spec map[string]any, path string, ok bool) {
	w, found := workloads[obj.GetKind()]
	if !found {
		return nil, "", false
	}
	gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
	if err != nil || !contains(w.groups, gv.Group) {
		return nil, "", false
	}
	cur := obj.Object
	for _, f := range w.fields {
		next, isMap := cur[f].(map[string]any)
		if !isMap {
			return nil, "", false
		}
		cur = next
	}
	return cur, "." + strings.Join(w.fields, "."), true
}

// containerList names one of the three container lists of a pod spec.
type containerList string

const (
	listInit      containerList = "initContainers"
	listMain      containerList = "containers"
	listEphemeral containerList = "ephemeralContainers"
)

// containerLists is the order in which containers are visited and reported.
var containerLists = []containerList{listInit, listMain, listEphemeral}

// podView is the part of a pod spec the built-in rules read, taken from the
// unstructured object once per evaluation.
type podView struct {
	path        string // ".spec.template.spec"
	hostNetwork bool
	hostPID     bool
	hostIPC     bool
	windows     bool  // spec.os.name is "windows"
	hostUsers   *bool // spec.hostUsers; false means a user namespace
	volumes     []volumeView
	sc          securityView // pod-level securityContext
	containers  []containerView
	now         time.Time // Input.Now, for expiry dates
}

type volumeView struct {
	name     string
	hostPath bool
}

// securityView holds the securityContext fields the rules read; nil means
// unset. A field of the wrong type counts as unset.
type securityView struct {
	runAsNonRoot             *bool
	runAsUser                *int64
	privileged               *bool
	allowPrivilegeEscalation *bool
	readOnlyRootFilesystem   *bool
}

type containerView struct {
	list     containerList
	name     string
	image    string
	path     string // `.spec.containers[name="app"]`
	sc       securityView
	limits   map[string]any
	requests map[string]any
	// facts are the container's image facts, completed from image; factsOK
	// is false when they name no registry and repository (an unparsable or
	// empty image).
	facts   ImageFacts
	factsOK bool
}

func newPodView(spec map[string]any, path string) *podView {
	p := &podView{
		path:        path,
		hostNetwork: boolField(spec, "hostNetwork"),
		hostPID:     boolField(spec, "hostPID"),
		hostIPC:     boolField(spec, "hostIPC"),
		hostUsers:   optBool(spec["hostUsers"]),
		sc:          newSecurityView(mapField(spec, "securityContext")),
	}
	if os := mapField(spec, "os"); os != nil {
		p.windows = os["name"] == "windows"
	}
	for _, v := range sliceField(spec, "volumes") {
		vol, _ := v.(map[string]any)
		name, _ := vol["name"].(string)
		p.volumes = append(p.volumes, volumeView{name: name, hostPath: vol["hostPath"] != nil})
	}
	for _, list := range containerLists {
		for i, c := range sliceField(spec, string(list)) {
			cm, _ := c.(map[string]any)
			name, _ := cm["name"].(string)
			image, _ := cm["image"].(string)
			res := mapField(cm, "resources")
			p.containers = append(p.containers, containerView{
				list:     list,
				name:     name,
				image:    image,
				path:     itemPath(path+"."+string(list), name, i),
				sc:       newSecurityView(mapField(cm, "securityContext")),
				limits:   mapField(res, "limits"),
				requests: mapField(res, "requests"),
			})
		}
	}
	return p
}

func newSecurityView(sc map[string]any) securityView {
	return securityView{
		runAsNonRoot:             optBool(sc["runAsNonRoot"]),
		runAsUser:                optInt(sc["runAsUser"]),
		privileged:               optBool(sc["privileged"]),
		allowPrivilegeEscalation: optBool(sc["allowPrivilegeEscalation"]),
		readOnlyRootFilesystem:   optBool(sc["readOnlyRootFilesystem"]),
	}
}

// itemPath names a list item the way structured-merge-diff prints it:
// by its name key when it has one, else by index.
func itemPath(list, name string, index int) string {
	if name == "" {
		return list + "[" + strconv.Itoa(index) + "]"
	}
	return list + `[name="` + name + `"]`
}

// attachFacts gives each container its image facts: the caller's, matched
// by container name, with blanks filled from the image string.
func (p *podView) attachFacts(given []ImageFacts, refs *refCache) {
	for i := range p.containers {
		c := &p.containers[i]
		var f ImageFacts
		for _, g := range given {
			if g.Container == c.name {
				f = g
				break
			}
		}
		c.facts, c.factsOK = completeFacts(f, c.name, c.image, refs.parse)
	}
}
