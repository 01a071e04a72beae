#!/usr/bin/env bash
# A dry run of the release, twice: proves that the same tag gives byte-identical binaries,
# archives and index from two clean clones at two different paths.
#
#   dist/reproduce.sh WORKDIR [VERSION]
#
# Clones this repository's HEAD commit into WORKDIR/a and WORKDIR/x/clone-b, and in each: plans
# release VERSION (default 9.9.9, a fake tag) for this machine's target, builds the release
# binary (dist/release.sh binary) and packages it with that very binary (`parity -C dist
# build`). Then: every file of the two dist trees and the two binaries must be identical, no
# binary may contain a build path (the clone, CARGO_HOME, RUSTUP_HOME); `parity -C dist
# verify`, `parity -C dist verify --rebuild` and `parity dist verify --all` must pass.
# WORKDIR/a is kept (CI packages the container and checks the wheel from it), the second
# clone removed.
# Exit 0 = reproducible.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: dist/reproduce.sh WORKDIR [VERSION]" >&2; exit 2; }
src="$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
work="$1"
version="${2:-9.9.9}"
target="$(rustc -vV | sed -n 's/^host: //p')"
rm -rf "$work"
mkdir -p "$work/x"
work="$(cd "$work" && pwd -P)"
a="$work/a"
b="$work/x/clone-b"

# One commit for both clones, even if the source moves on meanwhile.
commit="$(git -C "$src" rev-parse HEAD)"

build() { # clone dir
  local dir="$1" start=$SECONDS
  git clone --quiet --no-local "$src" "$dir"
  (
    cd "$dir"
    git checkout --quiet --detach "$commit"
    dist/release.sh plan --version "$version" --target "$target"
    # What the release workflow's jobs that build or hash the sources run first (idempotent).
    dist/release.sh patch
    dist/release.sh binary --target "$target"
    chmod +x "dist/bin/$target/parity"
    "dist/bin/$target/parity" -C dist build
    "dist/bin/$target/parity" -C dist verify
    "dist/bin/$target/parity" -C dist verify --rebuild
    "dist/bin/$target/parity" dist verify --index dist/index.json --all
  )
  echo "reproduce.sh: $dir built and packaged in $((SECONDS - start)) s" >&2
}

build "$a"
build "$b"

fail=0
tree() { (cd "$1/dist" && find distribution-contract@1.0 index.json "bin/$target" -type f | LC_ALL=C sort); }
if ! diff <(tree "$a") <(tree "$b") >&2; then
  echo "reproduce.sh: the two dist trees hold different files" >&2
  fail=1
fi
while IFS= read -r f; do
  if ! cmp -s "$a/dist/$f" "$b/dist/$f"; then
    echo "reproduce.sh: differs between the clones: dist/$f" >&2
    fail=1
  fi
done < <(tree "$a")
for dir in "$a" "$b"; do
  for leak in "$dir" "${CARGO_HOME:-$HOME/.cargo}" "${RUSTUP_HOME:-$HOME/.rustup}"; do
    if grep -a -q -F -- "$leak" "$dir/dist/bin/$target/parity"; then
      echo "reproduce.sh: $dir/dist/bin/$target/parity contains the build path \`$leak\`" >&2
      fail=1
    fi
  done
done
if ((fail)); then
  exit 1
fi
echo "reproduce.sh: reproducible: $(tree "$a" | wc -l) files identical between $a and $b" >&2
rm -rf "$work/x" # the second clone's 1 GB; a failed run keeps it for a look
