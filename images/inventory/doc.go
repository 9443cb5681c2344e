// Package inventory says what is inside a container image: its installed
// packages (dpkg, apk and rpm databases, Go binaries' build info, language
// lockfiles), found by osv-scalibr's extractors, and the parts of its config
// that matter to policy (User, Entrypoint, Cmd, exposed ports, labels, and
// the names of environment variables, never their values).
//
// Scan streams the image's layers top to bottom through go-containerregistry,
// applying whiteouts as it goes, and writes to a private temporary folder
// under the cache folder only the files an extractor asked for; it then runs
// the extractors over that folder and removes it. Layers are never held in
// memory. A declared layer size over Limits.MaxLayerBytes, a layer that is
// not a valid (gzip'd) tar, a path with "../" or a link that leaves the image
// root, and a package database an extractor cannot read are errors that name
// the image and the layer.
//
// Inventories are cached on disk by image digest: a digest's contents never
// change, so a digest scanned once is never pulled again.
//
// It never talks to a registry itself (the caller gives it a v1.Image), logs,
// or writes outside its cache folder. Compare diffs two inventories.
package inventory
