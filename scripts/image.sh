#!/usr/bin/env bash
# Builds sextant's OCI image without a container engine: `make image`.
#
#   scripts/image.sh [--out DIR] [--tag TAG] [--binary PATH]
#
#   --out DIR      where to write it (default: $SEXTANT_CACHE/image/out). DIR/oci is an
#                  OCI image layout (load it with `skopeo copy oci:DIR/oci:TAG
#                  docker://REGISTRY/sextant:TAG`, or `podman load`), DIR/sbom.cdx.json
#                  the SBOM, DIR/digest the manifest digest.
#   --tag TAG      the image tag in the layout (default: the chart's appVersion)
#   --binary PATH  package this sextant binary instead of building the release one
#                  (tests/image.rs packages the debug build, to spare a release build)
#
# What is in it, the same as the Dockerfile's image: /sextant (entrypoint, `run` as
# its command), Debian bookworm's libc6, libgcc-s1 and CA bundle (scripts/tools.sh
# image-base), /etc/passwd and /etc/group with the distroless "nonroot" user 65532, no
# shell. The SBOM (CycloneDX 1.5, every crate of the binary from cargo-cyclonedx, plus
# the three Debian packages) is also in the image, at /usr/share/doc/sextant/.
#
# Reproducible: the release binary is built with --locked and its paths remapped; every
# file's time, the image's creation time and the SBOM's timestamp are the last commit's
# time (SOURCE_DATE_EPOCH, if set, wins); no history entries. The same commit gives
# the same manifest digest (tests/image.rs builds twice and compares).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${SEXTANT_CACHE:-$HOME/.cache/sextant}"
out="$cache/image/out"
tag=""
binary=""
while (($#)); do
  case $1 in
    --out) out=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    *) echo "image.sh: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
[[ -n $tag ]] || tag=$(awk '/^appVersion:/ {gsub(/"/, "", $2); print $2}' "$root/charts/sextant/Chart.yaml")
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

"$root/scripts/tools.sh" install umoci image-base cargo-cyclonedx
PATH="$("$root/scripts/tools.sh" path):$PATH"
base=$("$root/scripts/tools.sh" dir image-base)

if [[ -z $binary ]]; then
  echo "image.sh: cargo build --release --locked (target dir $cache/image/target)" >&2
  (
    cd "$root"
    CARGO_TARGET_DIR="$cache/image/target" \
      RUSTFLAGS="--remap-path-prefix=$root=/src --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo" \
      cargo build --quiet --release --locked -p sextant --bin sextant
  )
  binary="$cache/image/target/release/sextant"
fi
[[ -x $binary ]] || { echo "image.sh: $binary is not an executable" >&2; exit 1; }

mkdir -p "$out"
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
cp -a "$base/rootfs" "$rootfs"
install -m 0755 "$binary" "$rootfs/sextant"
mkdir -p "$rootfs/etc" "$rootfs/home/nonroot" "$rootfs/tmp" "$rootfs/usr/share/doc/sextant"
chmod 1777 "$rootfs/tmp"
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nonroot:x:65532:
EOF
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"

# SBOM: the crates of the sextant binary, then the Debian packages of the base.
# cargo-cyclonedx writes <package>_bin.cdx.json next to each package's manifest.
(
  cd "$root"
  cargo-cyclonedx cyclonedx --quiet --format json --spec-version 1.5 \
    --describe binaries --target x86_64-unknown-linux-gnu --no-build-deps
)
mv "$root/sextant_bin.cdx.json" "$work/crates.cdx.json"
rm -f "$root/e2e/sim-kubelet_bin.cdx.json"
python3 "$root/scripts/sbom.py" --crates "$work/crates.cdx.json" --debian "$base/VERSIONS" \
  --epoch "$epoch" --source-root "$root" --out "$rootfs/usr/share/doc/sextant/sbom.cdx.json"
cp "$rootfs/usr/share/doc/sextant/sbom.cdx.json" "$work/sbom.cdx.json"

chown -R 0:0 "$rootfs" 2>/dev/null || true
chown -R 65532:65532 "$rootfs/home/nonroot" 2>/dev/null || true
find "$rootfs" -exec touch -h -d "@$epoch" {} +

layout="$work/oci"
rootless=()
[[ $(id -u) -eq 0 ]] || rootless=(--rootless)
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci insert "${rootless[@]}" --image "$layout:$tag" \
  --history.created "$created" --history.author sextant \
  --history.created_by "scripts/image.sh: /sextant, Debian bookworm libc6, libgcc-s1, ca-certificates" \
  "$rootfs" /
umoci config --no-history --image "$layout:$tag" --created "$created" \
  --author "sextant" --architecture amd64 --os linux \
  --config.user 65532:65532 --config.workingdir / \
  --config.entrypoint /sextant --config.cmd run \
  --config.exposedports 8080/tcp \
  --config.env PATH=/ --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --config.label org.opencontainers.image.title=sextant \
  --config.label "org.opencontainers.image.version=$tag" \
  --config.label org.opencontainers.image.licenses=Apache-2.0 \
  --config.label org.opencontainers.image.source=https://github.com/sextant-dev/sextant \
  --config.label "org.opencontainers.image.created=$created"
umoci gc --layout "$layout"

digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$layout/index.json")
rm -rf "$out/oci" "$out/sbom.cdx.json"
mv "$layout" "$out/oci"
mv "$work/sbom.cdx.json" "$out/sbom.cdx.json"
echo "$digest" >"$out/digest"
echo "image.sh: $out/oci:$tag $digest" >&2
echo "$digest"
