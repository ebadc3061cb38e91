#!/usr/bin/env bash
# Prints the folder holding the binaries of the kcm test control plane
# (tests/k8s/testenv.ts): etcd, kube-apiserver, kube-controller-manager and
# kube-scheduler, building them first when needed.
#
# - If $KUBEBUILDER_ASSETS names a folder with all four binaries, that folder is
#   printed and nothing is built.
# - Otherwise the binaries are built from the Go module in tests/k8s/testenv
#   (k8s.io/kubernetes and go.etcd.io/etcd/server/v3 at pinned releases) and
#   cached outside the repo in
#   ${KCM_TESTENV_CACHE:-$HOME/.cache/kcm-testenv}/<kubernetes-version>/.
#   A second call finds the cache and returns at once. Concurrent calls are
#   serialised with a lock; the folder only appears once every binary is in.
#
# Only the folder path goes to stdout; build progress goes to stderr.
# Usage: tests/k8s/build_testenv.sh     (e.g. export KUBEBUILDER_ASSETS=$(...))
set -euo pipefail

binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler)
has_binaries() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$1/$b" ]] || return 1; done
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  if has_binaries "$KUBEBUILDER_ASSETS"; then
    printf '%s\n' "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  echo "build_testenv: KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks one of ${binaries[*]}; building instead" >&2
fi

module_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/testenv"
version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$module_dir/go.mod")"
if [[ -z "$version" ]]; then
  echo "build_testenv: cannot read the k8s.io/kubernetes version from $module_dir/go.mod" >&2
  exit 1
fi
cache_root="${KCM_TESTENV_CACHE:-${HOME:-/tmp}/.cache/kcm-testenv}"
target="$cache_root/$version"

if has_binaries "$target"; then
  printf '%s\n' "$target"
  exit 0
fi

# Go's default install place, for shells whose PATH lacks it.
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
  PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null || {
  echo "build_testenv: 'go' is not installed; install Go >= 1.26 or set KUBEBUILDER_ASSETS" >&2
  exit 1
}

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
flock 9
if has_binaries "$target"; then # another caller finished the build meanwhile
  printf '%s\n' "$target"
  exit 0
fi

staging="$(mktemp -d "$cache_root/.build-$version.XXXXXX")"
chmod 755 "$staging"
trap 'rm -rf "$staging"' EXIT

minor="${version#v1.}"
minor="${minor%%.*}"
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"

echo "build_testenv: building kube-apiserver, kube-controller-manager, kube-scheduler $version and etcd into $target (takes a while the first time)" >&2
started=$SECONDS
(
  cd "$module_dir"
  go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$staging/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler
) >&2
if ! (cd "$module_dir" && go build -mod=readonly -trimpath -ldflags "-s -w" -o "$staging/etcd" ./etcd) >&2; then
  if command -v etcd >/dev/null; then
    echo "build_testenv: etcd build failed; falling back to $(command -v etcd)" >&2
    cp "$(command -v etcd)" "$staging/etcd"
  else
    echo "build_testenv: etcd build failed (fallback: apt-get install etcd-server)" >&2
    exit 1
  fi
fi
echo "build_testenv: built in $((SECONDS - started))s" >&2

rm -rf "$target"
mv "$staging" "$target"
trap - EXIT
printf '%s\n' "$target"
