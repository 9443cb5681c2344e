#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kube-controller-manager and etcd) from the Go
# module proxy into $1,
# through the tools module in test/tools. Skips each binary that is already there at the pinned
# version, so a second run costs nothing. A cold build takes 10-15 minutes on 2 cores.
set -euo pipefail
out=${1:?usage: build-control-plane.sh OUTDIR}
here=$(cd "$(dirname "$0")/.." && pwd)
tools=$here/test/tools
mkdir -p "$out"
out=$(cd "$out" && pwd)

kube_version=$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$tools/go.mod")
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "$tools/go.mod")
kube_minor=$(echo "$kube_version" | cut -d. -f2)

stamp_ok() { [ -x "$out/$1" ] && [ -f "$out/$1.version" ] && [ "$(cat "$out/$1.version")" = "$2" ]; }

cd "$tools"
if stamp_ok kube-apiserver "$kube_version"; then
  echo "kube-apiserver $kube_version: already built in $out"
else
  echo "building kube-apiserver $kube_version into $out (10-15 minutes on a cold build cache)"
  pkg=k8s.io/component-base/version
  go build -trimpath -o "$out/kube-apiserver.tmp" \
    -ldflags "-s -w -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor" \
    k8s.io/kubernetes/cmd/kube-apiserver
  mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
  echo "$kube_version" > "$out/kube-apiserver.version"
fi

if stamp_ok kube-controller-manager "$kube_version"; then
  echo "kube-controller-manager $kube_version: already built in $out"
else
  echo "building kube-controller-manager $kube_version into $out (about 6 minutes after kube-apiserver)"
  pkg=k8s.io/component-base/version
  go build -trimpath -o "$out/kube-controller-manager.tmp" \
    -ldflags "-s -w -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor" \
    k8s.io/kubernetes/cmd/kube-controller-manager
  mv "$out/kube-controller-manager.tmp" "$out/kube-controller-manager"
  echo "$kube_version" > "$out/kube-controller-manager.version"
fi

if stamp_ok etcd "$etcd_version"; then
  echo "etcd $etcd_version: already built in $out"
else
  echo "building etcd $etcd_version into $out"
  go build -trimpath -o "$out/etcd.tmp" -ldflags "-s -w" go.etcd.io/etcd/server/v3
  mv "$out/etcd.tmp" "$out/etcd"
  echo "$etcd_version" > "$out/etcd.version"
fi
