package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// admissionStory: the kubectl set image that drifted in the first story is refused by the API
// server itself once the managed-object guard is applied. The guard is removed at the end, so
// that the stories after it see the cluster as before.
func (d *demo) admissionStory(ctx context.Context, diff []string) error {
	d.section("Story: prevention: the API server refuses the out-of-band edit")
	whoami, err := exec.CommandContext(ctx, "kubectl", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").Output()
	if err != nil {
		return fmt.Errorf("kubectl auth whoami: %w", err)
	}
	d.say("Plumbline applies as %s. Render the managed-object guard of the shop's objects, review it, apply it:", whoami)
	out := d.plumbline(ctx, exitOK, "admission", "render", "--guard", "--source", "shop", "--source-label", demoSource,
		"-n", d.namespace, "--repo", "file://"+d.repo, "--path", "apps/prod", "--controller-user", string(whoami))
	file := filepath.Join(d.dir, "admission.yaml")
	if err := writeFile(file, []byte(out)); err != nil {
		return err
	}
	if err := d.kubectl(ctx, "apply", "-f", file); err != nil {
		return err
	}
	defer func() {
		if err := exec.Command("kubectl", "delete", "-f", file, "--ignore-not-found").Run(); err != nil {
			d.failures = append(d.failures, "removing the guard: "+err.Error())
		}
	}()
	person := []string{"--as", "alice", "--as-group", "system:masters"}
	// The API server takes a moment to put a new policy in force.
	for deadline, n := time.Now().Add(30*time.Second), 0; ; n++ {
		probe := append(append([]string{}, person...), "annotate", "-n", d.namespace,
			"deployment/nginx-deployment", fmt.Sprintf("demo.plumbline.dev/probe=%d", n), "--overwrite")
		if exec.CommandContext(ctx, "kubectl", probe...).Run() != nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the guard did not come in force")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The probes that got through before the guard was in force left an annotation: Plumbline,
	// which the guard lets through, takes it off again.
	_ = exec.CommandContext(ctx, "kubectl", "annotate", "-n", d.namespace, "deployment/nginx-deployment", "demo.plumbline.dev/probe-").Run()
	d.say("\nAn on-call engineer, alice, makes the edit of the first story:")
	args := append(append([]string{}, person...), "set", "image", "-n", d.namespace, "deployment/nginx-deployment", "nginx=nginx:latest")
	fmt.Fprintf(d.out, "$ kubectl %s\n", strings.Join(args, " "))
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Stdout, cmd.Stderr = d.out, &stderr
	err = cmd.Run()
	fmt.Fprint(d.out, stderr.String())
	if err == nil {
		d.failures = append(d.failures, "the guard let alice's kubectl set image through")
	}
	d.expect(stderr.String(), "Deployment "+d.namespace+"/nginx-deployment is managed by Plumbline (source shop, repo ")
	d.expect(stderr.String(), "path apps/prod). Change it in Git, or ask for break-glass.")
	d.say("\nNothing reached the cluster, so nothing drifted:")
	d.expect(d.plumbline(ctx, exitOK, diff...), "No drift")
	return nil
}
