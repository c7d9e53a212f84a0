#!/usr/bin/env bash
# The deployment checkers `make test` runs on the chart and the compose file, built from the Go module
# proxy into the repository's own tools folder (gitignored), once per version:
#
#   scripts/deploy-tools.sh            -> .prismaflow/tools/bin/{helm,kube-score,docker-compose}
#
# helm (helm lint / helm template of deploy/helm/prismaflow), kube-score (scores the rendered YAML)
# and the docker compose CLI plugin (docker compose config of deploy/docker-compose.yml). Each is
# built with `go install MODULE/cmd@VERSION` (Go 1.26 or newer on PATH); a binary already built at the
# pinned version is kept, so only the first run on a machine pays the build (see README, "Deploying").
# PRISMAFLOW_TOOLS_BIN moves the folder (tests).
set -euo pipefail

HELM_VERSION=v4.3.2
KUBE_SCORE_VERSION=v1.20.0
COMPOSE_VERSION=v5.6.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${PRISMAFLOW_TOOLS_BIN:-$root/.prismaflow/tools/bin}"
mkdir -p "$bin"

if ! command -v go >/dev/null 2>&1; then
  echo "scripts/deploy-tools.sh needs Go 1.26 or newer on PATH to build helm, kube-score and docker-compose" >&2
  exit 1
fi

# build NAME PACKAGE VERSION: go install PACKAGE@VERSION, the binary renamed NAME, unless already built.
build() {
  local name="$1" package="$2" version="$3" stamp="$bin/.$1.version" gobin
  if [ -x "$bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$package@$version" ]; then
    return 0
  fi
  echo "deploy-tools: building $name from $package@$version" >&2
  gobin="$(mktemp -d)"
  GOBIN="$gobin" GOFLAGS="${GOFLAGS:-} -trimpath" go install "$package@$version"
  mv "$gobin/$(basename "$package")" "$bin/$name"
  rm -rf "$gobin"
  echo "$package@$version" > "$stamp"
}

# build_compose: docker/compose's go.mod has exclude directives, which `go install pkg@version` refuses;
# so it is built inside a throwaway module that carries the same excludes (the versions Compose's
# own build leaves out), with the same requirements `go get` resolves for it.
build_compose() {
  local package=github.com/docker/compose/v5/cmd module=github.com/docker/compose/v5 stamp="$bin/.docker-compose.version"
  local work gomod
  if [ -x "$bin/docker-compose" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$package@$COMPOSE_VERSION" ]; then
    return 0
  fi
  echo "deploy-tools: building docker-compose from $package@$COMPOSE_VERSION" >&2
  work="$(mktemp -d)"
  gomod="$(cd "$work" && go mod download -json "$module@$COMPOSE_VERSION" \
    | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  {
    printf 'module prismaflow.local/compose-build\n\ngo %s\n\n' "$(sed -n 's/^go //p' "$gomod")"
    sed -n '/^exclude (/,/^)/p' "$gomod"
  } > "$work/go.mod"
  (cd "$work" && go get "$package@$COMPOSE_VERSION" \
    && GOFLAGS="${GOFLAGS:-} -trimpath" go build -o "$bin/docker-compose" "$package")
  rm -rf "$work"
  echo "$package@$COMPOSE_VERSION" > "$stamp"
}

build helm helm.sh/helm/v4/cmd/helm "$HELM_VERSION"
build kube-score github.com/zegl/kube-score/cmd/kube-score "$KUBE_SCORE_VERSION"
build_compose
