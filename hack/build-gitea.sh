#!/usr/bin/env bash
# Builds the Gitea server of the pull-request tests from the Go module proxy into $1, through the
# tools module in test/tools/gitea (its own module: Gitea's replace lines would fight the Kubernetes
# ones). Skipped when $1/gitea is there at the pinned version. A cold build takes 6-10 minutes on
# 2 cores. Gitea reads its templates, translations and static files from its source folder at run
# time: $1/gitea-assets links to that folder in the module cache.
set -euo pipefail
out=${1:?usage: build-gitea.sh OUTDIR}
here=$(cd "$(dirname "$0")/.." && pwd)
tools=$here/test/tools/gitea
mkdir -p "$out"
out=$(cd "$out" && pwd)

version=$(awk '$1=="require" && $2=="code.gitea.io/gitea"{print $3; exit} $1=="code.gitea.io/gitea"{print $2; exit}' "$tools/go.mod")

cd "$tools"
src=$(go list -m -f '{{.Dir}}' code.gitea.io/gitea)
if [ -x "$out/gitea" ] && [ -f "$out/gitea.version" ] && [ "$(cat "$out/gitea.version")" = "$version" ] && [ -d "$out/gitea-assets/options" ]; then
  echo "gitea $version: already built in $out"
  exit 0
fi
if [ -z "$src" ] || [ ! -d "$src/options" ]; then
  go mod download code.gitea.io/gitea
  src=$(go list -m -f '{{.Dir}}' code.gitea.io/gitea)
fi
echo "building gitea $version into $out (6-10 minutes on a cold build cache)"
CGO_ENABLED=1 go build -trimpath -tags 'sqlite sqlite_unlock_notify' \
  -ldflags "-s -w -X main.Version=${version#v}" -o "$out/gitea.tmp" code.gitea.io/gitea
mv "$out/gitea.tmp" "$out/gitea"
ln -sfn "$src" "$out/gitea-assets"
echo "$version" > "$out/gitea.version"
