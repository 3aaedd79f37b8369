#!/usr/bin/env bash
# `make bench`: sextant's benchmarks (issue 7), start to finish.
#
#  1. builds the release sextant, the simulated kubelet and the criterion bench;
#  2. runs the criterion benches (benches/render.rs) while no cluster runs;
#  3. starts the local control plane if it is not running (e2e/cluster.sh; state in
#     $SEXTANT_E2E_DIR, default /tmp/sextant-bench-e2e so an e2e cluster is never
#     disturbed), runs bench/bench.py against it, and stops it again if it started it;
#  4. renders BENCHMARKS.md and bench/benchmarks.png from bench/results.json
#     (bench/report.py, matplotlib from a venv under ~/.cache/sextant/bench-venv).
#
# Logs and raw data of the last run: ${SEXTANT_BENCH_WORK:-~/.cache/sextant/bench}.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
T0=$(date +%s)
SEXTANT_CACHE=${SEXTANT_CACHE:-$HOME/.cache/sextant}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$SEXTANT_CACHE/target}
export SEXTANT_E2E_DIR=${SEXTANT_E2E_DIR:-${TMPDIR:-/tmp}/sextant-bench-e2e}
WORK=${SEXTANT_BENCH_WORK:-$SEXTANT_CACHE/bench}
VENV=${SEXTANT_BENCH_VENV:-$SEXTANT_CACHE/bench-venv}
BUDGET=${SEXTANT_BENCH_BUDGET:-1680}
PY=${PYTHON:-python3}

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

rm -rf "$WORK"
mkdir -p "$WORK/logs"
scripts/tools.sh install >&2
eval "$(scripts/tools.sh env)"

say "building (release sextant, sim-kubelet, criterion bench)"
cargo build --release -p sextant --bin sextant
cargo build -p sextant-e2e --bin sim-kubelet
cargo bench --bench render --no-run
SEXTANT_BIN=$CARGO_TARGET_DIR/release/sextant
T_BUILD=$(($(date +%s) - T0))

# matplotlib for the chart, installed once into a venv (idempotent)
if ! "$VENV/bin/python" -c 'import matplotlib' >/dev/null 2>&1; then
  say "installing matplotlib into $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'matplotlib>=3.8,<4'
fi

say "criterion: validate + build + render per stack (benches/render.rs)"
T1=$(date +%s)
CRITERION_HOME="$WORK/criterion" SEXTANT_BENCH_RENDER_OUT="$WORK/render-percentiles.json" \
  cargo bench --bench render 2>&1 | tee "$WORK/logs/criterion.log" >&2
T_CRITERION=$(($(date +%s) - T1))

started=0
if [[ ${SEXTANT_E2E_CLUSTER:-local} != external ]] && ! e2e/cluster.sh status >/dev/null 2>&1; then
  started=1
fi
cleanup() {
  if [[ $started == 1 ]]; then
    say "stopping the control plane this run started"
    e2e/cluster.sh down >&2 || true
  fi
}
trap cleanup EXIT
T1=$(date +%s)
KUBECONFIG_PATH=$(e2e/cluster.sh up | tail -n 1)
T_CLUSTER=$(($(date +%s) - T1))
AUDIT=""
STATE_DIR=""
if [[ ${SEXTANT_E2E_CLUSTER:-local} != external ]]; then
  AUDIT="$SEXTANT_E2E_DIR/logs/audit.log"
  STATE_DIR="$SEXTANT_E2E_DIR"
fi

ELAPSED=$(($(date +%s) - T0))
# leave a minute for the report and stopping the control plane
DEADLINE=$((BUDGET - ELAPSED - 60))
((DEADLINE > 300)) || DEADLINE=300
say "cluster benchmarks against $KUBECONFIG_PATH (time left for them: ${DEADLINE}s)"
"$PY" bench/bench.py \
  --kubeconfig "$KUBECONFIG_PATH" \
  --sextant "$SEXTANT_BIN" \
  --audit-log "$AUDIT" \
  --out "$WORK/cluster.json" \
  --logdir "$WORK/logs" \
  --sizes "${SEXTANT_BENCH_SIZES:-1,10,100}" \
  --reps "${SEXTANT_BENCH_REPS:-3,3,3}" \
  --memory-sizes "${SEXTANT_BENCH_MEMORY_SIZES:-1000}" \
  --state-dir "$STATE_DIR" \
  --window "${SEXTANT_BENCH_WINDOW:-60}" \
  --deadline "$DEADLINE"

cleanup
trap - EXIT
started=0

T_TOTAL=$(($(date +%s) - T0))
say "writing BENCHMARKS.md and bench/benchmarks.png"
"$VENV/bin/python" bench/report.py \
  --cluster "$WORK/cluster.json" \
  --render "$WORK/render-percentiles.json" \
  --criterion "$WORK/criterion" \
  --sextant "$SEXTANT_BIN" \
  --timing "build=$T_BUILD,criterion=$T_CRITERION,cluster_up=$T_CLUSTER,total=$T_TOTAL" \
  --results bench/results.json \
  --chart bench/benchmarks.png \
  --markdown BENCHMARKS.md
say "make bench done in $(($(date +%s) - T0)) s"
