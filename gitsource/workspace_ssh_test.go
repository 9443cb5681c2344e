package gitsource

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// TestWorkspacePushOverSSH: a proposal branch is pushed over SSH with a key and a verified host
// key; a host key that known_hosts does not pin fails before anything is sent.
func TestWorkspacePushOverSSH(t *testing.T) {
	root := t.TempDir()
	r := newTestRepo(t, filepath.Join(root, "repo"))
	r.commit("c", map[string]string{"apps/web.yaml": deploymentYAML})
	client, clientPEM := newEd25519(t)
	host, _ := newEd25519(t)
	other, _ := newEd25519(t)
	srv := newSSHGitServer(t, root, client.PublicKey(), host)
	url := "ssh://git@" + srv.addr + "/repo"
	ctx := context.Background()

	_, err := Open(ctx, WorkspaceOptions{URL: url, Base: "main", Auth: &Auth{SSHPrivateKey: clientPEM, KnownHosts: []byte(knownHostsLine(srv.addr, other.PublicKey()))}})
	if !errors.Is(err, ErrHostKey) {
		t.Fatalf("unpinned host key: %v", err)
	}
	ws, err := Open(ctx, WorkspaceOptions{URL: url, Base: "main", Auth: &Auth{SSHPrivateKey: clientPEM, KnownHosts: []byte(knownHostsLine(srv.addr, host.PublicKey()))}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if _, err := EditTree(ws.Dir, "apps", ObjectChange{Object: webKey, File: "apps/web.yaml", Fields: []FieldChange{{Path: ".spec.replicas", Value: 3.0}}}); err != nil {
		t.Fatal(err)
	}
	res, err := ws.Push(ctx, PushOptions{Branch: "plumbline/modified-ssh", Message: "keep", Author: Signature{Name: "Bot", Email: "bot@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := git.PlainOpen(filepath.Join(root, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName("plumbline/modified-ssh"), true)
	if err != nil || ref.Hash().String() != res.Commit {
		t.Fatalf("pushed branch: %v, %v (want %s)", ref, err, res.Commit)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil || c.Author.Name != "Bot" || c.Author.Email != "bot@example.com" {
		t.Fatalf("commit author: %+v, %v", c, err)
	}
}
