// Package images finds image drift: a tag the registry now serves under
// another digest than the one approved in Git (TagMutated), an image with no
// approved digest (Unpinned), and pods running a digest nobody approved
// (RunningMismatch).
//
// It does five things, each a small piece the reconciler calls in turn:
//
//   - ParseReference normalises an image string, keeping both the tag and
//     the digest of `repo:tag@sha256:…`.
//   - The lock file (plumbline.lock.yaml next to the kustomization) records
//     approved digests: ParseLock, MarshalLock, RefreshLock.
//     NewApprovals merges it with digests pinned in manifests and refuses
//     disagreement.
//   - A Resolver resolves tags to digests (manifest HEAD, GET fallback),
//     caching per reference and credential identity, capping concurrency and
//     retrying 429/5xx with Retry-After. DockerKeychain and WorkloadKeychain
//     give the credentials. LayerChanges counts changed layers.
//   - RunningImages and ImageIDDigest read the digests pods run.
//   - Check, a pure function, turns all of it into Results.
//   - An Inspector looks inside images: Resolver.Image reads one digest with
//     the Resolver's credentials and retries, the inventory sub-package lists
//     its packages and config (osv-scalibr's extractors, cached by digest on
//     disk), the vulns sub-package matches them against an offline OSV
//     database; CompareDigests says what a rebuild changed and which
//     vulnerabilities it brought.
//
// It never lists pods, writes to Git or the cluster, pushes to a registry,
// logs, or imports another Plumbline package than its own sub-packages; the
// only files it reads are the lock (through the fs.FS it is given), through
// DockerKeychain the Docker config, and through an Inspector its scan cache
// folder and OSV database. A registry failure is a *RegistryError for that image, never a
// finding and never "no drift". Credentials never appear in errors: cache
// keys hold only a truncated hash of them.
package images
