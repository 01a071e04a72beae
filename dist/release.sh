#!/usr/bin/env bash
# The two release steps that run outside parity (docs/distribution.md); the packaging is the dist
# pipeline (dist/pipeline.toml). Run from anywhere inside the repository.
#
#   dist/release.sh plan --version V [--target T]... [--dist-revision rN] [--repository URL] [--builder ID]
#       Patches V into Cargo.toml and Cargo.lock (the tag is the only source of the version) and
#       writes dist/release.toml: the tuple, the targets, SOURCE_DATE_EPOCH (the commit's time)
#       and the build recipe. Default target: this machine's.
#   dist/release.sh patch
#       Patches the plan's version into Cargo.toml and Cargo.lock (every job of a release that
#       builds or hashes the sources runs it: `binary` does).
#   dist/release.sh binary --target T
#       Builds the release binary of T as the plan says (cargo --locked, SOURCE_DATE_EPOCH,
#       --remap-path-prefix, debug info stripped, static glibc on *-linux-gnu) and stages it at
#       dist/bin/T/parity.
#   dist/release.sh wheel --target T
#       The Python wheel of T (maturin, pyproject.toml) from the same build, into dist/wheels/
#       ($MATURIN, default `maturin`).
set -euo pipefail

die() { echo "release.sh: $*" >&2; exit 2; }
root="$(git rev-parse --show-toplevel 2>/dev/null)" || die "not inside a git checkout"
cd "$root"
plan_file=dist/release.toml

# The paths a build must not leak, as the compiler sees them (Windows: native form).
native() { if command -v cygpath >/dev/null 2>&1; then cygpath -w "$1"; else printf '%s' "$1"; fi; }
cargo_home="${CARGO_HOME:-$HOME/.cargo}"

# The recipe of target $1, one flag per line; `<workspace>` and `<cargo-home>` stand for the
# paths above (the plan records this form, the build substitutes them).
rustflags_of() {
  echo "--remap-path-prefix=<workspace>=/parity"
  echo "--remap-path-prefix=<cargo-home>=/cargo"
  # Symbols stay (backtraces name functions); with line tables the Linux binary is 104 MB, not 23.
  echo "-Cstrip=debuginfo"
  case "$1" in *-linux-gnu*) echo "-Ctarget-feature=+crt-static" ;; esac
}
cflags_of() {
  case "$1" in
    *-windows-msvc) ;; # cl.exe takes no prefix map
    *)
      echo "-ffile-prefix-map=<workspace>=/parity"
      echo "-ffile-prefix-map=<cargo-home>=/cargo"
      ;;
  esac
}
toml_list() { # lines on stdin -> ["a", "b"]
  local out="" line
  while IFS= read -r line; do out="${out:+$out, }\"$line\""; done
  printf '[%s]' "$out"
}
plan_value() { # key -> the first string of `key = ...` in the plan
  sed -n "s/^$1 = \[\{0,1\}\"\([^\"]*\)\".*/\1/p" "$plan_file" | head -n 1
}

