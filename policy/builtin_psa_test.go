package policy

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	psa "k8s.io/pod-security-admission/policy"
)

// TestBuiltinsAgreeWithPodSecurity uses k8s.io/pod-security-admission's own
// checks as an oracle: over every combination of the securityContext and
// host fields the security rules read, in every container list, a rule
// reports a violation exactly when the matching Pod Security checks (their
// newest version) forbid the pod.
func TestBuiltinsAgreeWithPodSecurity(t *testing.T) {
	engine, err := NewEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]psa.CheckPodFn{}
	for _, c := range psa.DefaultChecks() {
		checks[string(c.ID)] = c.Versions[len(c.Versions)-1].CheckPod
	}
	oracle := map[RuleID][]string{
		RuleRunAsNonRoot:           {"runAsNonRoot", "runAsUser"},
		RuleDisallowPrivileged:     {"privileged", "allowPrivilegeEscalation"},
		RuleDisallowHostNamespaces: {"hostNamespaces", "hostPathVolumes"},
	}
	for _, ids := range oracle {
		for _, id := range ids {
			if checks[id] == nil {
				t.Fatalf("pod-security-admission has no check %q", id)
			}
		}
	}

	var combos, disagreements int
	forEachPSASpec(func(spec map[string]any) {
		combos++
		disagreements += compareWithPSA(t, engine, checks, oracle, spec)
		if disagreements > 10 {
			t.Fatal("too many disagreements")
		}
	})
	t.Logf("compared %d pod specs", combos)
}

func set(m map[string]any, key string, v any) {
	if v == nil {
		delete(m, key)
		return
	}
	m[key] = v
}

func compareWithPSA(t *testing.T, engine *Engine, checks map[string]psa.CheckPodFn, oracle map[RuleID][]string, spec map[string]any) int {
	t.Helper()
	obj := wrapPodSpec(matrixKinds[0], spec)
	var typed corev1.PodSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(spec, &typed); err != nil {
		t.Fatalf("converting pod spec: %v", err)
	}
	got, err := engine.Evaluate(context.Background(), Input{Object: obj})
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	violated := map[RuleID]bool{}
	for _, v := range got {
		violated[v.Rule] = true
	}
	bad := 0
	for rule, ids := range oracle {
		forbidden := false
		var reasons []string
		for _, id := range ids {
			if r := checks[id](&metav1.ObjectMeta{}, &typed); !r.Allowed {
				forbidden = true
				reasons = append(reasons, r.ForbiddenDetail)
			}
		}
		if forbidden != violated[rule] {
			bad++
			t.Errorf("%s: violated=%v, Pod Security forbids=%v %q\npod spec: %s", rule, violated[rule], forbidden, reasons, fmt.Sprint(spec))
		}
	}
	return bad
}

// forEachPSASpec calls fn with every combination of the securityContext and host fields the
// security rules read, in every container list: the 43,740 specs of the Pod Security oracle.
func forEachPSASpec(fn func(spec map[string]any)) {
	tri := []any{nil, true, false}
	users := []any{nil, int64(0), int64(1000)}
	for _, list := range containerLists {
		for _, podNonRoot := range tri {
			for _, podUser := range users {
				for _, hostUsers := range []any{nil, false} {
					for _, windows := range []bool{false, true} {
						for _, nonRoot := range tri {
							for _, user := range users {
								for _, priv := range tri {
									for _, escalation := range tri {
										for _, host := range []string{"", "hostNetwork", "hostPID", "hostIPC", "hostPath"} {
											spec := podSpecWith(list)
											set(spec["securityContext"].(map[string]any), "runAsNonRoot", podNonRoot)
											set(spec["securityContext"].(map[string]any), "runAsUser", podUser)
											set(spec, "hostUsers", hostUsers)
											if windows {
												spec["os"] = map[string]any{"name": "windows"}
											}
											sc := securityContext(targetOf(spec, list))
											set(sc, "runAsNonRoot", nonRoot)
											set(sc, "runAsUser", user)
											set(sc, "privileged", priv)
											set(sc, "allowPrivilegeEscalation", escalation)
											switch host {
											case "hostPath":
												spec["volumes"] = []any{map[string]any{"name": "h", "hostPath": map[string]any{"path": "/"}}}
											case "":
											default:
												spec[host] = true
											}
											fn(spec)
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
}
