#!/usr/bin/env bash
# Runs the end-to-end tests.
#
# Local (default): builds the simulated kubelet and sextant, starts the local control
# plane if it is not already running, runs the tests, and stops the control plane
# again if this script started it (so `make test` leaves no process behind).
# SEXTANT_E2E_CLUSTER=external: runs against the cluster KUBECONFIG points at.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sextant/target}"

cargo build -p sextant-e2e --bin sim-kubelet -p sextant --bin sextant
# The previous release, for tests/upgrade.rs (built from git history once per release).
scripts/previous-release.sh >/dev/null

started=0
if [[ "${SEXTANT_E2E_CLUSTER:-local}" != external ]]; then
  if ! e2e/cluster.sh status >/dev/null 2>&1; then
    started=1
  fi
  trap '[[ $started == 1 ]] && e2e/cluster.sh down' EXIT
  t0=$(date +%s)
  kubeconfig=$(e2e/cluster.sh up | tail -n 1)
  echo "e2e: control plane ready in $(( $(date +%s) - t0 ))s, kubeconfig $kubeconfig"
  export SEXTANT_E2E_KUBECONFIG="$kubeconfig"
fi

report="${SEXTANT_E2E_DIR:-.e2e}/logs/upgrade-report.txt"
rm -f "$report"
status=0
cargo test --no-fail-fast -p sextant-e2e -- --test-threads="${SEXTANT_E2E_THREADS:-4}" || status=$?
# What the upgrade from the previous release wrote and rolled (docs/releasing.md).
if [[ -f "$report" ]]; then
  echo "=== e2e/tests/upgrade.rs report ==="
  cat "$report"
fi
exit "$status"