# The version of the workspace and of its three packages in Cargo.lock.
patch_version() {
  local v="$1" tmp
  tmp="$(mktemp Cargo.toml.XXXXXX)"
  awk -v v="$v" '
    /^\[/ { section = $0 }
    section == "[workspace.package]" && /^version = / { print "version = \"" v "\""; next }
    { print }' Cargo.toml >"$tmp" && mv "$tmp" Cargo.toml
  tmp="$(mktemp Cargo.lock.XXXXXX)"
  awk -v v="$v" '
    /^name = "(parity|parity-engine|parity-rules)"$/ { print; ours = 1; next }
    ours && /^version = / { print "version = \"" v "\""; ours = 0; next }
    { ours = 0; print }' Cargo.lock >"$tmp" && mv "$tmp" Cargo.lock
  [[ "$(grep -c "^version = \"$v\"$" Cargo.lock)" == 3 ]] || die "could not patch version $v into Cargo.lock"
}

plan() {
  local version="" revision=r1 repository="local" builder="local" targets=()
  while (($#)); do
    case "$1" in
      --version) version="${2#v}"; shift 2 ;;
      --target) targets+=("$2"); shift 2 ;;
      --dist-revision) revision="$2"; shift 2 ;;
      --repository) repository="$2"; shift 2 ;;
      --builder) builder="$2"; shift 2 ;;
      *) die "plan: unknown argument \`$1\`" ;;
    esac
  done
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || die "plan: --version must be X.Y.Z (got \`$version\`)"
  [[ "$revision" =~ ^r[1-9][0-9]*$ ]] || die "plan: --dist-revision must be r1, r2, ... (got \`$revision\`)"
  ((${#targets[@]})) || targets=("$(rustc -vV | sed -n 's/^host: //p')")
  local commit epoch toolchain
  commit="$(git rev-parse HEAD)"
  epoch="$(git log -1 --format=%ct HEAD)"
  toolchain="$(rustc --version | awk '{print $2}')"
  patch_version "$version"
  local sorted tar_gz zip
  sorted="$(printf '%s\n' "${targets[@]}" | LC_ALL=C sort -u)"
  tar_gz="$(grep -v -- '-windows' <<<"$sorted" || true)"
  zip="$(grep -- '-windows' <<<"$sorted" || true)"
  local tmp
  tmp="$(mktemp dist/release.toml.XXXXXX)"
  {
    echo "# The release plan of dist/pipeline.toml, written by \`dist/release.sh plan\`. The one-value"
    echo "# lists are the pipeline's params."
    echo "version = [\"$version\"]"
    echo "git_sha = [\"${commit:0:12}\"]"
    echo "profile = [\"release\"]"
    echo "toolchain = [\"$toolchain\"]"
    echo "dist_revision = [\"$revision\"]"
    echo "targets = $(toml_list <<<"$sorted")"
    echo "tar_gz_targets = $(grep . <<<"$tar_gz" | toml_list || true)"
    echo "zip_targets = $(grep . <<<"$zip" | toml_list || true)"
    echo "source_date_epoch = $epoch"
    echo "git_commit = \"$commit\""
    echo "git_ref = \"refs/tags/v$version\""
    echo "repository = \"$repository\""
    echo "builder = \"$builder\""
    echo
    echo "[build]"
    echo "rustc = \"$(rustc --version)\""
    echo 'cargo = ["build", "--release", "--locked", "--target", "<target>"]'
    local t
    while IFS= read -r t; do
      echo
      echo "[build.targets.\"$t\"]"
      echo "rustflags = $(rustflags_of "$t" | toml_list)"
      echo "cflags = $(cflags_of "$t" | toml_list)"
    done <<<"$sorted"
  } >"$tmp"
  mv "$tmp" "$plan_file"
  echo "release.sh: wrote $plan_file (v$version, ${commit:0:12}, $revision, rust $toolchain; targets: $(echo $sorted))" >&2
}

patch() {
  [[ -f "$plan_file" ]] || die "patch: no $plan_file (run \`dist/release.sh plan\` first)"
  local version
  version="$(plan_value version)"
  [[ -n "$version" ]] || die "patch: no version in $plan_file"
  patch_version "$version"
}

# The environment of a reproducible build of target $1 (exported): SOURCE_DATE_EPOCH, no
# incremental compilation, the plan's RUSTFLAGS and CFLAGS with this machine's paths.
build_env() {
  local target="$1"
  [[ -f "$plan_file" ]] || die "no $plan_file (run \`dist/release.sh plan\` first)"
  grep -q "^\[build.targets.\"$target\"\]" "$plan_file" || die "the plan has no target $target"
  local toolchain commit
  toolchain="$(plan_value toolchain)"
  commit="$(plan_value git_commit)"
  [[ "$(git rev-parse HEAD)" == "$commit" ]] || die "HEAD is not the planned commit $commit"
  [[ "$(rustc --version | awk '{print $2}')" == "$toolchain" ]] || die "rustc is not the planned $toolchain"
  patch
  local ws home flags="" cflags="" f sep=$'\x1f'
  ws="$(native "$root")"
  home="$(native "$cargo_home")"
  while IFS= read -r f; do
    f="${f//<workspace>/$ws}"
    flags="${flags:+$flags$sep}${f//<cargo-home>/$home}"
  done < <(rustflags_of "$target")
  while IFS= read -r f; do
    [[ -n "$f" ]] || continue
    f="${f//<workspace>/$ws}"
    cflags="${cflags:+$cflags }${f//<cargo-home>/$home}"
  done < <(cflags_of "$target")
  SOURCE_DATE_EPOCH="$(sed -n 's/^source_date_epoch = //p' "$plan_file")"
  export SOURCE_DATE_EPOCH CARGO_INCREMENTAL=0 CARGO_ENCODED_RUSTFLAGS="$flags" CFLAGS="$cflags" CXXFLAGS="$cflags"
}

target_arg() { # --target T -> T
  [[ "${1:-}" == --target && -n "${2:-}" && $# -eq 2 ]] || die "$cmd: --target T is required (and nothing else)"
  printf '%s' "$2"
}

binary() {
  local target
  target="$(target_arg "$@")"
  build_env "$target"
  echo "release.sh: building parity $(plan_value version) for $target (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)" >&2
  cargo build --release --locked --target "$target"
  local exe=parity
  [[ "$target" == *-windows* ]] && exe=parity.exe
  mkdir -p "dist/bin/$target"
  cp "target/$target/release/$exe" "dist/bin/$target/.parity.tmp"
  mv "dist/bin/$target/.parity.tmp" "dist/bin/$target/parity"
  echo "release.sh: staged dist/bin/$target/parity" >&2
}

# The wheel of target T (pyproject.toml): maturin builds the same binary with the same
# environment (after `binary`, cargo finds it fresh), into dist/wheels/.
wheel() {
  local target
  target="$(target_arg "$@")"
  build_env "$target"
  "${MATURIN:-maturin}" build --release --locked --target "$target" --out dist/wheels
}

cmd="${1:-}"
case "$cmd" in
  plan) shift; plan "$@" ;;
  patch) shift; patch "$@" ;;
  binary) shift; binary "$@" ;;
  wheel) shift; wheel "$@" ;;
  *) die "usage: dist/release.sh plan --version V [--target T]... | patch | binary --target T | wheel --target T" ;;
esac
