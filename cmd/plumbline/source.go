package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/spf13/pflag"

	"github.com/plumbline/plumbline/gitsource"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/report"
)

// sourceFlags say where the desired state is: a Git repository (--repo) or a local folder.
type sourceFlags struct {
	repo, ref, path string
	cacheDir        string
	gitUsername     string
	passwordFile    string
	bearerFile      string
	sshKeyFile      string
	knownHostsFile  string
	gitSecret       string
	insecureHTTP    bool
}

func (f *sourceFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.repo, "repo", "", "Git repository URL (https://, ssh://, git@host:path, file://) or local repository path; empty reads --path from the local disk")
	fs.StringVar(&f.ref, "ref", "", "branch, tag or commit of --repo (default: the remote's default branch)")
	fs.StringVar(&f.path, "path", ".", "folder of manifests: inside --repo, or on the local disk")
	fs.StringVar(&f.cacheDir, "git-cache-dir", "", "keep fetched trees here and skip the fetch when the remote tip has not moved")
	fs.StringVar(&f.gitUsername, "git-username", "", "user name for HTTPS Basic auth (default \"git\" when a password or token file is given)")
	fs.StringVar(&f.passwordFile, "git-password-file", "", "file holding the HTTPS password or access token (Basic auth)")
	fs.StringVar(&f.bearerFile, "git-bearer-token-file", "", "file holding an HTTPS bearer token")
	fs.StringVar(&f.sshKeyFile, "git-ssh-key-file", "", "file holding the SSH private key")
	fs.StringVar(&f.knownHostsFile, "git-known-hosts-file", "", "known_hosts file for SSH host key verification (default ~/.ssh/known_hosts)")
	fs.StringVar(&f.gitSecret, "git-secret", "", "NAMESPACE/NAME of a Secret with Git credentials (keys username, password, bearerToken, identity, known_hosts, ca.crt)")
	fs.BoolVar(&f.insecureHTTP, "git-insecure-http", false, "allow credentials over plain http:// (test servers only)")
}

// desiredState is a rendered source.
type desiredState struct {
	objects []manifests.Object
	source  report.Source
	// root is the repository root the objects were rendered from; dir is the folder inside it.
	root, dir string
	// identity names the source stably for ownership labels: the remote URL and folder.
	identity string
	close    func() error
}

// secretReader reads a Kubernetes Secret's data, for --git-secret.
type secretReader func(ctx context.Context, namespace, name string) (map[string][]byte, error)

// load fetches (when --repo is set) and renders the source.
func (f *sourceFlags) load(ctx context.Context, readSecret secretReader) (*desiredState, error) {
	if f.repo == "" {
		return f.loadLocal(ctx)
	}
	auth, err := f.auth(ctx, readSecret)
	if err != nil {
		return nil, err
	}
	opts := gitsource.DefaultFetchOptions()
	opts.URL, opts.Ref, opts.Auth, opts.CacheDir, opts.InsecureHTTP = f.repo, f.ref, auth, f.cacheDir, f.insecureHTTP
	res, err := gitsource.Fetch(ctx, opts)
	if err != nil {
		return nil, err
	}
	dir := filepath.ToSlash(filepath.Clean(f.path))
	objs, err := manifests.Render(ctx, res.Dir, dir, manifests.DefaultOptions())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%s@%s: %w", res.URL, shortSHA(res.Commit), err), res.Close())
	}
	return &desiredState{
		objects:  objs,
		source:   report.Source{Repo: res.URL, Ref: res.Ref, Revision: res.Commit, Path: dir},
		root:     res.Dir,
		dir:      dir,
		identity: res.URL + "//" + dir,
		close:    res.Close,
	}, nil
}

// loadLocal renders a folder on the local disk. The repository root (nothing outside it is
// read) is the enclosing Git work tree, or the folder itself outside Git.
func (f *sourceFlags) loadLocal(ctx context.Context) (*desiredState, error) {
	abs, err := filepath.Abs(f.path)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("--path %s: not a folder", f.path)
	}
	root, origin := enclosingRepo(abs)
	dir, err := filepath.Rel(root, abs)
	if err != nil {
		return nil, err
	}
	dir = filepath.ToSlash(dir)
	objs, err := manifests.Render(ctx, root, dir, manifests.DefaultOptions())
	if err != nil {
		return nil, err
	}
	identity := "file://" + filepath.ToSlash(root) + "//" + dir
	if origin != "" {
		identity = origin + "//" + dir
	}
	return &desiredState{
		objects:  objs,
		source:   report.Source{Path: f.path},
		root:     root,
		dir:      dir,
		identity: identity,
		close:    func() error { return nil },
	}, nil
}

