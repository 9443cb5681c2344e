// Package gitsource fetches the desired state of a cluster from Git, and
// proposes changes to it as pull requests.
//
// Fetch resolves a branch, a tag or a commit of a remote repository with one
// ls-remote-style request, and fetches only what it does not already hold: a
// shallow (depth 1) fetch into a checkout of that one commit. With a cache
// directory, a commit that was checked out before is handed out again without
// a clone or a fetch. The result is a commit SHA and a read-only tree: files
// 0444, directories 0555, no .git directory.
//
// Supported remotes are file:// URLs and local paths, HTTPS with Basic
// (username and password or token) or Bearer authentication, and SSH with a
// private key. SSH host keys are always verified against the known_hosts
// that the caller supplies; there is no "accept new" or "insecure" mode, and
// an SSH fetch without known_hosts fails before any connection is made.
//
// Credentials reach the package as bytes: AuthFromSecretData reads the keys
// of a Kubernetes Secret in Flux's conventions (username, password,
// bearerToken, identity, known_hosts, ca.crt). The package never reads flags
// or environment variables for credentials, never uses an SSH agent, never
// accepts a password embedded in a URL, and never puts a credential in an
// error: URLs in errors are passed through RedactURL and token, password and
// passphrase strings are scrubbed from the text of wrapped errors.
//
// For pull requests as the approval path, Open clones the tip of a branch
// into a writable Workspace; EditTree writes a change into it as a minimal
// in-place YAML edit (kyaml: comments, key order and untouched lines kept)
// where the field comes from (a kustomize patch, an images: entry, the
// object's own file, else a patch it adds to the overlay); UpsertListEntry is
// the generic list edit the image lock file uses; Push commits with the
// given author and force-pushes the proposal branch as one commit on the
// current base, sending nothing when the remote branch already holds the
// same change. Forge opens and follows the pull request on Gitea, GitHub
// or GitLab (where it is a merge request). Secret values are the caller's to
// keep out: the package writes what it is given.
//
// Errors carry a kind that callers test with errors.Is: ErrAuth,
// ErrHostKey, ErrRefNotFound, ErrRepositoryNotFound and the transient
// ErrUnreachable. The package does not log, does not retry, and does not
// evict cache entries.
package gitsource
