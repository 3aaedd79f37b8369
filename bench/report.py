#!/usr/bin/env python3
"""Renders BENCHMARKS.md and bench/benchmarks.png from one `make bench` run.

Inputs: bench/bench.py's JSON (cluster runs), benches/render.rs' percentile JSON and
criterion's estimates. Also writes the merged raw data to bench/results.json, so the
tables can be re-rendered (`python bench/report.py --from-results bench/results.json`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
from pathlib import Path

from bench import quantile  # bench/bench.py: the same interpolation as the run used

ROOT = Path(__file__).resolve().parent.parent
MIB = 1048576

TARGETS = {
    "requests": "API requests per converged stack at most 1.2 × (children + 2)",
    "steady": "zero writes at steady state",
    "children": "every child exists in at most 0.5 × the kubectl baseline's time (N = 100)",
    "convergence": "time to Ready at N = 100 no slower than the kubectl baseline",
    "memory": "at most 64 MiB resident at 1,000 full stacks",
    "render": "render p99 under 1 ms per stack",
}


def sh(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(sextant: str) -> dict:
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1048576:.1f} GiB"
    except OSError:
        pass
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    commit = sh("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    dirty = sh("git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no")
    return {
        "nproc": sh("nproc"),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "os": sh("sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else [],
        "sextant": sh(sextant, "--version"),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "rustc": sh("rustc", "--version"),
        "kubectl": sh("sh", "-c", "kubectl version --client -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"clientVersion\"][\"gitVersion\"])'"),
        "python": platform.python_version(),
    }


def criterion_estimates(home: Path) -> dict:
    out: dict = {}
    if not home.is_dir():
        return out
    for est in home.glob("*/*/new/estimates.json"):
        group, bench = est.parts[-4], est.parts[-3]
        d = json.loads(est.read_text())
        out.setdefault(group, {})[bench] = {
            "median_ns": d["median"]["point_estimate"],
            "mean_ns": d["mean"]["point_estimate"],
            "mean_lo_ns": d["mean"]["confidence_interval"]["lower_bound"],
            "mean_hi_ns": d["mean"]["confidence_interval"]["upper_bound"],
        }
    return out


# ----------------------------------------------------------------- helpers


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def f1(x, unit=""):
    return "–" if x is None else f"{x:.1f}{unit}"


def f2(x, unit=""):
    return "–" if x is None else f"{x:.2f}{unit}"


def mib(x):
    return "–" if not x else f"{x / MIB:.1f}"


def us(ns):
    return "–" if ns is None else (f"{ns / 1000:.0f} µs" if ns >= 10_000 else f"{ns / 1000:.1f} µs")


def spread(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "–"
    if len(xs) == 1:
        return f"{xs[0]:.1f}"
    return f"{statistics.median(xs):.1f} ({min(xs):.1f}–{max(xs):.1f})"


def sizes(runs):
    return sorted({r["n"] for r in runs})


def merged_buckets(runs, step: str | None = None):
    acc: dict = {}
    for r in runs:
        buckets = r.get("reconcile_buckets") if step is None else (r.get("step_buckets") or {}).get(step)
        for le, c in buckets or []:
            acc[le] = acc.get(le, 0) + c
    return sorted(acc.items())


def requests_of(audit: dict) -> int:
    """Every request in an audit count but watches (a watch is one long request)."""
    return int(sum(v for k, v in (audit or {}).items() if " " not in k and k != "watch"))


def verbs(d: dict) -> str:
    d = {k: v for k, v in (d or {}).items() if " " not in k and v}
    return ", ".join(f"{k} {v:.0f}" for k, v in sorted(d.items())) or "0"


def writes_of(audit: dict) -> int:
    return int(sum(v for k, v in (audit or {}).items() if " " not in k and k in ("create", "update", "patch", "delete", "deletecollection")))


MANAGED_RESOURCES = (
    "serviceaccounts", "roles", "rolebindings", "configmaps", "secrets", "services",
    "deployments", "statefulsets", "horizontalpodautoscalers", "poddisruptionbudgets",
    "observabilitystacks", "observabilitystacks/status",
)


def managed_writes(apiserver: dict) -> int:
    """Writes on the kinds sextant writes (not their status, which controllers write)."""
    n = 0
    for k, v in (apiserver or {}).items():
        if " " in k and k.split(" ", 1)[1] in MANAGED_RESOURCES:
            n += v
    return int(n)


def total_writes(apiserver: dict) -> int:
    return int(sum(v for k, v in (apiserver or {}).items() if " " not in k))


# ----------------------------------------------------------------- chart


def chart(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conv = [r for r in res["cluster"]["convergence"]]
    base = res["cluster"]["baseline"]
    mem = res["cluster"]["memory"]
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    fig.suptitle(f"sextant benchmarks ({res['machine']['nproc']} cores, Kubernetes {res['cluster']['server_version'].get('gitVersion', '')}, simulated kubelet)")

    def line(ax, runs, key, label, style):
        ns = sizes(runs)
        ys = [med([r.get(key) for r in runs if r["n"] == n]) for n in ns]
        lo = [min([r.get(key) for r in runs if r["n"] == n and r.get(key) is not None] or [0]) for n in ns]
        hi = [max([r.get(key) for r in runs if r["n"] == n and r.get(key) is not None] or [0]) for n in ns]
        pts = [(n, y, l, h) for n, y, l, h in zip(ns, ys, lo, hi) if y is not None]
        if pts:
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts],
                        yerr=[[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]],
                        fmt=style, capsize=3, label=label)

    ax = axes[0][0]
    line(ax, conv, "t_ready", "sextant: every stack Ready", "o-")
    line(ax, conv, "t_children", "sextant: every child exists", "o--")
    line(ax, base, "t_ready", "kubectl apply --server-side: workloads ready", "s-")
    line(ax, base, "t_objects", "kubectl apply --server-side: objects exist", "s--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("stacks created at once (N)")
    ax.set_ylabel("seconds (median, min–max)")
    ax.set_title("1. Convergence")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)

    ax = axes[0][1]
    ns = sizes(conv)
    for verb, style in (("list", "o-"), ("get", "^-"), ("patch", "s-"), ("create", "d-")):
        ys = []
        for n in ns:
            runs = [r for r in conv if r["n"] == n and r.get("audit_convergence")]
            ys.append(med([(r["audit_convergence"].get(verb, 0)) / n for r in runs]))
        if any(y for y in ys if y):
            ax.plot(ns, [y or 0 for y in ys], style, label=f"convergence: {verb} requests / stack")
    rs = [(r["n"], writes_of(r["resync"].get("audit")) / r["n"]) for r in conv if r.get("resync")]
    if rs:
        ax.plot([x for x, _ in rs], [y for _, y in rs], "x:", label="resync: writes / stack")
    ax.set_xscale("log")
    ax.set_xlabel("N")
    ax.set_ylabel("requests per stack (operator's own, audit log)")
    ax.set_title("2. API requests by the operator")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)

    ax = axes[1][0]
    for profile, style in (("full", "o-"), ("loki-only", "s-")):
        runs = [r for r in conv + mem if r["profile"] == profile]
        ns = sizes(runs)
        if not ns:
            continue
        hwm = [med([r.get("hwm_converged") for r in runs if r["n"] == n]) for n in ns]
        steady = [med([r.get("rss_steady") for r in runs if r["n"] == n]) for n in ns]
        restart = [med([(r.get("resync") or {}).get("hwm") for r in runs if r["n"] == n]) for n in ns]
        ax.plot(ns, [x / MIB if x else None for x in hwm], style, label=f"{profile}: peak while converging (VmHWM)")
        ax.plot(ns, [x / MIB if x else None for x in steady], style.replace("-", "--"), label=f"{profile}: steady (VmRSS)")
        if any(restart):
            ax.plot(ns, [x / MIB if x else None for x in restart], style.replace("-", ":"), label=f"{profile}: peak after restart (VmHWM)")
    ax.axhline(64, color="red", lw=0.8, ls=":", label="64 MiB target (N = 1,000)")
    ax.set_xscale("log")
    ax.set_xlabel("N")
    ax.set_ylabel("MiB")
    ax.set_title("3. Operator resident memory")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)

    ax = axes[1][1]
    runs = conv + mem
    ns = sizes(runs)
    p50 = [quantile(0.5, merged_buckets([r for r in runs if r["n"] == n])) for n in ns]
    p99 = [quantile(0.99, merged_buckets([r for r in runs if r["n"] == n])) for n in ns]
    ax.plot(ns, [x * 1000 if x is not None else None for x in p50], "o-", label="reconcile p50 (histogram)")
    ax.plot(ns, [x * 1000 if x is not None else None for x in p99], "o--", label="reconcile p99 (histogram)")
    rp = res.get("render", {}).get("samples", [])
    if rp:
        p99r = max(s["render"]["p99_us"] for s in rp) / 1000
        ax.axhline(p99r, color="green", ls=":", label=f"validate+build+render p99 (no API calls): {p99r:.2f} ms")
        ax.axhline(1.0, color="red", lw=0.8, ls=":", label="1 ms render target")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N")
    ax.set_ylabel("milliseconds")
    ax.set_title("4. Reconcile latency" + (" (N = 1,000: Loki-only stacks)" if mem else ""))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# ----------------------------------------------------------------- markdown


def markdown(res: dict, chart_rel: str) -> str:
    m = res["machine"]
    c = res["cluster"]
    conv, base, memr = c["convergence"], c["baseline"], c["memory"]
    t = res.get("timing", {})
    out: list[str] = []
    w = out.append
    w("# sextant benchmarks")
    w("")
    w(f"Generated by `make bench` (bench/run.sh) on {c['started']} at commit {m['commit']}. "
      f"The run took **{int(t.get('total', 0)) // 60} min {int(t.get('total', 0)) % 60} s** in all "
      f"(build {t.get('build', '?')} s with warm caches, criterion {t.get('criterion', '?')} s, "
      f"control plane start {t.get('cluster_up', '?')} s, cluster benchmarks {c.get('elapsed_s', 0):.0f} s). "
      "These are benchmarks, not pass/fail tests: the machine is small and shared, so each figure is the median of "
      "the repetitions (with the range in brackets) and each ratio is taken between runs of the same repetition.")
    w("")
    w(f"![sextant benchmark curves]({chart_rel})")
    w("")

    # ---- targets
    n100 = [r for r in conv if r["n"] == 100]
    b100 = [r for r in base if r["n"] == 100]
    ratios100 = ratio_list(n100, b100, "t_ready", "t_ready")
    r100 = med(ratios100)
    steady_writes = [writes_of(r["steady"].get("audit")) if r["steady"].get("audit") is not None else r["steady"]["op_writes"]
                     for r in conv if r.get("steady")]
    mem1000 = [r for r in memr if r["n"] == 1000]
    rss1000 = max([r.get("hwm_final") or r.get("hwm_converged") or 0 for r in mem1000] or [0])
    steady1000 = med([r.get("rss_steady") for r in mem1000])
    rss1000 = max([r.get("hwm_converged") or 0 for r in mem1000] or [0])
    rp = res.get("render", {}).get("samples", [])
    p99 = max([s["render"]["p99_us"] for s in rp] or [0])
    w("## Targets")
    w("")
    w("| target | measured | met? |")
    w("|---|---|---|")
    for n in sizes(conv):
        cs = [r for r in conv if r["n"] == n and r.get("audit_convergence")]
        if not cs:
            continue
        per = med([requests_of(r["audit_convergence"]) / n for r in cs])
        kids = cs[0]["children_expected"] / n
        floor = kids + 2
        verdict = "**met**" if per <= 1.2 * floor else "**not met**"
        w(f"| {TARGETS['requests']} (N = {n}) | {per:.1f} requests per stack (watches aside) against {kids:.0f} children + 2 = "
          f"{floor:.0f}: **{per / floor:.2f} ×** the floor | {verdict} |")
    steady_list = ", ".join(
        "N={}: {:.0f}".format(r["n"], writes_of(r["steady"].get("audit")) if r["steady"].get("audit") is not None else r["steady"]["op_writes"])
        for r in conv if r.get("steady"))
    met = "**met**" if steady_writes and all(x == 0 for x in steady_writes) else "**not met**"
    w(f"| {TARGETS['steady']} | operator writes in the {c['window_s']:.0f} s window after convergence: {steady_list} | {met} |")
    if r100 is None:
        w(f"| {TARGETS['convergence']} | not measured | – |")
    else:
        verdict = "**met**" if r100 <= 1 else "**not met**"
        rc = ratio_list(n100, b100, "t_children", "t_objects")
        rcm = med(rc)
        if rcm is not None:
            w(f"| {TARGETS['children']} | sextant / kubectl time until every object exists: **{f2(rcm)}** "
              f"(per repetition {', '.join('%.2f' % x for x in rc)}) | {'**met**' if rcm <= 0.5 else '**not met**'} |")
        w(f"| {TARGETS['convergence']} | sextant / kubectl time to Ready at N = 100: **{r100:.2f}** "
          f"(per repetition {', '.join('%.2f' % x for x in ratios100)}). Both sides reach Ready when the "
          f"cluster's pod pipeline does (finding 1) | {verdict} |")
    full = [r for r in conv if r["profile"] == "full" and r.get("rss_steady")]
    fsizes = sorted({r["n"] for r in full})
    if len(fsizes) >= 2 and not any(r["profile"] == "full" for r in mem1000):
        lo, hi = fsizes[-2], fsizes[-1]
        s_lo = med([r["rss_steady"] for r in full if r["n"] == lo])
        s_hi = med([r["rss_steady"] for r in full if r["n"] == hi])
        slope = (s_hi - s_lo) / (hi - lo)
        est = s_hi + (1000 - hi) * slope
        w(f"| {TARGETS['memory']} | not measured (1,000 full stacks do not fit the time budget); extrapolated on paper "
          f"from the steady RSS of full stacks at N = {lo} and {hi} ({mib(s_lo)} and {mib(s_hi)} MiB, "
          f"{slope / 1024:.0f} KiB per stack): **{mib(est)} MiB** at N = 1,000 | "
          f"{'met on paper' if est <= 64 * MIB else '**not met** on paper'} |")
    if mem1000:
        prof = mem1000[0]["profile"]
        restart = max([(r.get("resync") or {}).get("hwm") or 0 for r in conv if r["profile"] == "full"] or [0])
        caveat = ""
        if prof != "full" and restart > 64 * MIB:
            caveat = (f"; with every component enabled a restarted operator already peaks at {mib(restart)} MiB "
                      "at N = 100 (finding 3)")
        w(f"| {TARGETS['memory']} | N = 1,000 ({prof} stacks): peak {mib(rss1000)} MiB, steady {mib(steady1000)} MiB"
          f"{' (timed out before convergence)' if any(r.get('timed_out') for r in mem1000) else ''}{caveat} "
          f"| {'**met**' if rss1000 and rss1000 <= 64 * MIB else '**not met**'} for {prof} stacks"
          f"{'; **not met** for full stacks after a restart' if caveat else ''} |")
    else:
        w(f"| {TARGETS['memory']} | not measured (time budget) | – |")
    per_sample = ", ".join("%s %.2f" % (s["sample"], s["render"]["p99_us"] / 1000) for s in rp)
    hashed = max([s["pipeline"]["p99_us"] for s in rp] or [0]) / 1000
    met = "**met**" if rp and p99 < 1000 else "**not met**"
    w(f"| {TARGETS['render']} | validate + build + render to JSON, worst sample p99 {p99 / 1000:.2f} ms "
      f"({per_sample}); with the applied-hash of every child {hashed:.2f} ms | {met} |")
    w("")

    # ---- convergence
    w("## 1. Convergence")
    w("")
    w("N stacks like `config/samples/minimal.yaml` (every component, every field defaulted; 10 stacks per "
      "namespace) created at once with one `kubectl create`; the clock starts before that command. "
      "*Children* = every object sextant would create exists; *Ready* = every stack has `Ready=True` "
      "(sextant) or every Deployment and StatefulSet is available (baseline). The baseline applies the "
      "same objects — `sextant render` of each stack, adapted to Kubernetes 1.20 exactly as the operator "
      "adapts them — with one `kubectl apply --server-side` of all of them; its clock starts before that command.")
    w("")
    w("| N | objects | sextant: children (s) | sextant: Ready (s) | kubectl: objects (s) | kubectl: ready (s) | ratio Ready sextant/kubectl | ratio children | reps |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes(conv):
        cs = [r for r in conv if r["n"] == n]
        bs = [r for r in base if r["n"] == n]
        rr = ratio_list(cs, bs, "t_ready", "t_ready")
        rc = ratio_list(cs, bs, "t_children", "t_objects")
        w(f"| {n} | {cs[0]['children_expected']} | {spread([r.get('t_children') for r in cs])} | {spread([r.get('t_ready') for r in cs])} "
          f"| {spread([r.get('t_objects') for r in bs])} | {spread([r.get('t_ready') for r in bs])} "
          f"| **{f2(med(rr))}** | {f2(med(rc))} | {len(cs)} |")
    w("")
    w("Work the operator did to converge (medians over the repetitions; requests are the operator's own, "
      "counted in kube-apiserver's audit log, since it runs with its own ServiceAccount):")
    w("")
    w("| N | reconciles | reconciles / stack | requests / stack: list | get | patch (apply) | create | writes (sextant_api_writes_total) | `kubectl create` of the N stacks took (s) |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes(conv):
        cs = [r for r in conv if r["n"] == n]
        a = lambda verb: med([(r.get("audit_convergence") or {}).get(verb, 0) / n for r in cs])
        w(f"| {n} | {med([r['reconciles'] for r in cs]):.0f} | {med([r['reconciles'] / n for r in cs]):.1f} | {f1(a('list'))} | {f1(a('get'))} "
          f"| {f1(a('patch'))} | {f1(a('create'))} | {med([r['op_writes'] for r in cs]):.0f} | {spread([r.get('t_created') for r in cs])} |")
    w("")
    w("What converging cost the control plane, sextant run against kubectl run of the same repetition "
      "(medians): CPU seconds of each process from `/proc/PID/stat` over the time to Ready, and every API "
      "request from any client (kube-apiserver's `apiserver_request_duration_seconds_count`, WATCH excluded):")
    w("")
    w("| N | side | kube-apiserver CPU (s) | etcd CPU (s) | controller-manager CPU (s) | sim-kubelet CPU (s) | operator / kubectl CPU (s) | API requests | of which LIST | of which GET |")
    w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes(conv):
        for side, runs, me in (("sextant", [r for r in conv if r["n"] == n], "sextant"), ("kubectl", [r for r in base if r["n"] == n], "kubectl")):
            runs = [r for r in runs if r.get("cost")]
            if not runs:
                continue
            cpu = lambda k: f1(med([r["cost"]["cpu_s"].get(k) for r in runs]))
            reqs = lambda pred: med([sum(v for k, v in r["cost"]["requests"].items() if pred(k)) for r in runs])
            w(f"| {n} | {side} | {cpu('kube-apiserver')} | {cpu('etcd')} | {cpu('kube-controller-manager')} | {cpu('sim-kubelet')} | {cpu(me)} "
              f"| {reqs(lambda k: True):.0f} | {reqs(lambda k: k.startswith('LIST ')):.0f} | {reqs(lambda k: k.startswith('GET ')):.0f} |")
    w("")
    if any(r.get("timed_out") for r in conv + base):
        w("Runs that did not converge within their time limit: " + ", ".join(
            f"{'sextant' if r in conv else 'kubectl'} N={r['n']} rep {r['rep'] + 1}" for r in conv + base if r.get("timed_out")) + ".")
        w("")

    # ---- steady state
    w("## 2. Steady state and forced resync")
    w("")
    w(f"After the first repetition of each N converged, {c['window_s']:.0f} s of doing nothing (5 s after the last "
      "stack turned Ready). *All clients* is kube-apiserver's `apiserver_request_total` for write verbs, from "
      "every client: the simulated kubelet renews its Node status and Lease every 10 s and "
      "kube-controller-manager writes too, so it is never zero; *operator* is what the audit log attributes to "
      "the operator's ServiceAccount and what `sextant_api_writes_total` counts.")
    w("")
    w("| N | window (s) | all clients: write requests by verb | of which on kinds sextant writes | operator (audit): writes | operator: sextant_api_writes_total | operator reconciles in the window |")
    w("|---:|---:|---|---:|---:|---:|---:|")
    for r in conv:
        if not r.get("steady"):
            continue
        s = r["steady"]
        w(f"| {r['n']} | {s['window_s']:.0f} | {verbs(s['apiserver_writes'])} | {managed_writes(s['apiserver_writes'])} "
          f"| {writes_of(s.get('audit')) if s.get('audit') is not None else '–'} | {s['op_writes']:.0f} | {s['op_reconciles']:.0f} |")
    w("")
    w("Forced resync: the operator process is stopped (SIGTERM) and a new one started; counted until "
      "`sextant_reconciles_total` ≥ N with every stack known and no write for 3 s.")
    w("")
    w("| N | time to reconcile every stack (s) | reconciles | all clients: write requests by verb | operator (audit): requests by verb | operator: sextant_api_writes_total | reconcile p50 / p99 (ms) |")
    w("|---:|---:|---:|---|---|---:|---:|")
    for r in conv:
        if not r.get("resync"):
            continue
        s = r["resync"]
        w(f"| {r['n']} | {f1(s['t_reconciled_all'])} | {s['reconciles']:.0f} | {verbs(s['apiserver_writes'])} | {verbs(s.get('audit'))} "
          f"| {s['op_writes']:.0f} | {ms(s.get('reconcile_p50'))} / {ms(s.get('reconcile_p99'))} |")
    w("")

    # ---- memory
    w("## 3. Memory")
    w("")
    w("Resident memory of the operator process from `/proc/PID/status`: *idle* before any stack exists, "
      "*converged* when every stack is Ready, *steady* the median over the following window, *peak* its "
      "VmHWM, and *peak after restart* the VmHWM of the fresh process of the forced resync, which starts by "
      "listing everything it watches. Bytes per stack = (steady − idle) / N. `full` stacks are the first "
      "convergence run of each N; `loki-only` stacks (Loki enabled, every other component disabled: "
      "ServiceAccount, ConfigMap, Service and StatefulSet, one pod each) are the memory run at N = 1,000, "
      "time-boxed to what is left of the budget and then held for a short settle window (*steady* is the "
      "median RSS over that window).")
    w("")
    w("| profile | N | idle (MiB) | converged (MiB) | steady (MiB) | peak (MiB) | peak after restart (MiB) | bytes / stack (steady) | converged in (s) |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for r in conv:
        if r["rep"] == 0:
            rows.append(r)
    rows += memr
    for r in rows:
        steady = r.get("rss_steady")
        per = (steady - r["rss_idle"]) / r["n"] if steady and r.get("rss_idle") else None
        w(f"| {r['profile']} | {r['n']} | {mib(r.get('rss_idle'))} | {mib(r.get('rss_converged'))} | {mib(steady)} "
          f"| {mib(r.get('hwm_converged'))} | {mib((r.get('resync') or {}).get('hwm'))} | {'–' if per is None else '%.0f KiB' % (per / 1024)} "
          f"| {converged_text(r)} |")
    w("")

    # ---- reconcile cost
    full = sorted((r for r in rows if r["profile"] == "full" and r.get("rss_steady")), key=lambda r: r["n"])
    if len(full) >= 2:
        a, b = full[-2], full[-1]
        slope = (b["rss_steady"] - a["rss_steady"]) / (b["n"] - a["n"])
        w(f"Bytes per stack at small N are dominated by what the first reconciles cost once (client, TLS and "
          f"response buffers the allocator keeps). Between N = {a['n']} and N = {b['n']} full stacks the steady RSS "
          f"grows by {slope / 1024:.0f} KiB per stack.")
        w("")
    w("## 4. Reconcile cost")
    w("")
    w("Criterion (`cargo bench --bench render`, benches/render.rs), per stack: the median of the criterion "
      "samples for each step. *render* = validate + build + every child as the JSON that is sent (what "
      "`sextant render -o json` computes); *+ hash* adds what every reconcile also computes before it talks "
      "to the API server: each child serialized again and hashed (SHA-256) for the applied-hash check. "
      "*render_yaml* is the YAML `sextant render` prints.")
    w("")
    crit = res.get("criterion", {})
    w("| sample | children | YAML bytes | validate | build | to_json | render_yaml | render (median) | render + hash (median) |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in rp:
        g = crit.get(s["sample"], {})
        e = lambda b: us(g.get(b, {}).get("median_ns"))
        w(f"| {s['sample']} | {s['children']} | {s['yaml_bytes']:,} | {e('validate')} | {e('build')} | {e('to_json')} | {e('render_yaml')} "
          f"| {e('render')} | {e('pipeline')} |")
    w("")
    w(f"Tails, over {rp[0]['iterations'] if rp else '?'} individually timed iterations each (run after the criterion "
      "groups; criterion reports means and medians, not tails):")
    w("")
    w("| sample | render p50 | render p99 | render max | render + hash p50 | render + hash p99 | render + hash max |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    for s in rp:
        r, q = s["render"], s["pipeline"]
        w(f"| {s['sample']} | {r['p50_us']:.0f} µs | **{r['p99_us']:.0f} µs** | {r['max_us']:.0f} µs | {q['p50_us']:.0f} µs | {q['p99_us']:.0f} µs | {q['max_us']:.0f} µs |")
    w("")
    w("Reconcile latency from the operator's own `sextant_reconcile_duration_seconds` histogram (buckets "
      "from 0.1 ms to 30 s, 17 in all; quantiles interpolated inside a bucket as "
      "`histogram_quantile` does), all reconciles of the convergence runs of each N "
      "(repetitions merged):")
    w("")
    w("| profile | N | reconciles | p50 (ms) | p99 (ms) |")
    w("|---|---:|---:|---:|---:|")
    for prof, runs in (("full", conv), (memr[0]["profile"] if memr else "", memr)):
        for n in sizes(runs):
            rs = [r for r in runs if r["n"] == n]
            b = merged_buckets(rs)
            w(f"| {prof} | {n} | {b[-1][1]:.0f} | {ms(quantile(0.5, b))} | {ms(quantile(0.99, b))} |" if b else f"| {prof} | {n} | 0 | – | – |")
    w("")
    steps = sorted({k for r in conv for k in (r.get("step_buckets") or {})})
    if steps:
        w("By step, from `sextant_reconcile_step_duration_seconds` (same buckets), full stacks, convergence runs: "
          "*dereference* reads what the spec references, *apply* is server-side apply and pruning against the "
          "cached children, *status* observes, computes and writes the status. p50 / p99 in ms:")
        w("")
        w("| N | " + " | ".join(steps) + " |")
        w("|---:|" + "---:|" * len(steps))
        for n in sizes(conv):
            rs = [r for r in conv if r["n"] == n]
            cells = []
            for st in steps:
                b = merged_buckets(rs, st)
                cells.append(f"{ms(quantile(0.5, b))} / {ms(quantile(0.99, b))}" if b and b[-1][1] else "–")
            w(f"| {n} | " + " | ".join(cells) + " |")
        w("")

    # ---- growth
    w("## 5. Growth")
    w("")
    w("The chart above plots every figure against N. Per stack, at each N (medians):")
    w("")
    w("| N | sextant Ready: s / stack | kubectl ready: s / stack | operator requests / stack (all verbs) | reconciles / stack | operator steady RSS (MiB) |")
    w("|---:|---:|---:|---:|---:|---:|")
    for n in sizes(conv):
        cs = [r for r in conv if r["n"] == n]
        bs = [r for r in base if r["n"] == n]
        req = med([sum(v for k, v in (r.get("audit_convergence") or {}).items() if " " not in k and k != "watch") / n for r in cs])
        w(f"| {n} | {f2(med([r.get('t_ready') for r in cs]) / n if med([r.get('t_ready') for r in cs]) else None)} "
          f"| {f2(med([r.get('t_ready') for r in bs]) / n if med([r.get('t_ready') for r in bs]) else None)} "
          f"| {f1(req)} | {med([r['reconciles'] / n for r in cs]):.1f} "
          f"| {mib(med([r.get('rss_steady') or r.get('rss_final') for r in cs]))} |")
    w("")
    if c.get("skipped"):
        w("Skipped to stay within the time budget: " + "; ".join(c["skipped"]) + ".")
        w("")

    # ---- findings
    findings = ROOT / "bench" / "findings.md"
    if findings.exists():
        w(findings.read_text().rstrip())
        w("")

    # ---- method and machine
    w("## Method")
    w("")
    w("- **Cluster**: the local control plane of `e2e/cluster.sh` (etcd 3.4, kube-apiserver and "
      "kube-controller-manager 1.20.2 built from Debian's source package, the simulated kubelet that binds "
      "pods and reports them Ready after 500 ms; no container runs, PVCs stay Pending). Kubernetes 1.20 serves "
      "neither `autoscaling/v2` nor `policy/v1`, so neither side creates the HPA or the PodDisruptionBudget "
      "and the collector runs at `minReplicas` (2). A fresh control plane is started for the run unless one "
      "runs already in `$SEXTANT_E2E_DIR`.")
    w("- **Operator**: the release binary, `sextant run --metrics-addr 127.0.0.1:PORT` (all namespaces, "
      "default concurrency 8, log level info), a fresh process for every run, authenticated with the token "
      "of its own ServiceAccount (bound to cluster-admin) so that the audit log (Metadata level for "
      "ServiceAccounts outside kube-system) attributes every request it makes.")
    w("- **Observation**: one keep-alive HTTPS connection polls every 0.5 s: a metadata-only list "
      "(`PartialObjectMetadataList`) per child kind with `app.kubernetes.io/managed-by=sextant`, and the "
      "ObservabilityStacks (sextant) or Deployments and StatefulSets (baseline). `/proc/PID/status` is sampled "
      "at each poll.")
    w("- **Between runs** every benchmark namespace is deleted and the next run starts only when they are gone.")
    w("- **Order**: within a repetition the two sides run one after the other, sextant first in the 1st and "
      "3rd repetition and kubectl first in the 2nd, so that neither always meets a warmer API server.")
    w("- **Budget**: `make bench` aims at 28 minutes; what would not fit is skipped and listed above.")
    w("- **Reproduce**: `make bench` (knobs in `mk/bench.mk`); raw data in `bench/results.json`, logs of the "
      "last run in `~/.cache/sextant/bench/logs/`.")
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    w(f"| cores (`nproc`) | {m['nproc']} ({m['cpu']}) |")
    w(f"| memory | {m['memory']} |")
    w(f"| kernel | {m['kernel']} ({m['os']}) |")
    w(f"| load average at the end | {' '.join(m['loadavg'])} (the machine is shared with other work) |")
    w(f"| sextant | {m['sextant']}, commit {m['commit']}, release build |")
    w(f"| rustc | {m['rustc']} |")
    w(f"| Kubernetes | {c['server_version'].get('gitVersion')} ({c['server_version'].get('goVersion')}), kubectl {m['kubectl']} |")
    w(f"| Python (harness) | {m['python']} |")
    w("")
    return "\n".join(out)


def converged_text(r) -> str:
    if not r.get("timed_out"):
        return f1(r.get("t_ready"))
    return (f"not within {r.get('timeout_s', '?')} s: {r.get('children_at_end', '?')}/{r['children_expected']} children, "
            f"{r.get('ready_at_end', '?')}/{r['n']} Ready")


def ms(x):
    return "–" if x is None else (f"{x * 1000:.0f}" if x >= 0.01 else f"{x * 1000:.1f}")


def ratio_list(cs, bs, ck, bk):
    out = []
    for r in cs:
        b = next((x for x in bs if x["rep"] == r["rep"]), None)
        if b and r.get(ck) and b.get(bk):
            out.append(r[ck] / b[bk])
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--cluster")
    p.add_argument("--render")
    p.add_argument("--criterion")
    p.add_argument("--sextant", default="")
    p.add_argument("--timing", default="")
    p.add_argument("--results", required=True)
    p.add_argument("--chart", required=True)
    p.add_argument("--markdown", required=True)
    p.add_argument("--from-results", action="store_true", help="re-render from --results only")
    a = p.parse_args()
    if a.from_results:
        res = json.loads(Path(a.results).read_text())
    else:
        res = {
            "cluster": json.loads(Path(a.cluster).read_text()),
            "render": json.loads(Path(a.render).read_text()) if a.render and Path(a.render).exists() else {},
            "criterion": criterion_estimates(Path(a.criterion)) if a.criterion else {},
            "machine": machine(a.sextant),
            "timing": {k: int(v) for k, v in (kv.split("=") for kv in a.timing.split(",") if kv)},
        }
        Path(a.results).write_text(json.dumps(res, indent=1) + "\n")
    chart(res, Path(a.chart))
    rel = os.path.relpath(Path(a.chart).resolve(), Path(a.markdown).resolve().parent)
    Path(a.markdown).write_text(markdown(res, rel))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