// enclosingRepo returns the root of the Git work tree that holds dir, and its origin remote
// URL (redacted) when it has one. Outside Git it returns dir itself.
func enclosingRepo(dir string) (root, origin string) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return dir, ""
	}
	wt, err := repo.Worktree()
	if err != nil {
		return dir, ""
	}
	root = wt.Filesystem.Root()
	if r, err := repo.Remote("origin"); err == nil && len(r.Config().URLs) > 0 {
		origin = gitsource.RedactURL(r.Config().URLs[0])
	}
	return root, origin
}

// auth builds Git credentials from files or a Secret; never from the command line.
func (f *sourceFlags) auth(ctx context.Context, readSecret secretReader) (*gitsource.Auth, error) {
	if f.gitSecret != "" {
		ns, name, ok := strings.Cut(f.gitSecret, "/")
		if !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("--git-secret %q: want NAMESPACE/NAME", f.gitSecret)
		}
		data, err := readSecret(ctx, ns, name)
		if err != nil {
			return nil, fmt.Errorf("--git-secret %s: %w", f.gitSecret, err)
		}
		return gitsource.AuthFromSecretData(data)
	}
	data := map[string][]byte{}
	if f.gitUsername != "" {
		data[gitsource.SecretKeyUsername] = []byte(f.gitUsername)
	}
	for key, file := range map[string]string{
		gitsource.SecretKeyPassword:    f.passwordFile,
		gitsource.SecretKeyBearerToken: f.bearerFile,
		gitsource.SecretKeyIdentity:    f.sshKeyFile,
		gitsource.SecretKeyKnownHosts:  f.knownHostsFile,
	} {
		if file == "" {
			continue
		}
		b, err := manifests.ReadLocalFile(ctx, file) // a regular file, size-capped, never blocking
		if err != nil {
			return nil, fmt.Errorf("read credentials: %w", err)
		}
		if key == gitsource.SecretKeyPassword || key == gitsource.SecretKeyBearerToken {
			b = bytes.TrimRight(b, "\r\n") // a token file usually ends with a newline
		}
		data[key] = b
	}
	if _, ok := data[gitsource.SecretKeyPassword]; ok && f.gitUsername == "" {
		data[gitsource.SecretKeyUsername] = []byte("git")
	}
	if _, ok := data[gitsource.SecretKeyKnownHosts]; !ok && isSSH(f.repo) {
		if home, err := os.UserHomeDir(); err == nil {
			if b, err := manifests.ReadLocalFile(ctx, filepath.Join(home, ".ssh", "known_hosts")); err == nil {
				data[gitsource.SecretKeyKnownHosts] = b
			}
		}
	}
	if len(data) == 0 {
		return nil, nil
	}
	return gitsource.AuthFromSecretData(data)
}

// isSSH reports whether a repository URL is reached over SSH, as go-git reads it
// (ssh://… or scp-like git@host:path).
func isSSH(url string) bool {
	ep, err := transport.NewEndpoint(url)
	return err == nil && ep.Protocol == "ssh"
}

var labelUnsafe = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// sourceName derives the ownership label value of a source from its identity: the last folder
// name, readable, plus a hash of the whole identity, within the 63 characters of a label value.
func sourceName(identity string) string {
	sum := sha256.Sum256([]byte(identity))
	base := identity
	if i := strings.LastIndex(strings.TrimRight(base, "/"), "/"); i >= 0 {
		base = base[i+1:]
	}
	base = strings.Trim(labelUnsafe.ReplaceAllString(base, "-"), "-._")
	if len(base) > 40 {
		base = base[:40]
	}
	if base == "" {
		base = "source"
	}
	return base + "-" + hex.EncodeToString(sum[:])[:12]
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
