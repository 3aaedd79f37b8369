# Benchmarks (issue 7). Included from the top-level Makefile.
#
#   make bench          bench/run.sh: criterion render benches, then convergence, steady-state
#                       writes, resync, memory and reconcile latency on the local control
#                       plane (started if needed, stopped if it started it), side by side
#                       with `kubectl apply --server-side`; writes BENCHMARKS.md,
#                       bench/results.json and bench/benchmarks.png (about 25 minutes)
#   make bench-render   only the criterion benches (benches/render.rs), no cluster
#
# Knobs (environment): SEXTANT_BENCH_SIZES (default 1,10,100), SEXTANT_BENCH_REPS
# (default 3,3,3), SEXTANT_BENCH_MEMORY_SIZES (default 1000; N = 100 comes from the convergence runs), SEXTANT_BENCH_WINDOW
# (steady-state window, default 60 s), SEXTANT_BENCH_BUDGET (seconds for the whole run,
# default 1680), SEXTANT_E2E_DIR (control plane state; default /tmp/sextant-bench-e2e),
# SEXTANT_E2E_CLUSTER=external (use KUBECONFIG's cluster; no audit-log attribution).

.PHONY: bench bench-render

bench:
	bench/run.sh

bench-render:
	cargo bench --bench render
