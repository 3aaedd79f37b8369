#!/usr/bin/env bash
# Offline checks of the Helm chart (run by `make chart-test`, part of `make test`):
#
#   1. charts/sextant/crds/ is byte-identical to crds/ (cmp), and the chart's
#      appVersion is the crate version (Cargo.toml);
#   2. `helm template` with the default values, with ci/namespaced-values.yaml and with
#      ci/servicemonitor-values.yaml, each validated by `kubernetes-validate --strict`
#      against Kubernetes 1.33 (any kind without a schema fails, except ServiceMonitor and
#      PrometheusRule: prometheus-operator CRD kinds, checked by scripts/chart-test.py instead);
#      the CRD itself is validated the same way (helm template leaves crds/ out);
#   3. scripts/chart-test.py on each rendering: objects per mode, no RBAC wildcards,
#      Pod Security Standard "restricted", probes, resources, flags, ServiceMonitor;
#   4. values.schema.json rejects wrong values with a message naming the field.
#
# `helm lint --strict` is `make chart-lint`. Tools come from scripts/tools.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/tools.sh env)"

CHART=charts/sextant
RELEASE_NS=sextant-system
KUBE_VERSION=1.33.0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { printf 'chart-test: FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf 'chart-test: ok: %s\n' "$*"; }

for t in helm kubernetes-validate; do
  command -v "$t" >/dev/null || fail "$t not found: run scripts/tools.sh install"
done
# PyYAML comes with kubernetes-validate's venv.
PYTHON=$(dirname "$(readlink -f "$(command -v kubernetes-validate)")")/python
[[ -x $PYTHON ]] || PYTHON=python3

# 1. drift
cmp crds/observabilitystacks.yaml "$CHART/crds/observabilitystacks.yaml" ||
  fail "$CHART/crds/observabilitystacks.yaml differs from crds/observabilitystacks.yaml: run \`make chart-crds\`"
ok "chart CRD is byte-identical to crds/observabilitystacks.yaml"
crate_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
app_version=$(sed -n 's/^appVersion: "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$CHART/Chart.yaml")
[[ $app_version == "$crate_version" ]] ||
  fail "Chart.yaml appVersion $app_version is not the crate version $crate_version"
ok "appVersion $app_version = crate version"

# validate FILE : kubernetes-validate --strict; a kind without a schema fails, except
# ServiceMonitor (checked by chart-test.py).
validate() {
  local out rc=0
  out=$(kubernetes-validate --strict -k "$KUBE_VERSION" "$1" 2>&1) || rc=$?
  if ((rc)) || grep -vE "kind (ServiceMonitor|PrometheusRule) with api version monitoring.coreos.com/v1" <<<"$out" |
    grep -qE "Couldn't find schema|ERROR"; then
    printf '%s\n' "$out" >&2
    fail "kubernetes-validate --strict -k $KUBE_VERSION $1"
  fi
  grep -c ' passed for resource ' <<<"$out" || true
}

n=$(validate "$CHART/crds/observabilitystacks.yaml")
ok "the CRD passes kubernetes-validate --strict ($KUBE_VERSION, $n object)"

# 2 + 3. render, validate, assert
for mode in default namespaced servicemonitor; do
  args=()
  [[ $mode == default ]] || args=(-f "$CHART/ci/$mode-values.yaml")
  helm template sextant "$CHART" -n "$RELEASE_NS" ${args[@]+"${args[@]}"} >"$tmp/$mode.yaml" ||
    fail "helm template ($mode)"
  n=$(validate "$tmp/$mode.yaml")
  ok "helm template ($mode values) passes kubernetes-validate --strict ($KUBE_VERSION, $n objects)"
  "$PYTHON" scripts/chart-test.py "$mode" "$tmp/$mode.yaml" "$app_version" "$RELEASE_NS" ||
    fail "rendered manifests ($mode values)"
done

# 4. values.schema.json: a wrong value fails with the field's name.
# expect_reject WANT_IN_MESSAGE HELM_ARGS...
expect_reject() {
  local want=$1 err
  shift
  if err=$(helm template sextant "$CHART" "$@" 2>&1 >/dev/null); then
    fail "helm template $* was accepted; values.schema.json should reject it"
  fi
  [[ $err == *"$want"* ]] || fail "helm template $*: the error does not say \"$want\":
$err"
  ok "rejected $*: $(grep -F "$want" <<<"$err" | head -n1 | sed 's/^[- ]*//')"
}
expect_reject "at '/logFormat': value must be one of 'text', 'json'" --set logFormat=yaml
expect_reject "additional properties 'replicas' not allowed" --set replicas=2
expect_reject "at '/watchNamespaces/0'" --set 'watchNamespaces={Team_A}'
expect_reject "at '/replicaCount'" --set replicaCount=-1
