#!/usr/bin/env bash
# The build context of the Dockerfile, from a verified dist tree:
#   dist/stage-image.sh --index dist/index.json --version V --out DIR [--parity BIN] PLATFORM...
# For each PLATFORM (linux/amd64, linux/arm64) the archive of its *-unknown-linux-gnu target is
# resolved and verified with `parity dist verify` (so the image holds exactly the released,
# checked binary), its `parity` is extracted to DIR/PLATFORM/parity; the host's CA bundle goes
# to DIR/ca-certificates.crt. A platform without a verified archive fails.
set -euo pipefail
die() { echo "stage-image.sh: $*" >&2; exit 2; }
index="" version="" out="" parity=parity platforms=()
while (($#)); do
  case "$1" in
    --index) index="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --parity) parity="$2"; shift 2 ;;
    linux/*) platforms+=("$1"); shift ;;
    *) die "unknown argument \`$1\`" ;;
  esac
done
[[ -n "$index" && -n "$version" && -n "$out" && ${#platforms[@]} -gt 0 ]] ||
  die "usage: --index FILE --version V --out DIR [--parity BIN] linux/amd64 [linux/arm64]"
ca=/etc/ssl/certs/ca-certificates.crt
[[ -f "$ca" ]] || die "no CA bundle at $ca"
mkdir -p "$out"
cp "$ca" "$out/ca-certificates.crt"
for platform in "${platforms[@]}"; do
  case "$platform" in
    linux/amd64) target=x86_64-unknown-linux-gnu ;;
    linux/arm64) target=aarch64-unknown-linux-gnu ;;
    *) die "no target for platform $platform" ;;
  esac
  archive="$("$parity" dist verify --index "$index" --version "$version" --target "$target")"
  stem="$(basename "$archive" .tar.gz)"
  mkdir -p "$out/$platform"
  tar -xzf "$archive" -O "$stem/parity" >"$out/$platform/parity.tmp"
  chmod 0755 "$out/$platform/parity.tmp"
  mv "$out/$platform/parity.tmp" "$out/$platform/parity"
  echo "stage-image.sh: $platform <- $archive" >&2
done
