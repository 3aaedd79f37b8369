#!/usr/bin/env python3
"""sextant's cluster benchmarks (issue 7), against the local control plane.

Run by bench/run.sh (`make bench`), which builds the binaries, starts the control
plane if needed and renders BENCHMARKS.md from the JSON this script writes.

What it measures, for each N (stacks created at once):

* convergence: the operator (a fresh `sextant run` release process per run) versus
  the baseline `kubectl apply --server-side` of `sextant render` output for the same
  N stacks, both timed from the first request to (a) every child object existing and
  (b) every stack Ready=True / every workload ready;
* steady state (first repetition of each N): write requests over a 60 s window, from
  kube-apiserver's `apiserver_request_total`, the audit log (exactly the operator's
  requests: it runs with its own ServiceAccount token) and `sextant_api_writes_total`;
  then a forced resync (operator restarted) until it has reconciled every stack again;
* memory: VmRSS/VmHWM of the operator process (/proc/PID/status);
* reconcile latency from `sextant_reconcile_duration_seconds`, and by step from
  `sextant_reconcile_step_duration_seconds`;
* a memory run at N = 100 and 1,000 with a one-component profile (Loki only).

Only the Python standard library is used. Every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import resource
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABEL = "sextant.dev/bench"
MANAGED = "app.kubernetes.io/managed-by=sextant"
OP_NS = "sextant-bench"
OP_SA = "sextant-bench"
OP_USER = f"system:serviceaccount:{OP_NS}:{OP_SA}"
STACKS_PER_NS = 10
POLL = 0.5
WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY")
AUDIT_WRITES = ("create", "update", "patch", "delete", "deletecollection")

# kind -> (collection path without namespace, apiVersion)
KINDS = {
    "ServiceAccount": ("/api/v1", "serviceaccounts"),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles"),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings"),
    "ConfigMap": ("/api/v1", "configmaps"),
    "Secret": ("/api/v1", "secrets"),
    "Service": ("/api/v1", "services"),
    "Deployment": ("/apis/apps/v1", "deployments"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "DaemonSet": ("/apis/apps/v1", "daemonsets"),
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies"),
    "HorizontalPodAutoscaler": ("/apis/autoscaling/v2", "horizontalpodautoscalers"),
    "PodDisruptionBudget": ("/apis/policy/v1", "poddisruptionbudgets"),
    # cluster-scoped: a full stack's node agent and cluster collector are bound to
    # their ClusterRoles (cluster-wide collection, as the chart installs it)
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings"),
}
OBS_PATH = "/apis/observability.sextant.dev/v1alpha1"

PROFILES = {
    # config/samples/minimal.yaml: every component, every field defaulted
    "full": {},
    # the cheapest useful stack: Loki alone (ServiceAccount, ConfigMap, Service, StatefulSet)
    "loki-only": {
        "collector": {"enabled": False},
        "prometheus": {"enabled": False},
        "tempo": {"enabled": False},
        "grafana": {"enabled": False},
    },
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------- API client


class Kube:
    """A small client for kube-apiserver: one keep-alive HTTPS connection."""

    def __init__(self, kubeconfig: str, tmp: Path):
        cfg = json.loads(
            subprocess.run(
                ["kubectl", "--kubeconfig", kubeconfig, "config", "view", "--raw", "--minify", "-o", "json"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        cluster = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"]
        url = urllib.parse.urlparse(cluster["server"])
        self.host, self.port = url.hostname, url.port or 443
        self.server = cluster["server"]
        self.ca_pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
        self.ctx = ssl.create_default_context(cadata=self.ca_pem)
        self.headers = {}
        if "client-certificate-data" in user:
            cert, key = tmp / "admin.crt", tmp / "admin.key"
            for p, k in ((cert, "client-certificate-data"), (key, "client-key-data")):
                p.write_bytes(base64.b64decode(user[k]))
                p.chmod(0o600)
            self.ctx.load_cert_chain(str(cert), str(key))
        elif "token" in user:
            self.headers["Authorization"] = f"Bearer {user['token']}"
        self.conn: http.client.HTTPSConnection | None = None

    def request(self, method: str, path: str, body=None, accept="application/json", ctype="application/json"):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        headers = {"Accept": accept, **self.headers}
        if data is not None:
            headers["Content-Type"] = ctype
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=60)
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.5)
        raise RuntimeError("unreachable")

    def get(self, path: str, accept="application/json"):
        status, body = self.request("GET", path, accept=accept)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
        return json.loads(body) if accept.startswith("application/json") else body.decode()

    def list_meta(self, path: str) -> list:
        """A list of PartialObjectMetadata: no spec, data or status is sent."""
        return self.get(path, accept="application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1").get("items") or []

    def metrics(self) -> str:
        status, body = self.request("GET", "/metrics", accept="text/plain")
        if status != 200:
            raise RuntimeError(f"GET /metrics: {status}")
        return body.decode()


def kubectl(kubeconfig: str, *args: str, input: str | None = None, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, *args], input=input, capture_output=True, text=True, check=check
    )


# ----------------------------------------------------------------- metrics


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+([-+0-9.eEinfNa]+)(?:\s+\d+)?$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, dict, float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            continue
        labels = dict(LABEL_RE.findall(m.group(2) or ""))
        try:
            out.append((m.group(1), labels, float(m.group(3))))
        except ValueError:
            pass
    return out


def apiserver_writes(text: str) -> dict:
    """apiserver_request_total of write verbs: {verb: n, "verb resource/subresource": n}."""
    out: dict[str, float] = {}
    for name, labels, value in parse_metrics(text):
        if name != "apiserver_request_total" or labels.get("verb") not in WRITE_VERBS:
            continue
        verb = labels["verb"]
        res = labels.get("resource", "") + ("/" + labels["subresource"] if labels.get("subresource") else "")
        out[verb] = out.get(verb, 0) + value
        out[f"{verb} {res}"] = out.get(f"{verb} {res}", 0) + value
    return out


def apiserver_costs(text: str) -> dict:
    """Request count and summed latency per "VERB resource/subresource" (no WATCH)."""
    out: dict[str, float] = {}
    for name, labels, value in parse_metrics(text):
        if name not in ("apiserver_request_duration_seconds_sum", "apiserver_request_duration_seconds_count"):
            continue
        if labels.get("verb") in ("WATCH", "CONNECT") or not labels.get("resource"):
            continue
        res = labels["resource"] + ("/" + labels["subresource"] if labels.get("subresource") else "")
        key = ("s " if name.endswith("_sum") else "n ") + f"{labels['verb']} {res}"
        out[key] = out.get(key, 0) + value
    return out


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def diff(after: dict, before: dict) -> dict:
    keys = set(after) | set(before)
    d = {k: after.get(k, 0) - before.get(k, 0) for k in keys}
    return {k: v for k, v in sorted(d.items()) if v}


def by_verb(d: dict) -> dict:
    return {k: v for k, v in d.items() if " " not in k}


def histogram_buckets(samples, name: str) -> list[tuple[float, float]]:
    b = []
    for n, labels, v in samples:
        if n == name + "_bucket":
            le = labels["le"]
            b.append((float("inf") if le in ("+Inf", "Inf") else float(le), v))
    return sorted(b)


def step_buckets(samples) -> dict[str, list[tuple[float, float]]]:
    """The buckets of sextant_reconcile_step_duration_seconds, by step."""
    out: dict[str, list[tuple[float, float]]] = {}
    for n, labels, v in samples:
        if n == "sextant_reconcile_step_duration_seconds_bucket":
            le = labels["le"]
            out.setdefault(labels.get("step", "?"), []).append((float("inf") if le in ("+Inf", "Inf") else float(le), v))
    return {k: sorted(b) for k, b in sorted(out.items())}


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket."""
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if le == float("inf"):
                return prev_le
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return buckets[-2][0] if len(buckets) > 1 else None


# ----------------------------------------------------------------- operator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_mem(pid: int) -> dict:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


class Operator:
    """One `sextant run` process, started and stopped by pid (never by name)."""

    def __init__(self, binary: str, kubeconfig: str, logdir: Path, tag: str, extra: list[str] | None = None):
        extra = extra or []
        self.port = free_port()
        self.log_path = logdir / f"operator-{tag}.log"
        env = {**os.environ, "KUBECONFIG": kubeconfig}
        env.pop("SEXTANT_LOG", None)
        self.proc = subprocess.Popen(
            [binary, "run", "--metrics-addr", f"127.0.0.1:{self.port}", "--log-format", "json", "--log-level", "info", *extra],
            stdin=subprocess.DEVNULL,
            stdout=open(self.log_path, "wb"),
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self.rss_max_sampled = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"operator exited ({self.proc.returncode}); log {self.log_path}")
            try:
                if self.http("/readyz").strip() == "ok":
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"operator not ready in 30 s; log {self.log_path}")

    def http(self, path: str) -> str:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", path)
            r = c.getresponse()
            body = r.read().decode()
            if r.status != 200:
                raise OSError(f"{path}: {r.status}")
            return body
        finally:
            c.close()

    def metrics(self) -> list:
        return parse_metrics(self.http("/metrics"))

    def mem(self) -> dict:
        m = proc_mem(self.proc.pid)
        self.rss_max_sampled = max(self.rss_max_sampled, m.get("VmRSS", 0))
        return m

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def metric_sum(samples, name: str, **match) -> float:
    return sum(v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in match.items()))


def writes_by_kind(samples) -> dict:
    out = {}
    for n, l, v in samples:
        if n == "sextant_api_writes_total" and v:
            out[f"{l.get('verb')} {l.get('kind')}"] = v
    return out


# ----------------------------------------------------------------- audit log


class Audit:
    """The operator's own requests, from kube-apiserver's audit log (Metadata level
    for ServiceAccounts outside kube-system: the operator runs with its own SA).

    kube-apiserver rotates the log at 100 MB (audit-<time>.log beside it): a position
    is (inode, offset), and reading follows the rotated file before the new one."""

    def __init__(self, path: Path):
        self.path = path

    def offset(self) -> tuple[int, int]:
        try:
            st = self.path.stat()
            return (st.st_ino, st.st_size)
        except OSError:
            return (0, 0)

    def _files_since(self, pos: tuple[int, int]) -> list[tuple[Path, int]]:
        ino, off = pos
        try:
            cur = self.path.stat().st_ino
        except OSError:
            return []
        if cur == ino:
            return [(self.path, off)]
        out = []
        # the file we were reading was rotated: finish it, then every newer rotated file
        rotated = sorted(self.path.parent.glob(self.path.stem + "-*" + self.path.suffix), key=lambda p: p.stat().st_mtime)
        seen = False
        for p in rotated:
            if p.stat().st_ino == ino:
                seen = True
                out.append((p, off))
            elif seen:
                out.append((p, 0))
        out.append((self.path, 0))
        return out

    def since(self, pos: tuple[int, int]) -> dict:
        counts: dict[str, int] = {}
        for path, off in self._files_since(pos):
            try:
                with open(path, "rb") as f:
                    f.seek(off)
                    for line in f:
                        if OP_USER.encode() not in line:
                            continue
                        try:
                            e = json.loads(line)
                        except ValueError:
                            continue
                        if e.get("user", {}).get("username") != OP_USER or e.get("stage") != "ResponseComplete":
                            continue
                        verb = e.get("verb", "?")
                        ref = e.get("objectRef", {})
                        res = ref.get("resource", "") + ("/" + ref["subresource"] if ref.get("subresource") else "")
                        counts[verb] = counts.get(verb, 0) + 1
                        counts[f"{verb} {res}"] = counts.get(f"{verb} {res}", 0) + 1
            except OSError:
                pass
        return dict(sorted(counts.items()))


def audit_writes(c: dict) -> int:
    return sum(v for k, v in c.items() if " " not in k and k in AUDIT_WRITES)


# ----------------------------------------------------------------- workload


def ns_name(i: int) -> str:
    return f"bench-{i:03d}"


def stacks(n: int, profile: str) -> list[dict]:
    return [
        {
            "apiVersion": "observability.sextant.dev/v1alpha1",
            "kind": "ObservabilityStack",
            "metadata": {"name": f"s{i:04d}", "namespace": ns_name(i // STACKS_PER_NS), "labels": {LABEL: "1"}},
            "spec": PROFILES[profile],
        }
        for i in range(n)
    ]


def namespaces(n: int) -> list[str]:
    return [ns_name(i) for i in range((n + STACKS_PER_NS - 1) // STACKS_PER_NS)]


class Bench:
    def __init__(self, args):
        self.args = args
        self.kubeconfig = args.kubeconfig
        self.tmp = Path(tempfile.mkdtemp(prefix="sextant-bench-"))
        self.kube = Kube(self.kubeconfig, self.tmp)
        self.logdir = Path(args.logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.audit = Audit(Path(args.audit_log)) if args.audit_log else None
        self.rendered: dict[tuple[int, str], tuple[str, list]] = {}
        self.served = self.discover()
        self.state_dir = Path(args.state_dir) if args.state_dir else None
        self.minor = int(re.sub(r"\D", "", self.kube.get("/version")["minor"]) or 0)

    # ---- costs

    def control_plane_cpu(self) -> dict:
        """CPU seconds used so far by each control-plane process this machine runs."""
        out = {}
        if not self.state_dir:
            return out
        for name in ("etcd", "kube-apiserver", "kube-controller-manager", "sim-kubelet"):
            try:
                pid = int((self.state_dir / "run" / f"{name}.pid").read_text().strip())
            except (OSError, ValueError):
                continue
            c = cpu_seconds(pid)
            if c is not None:
                out[name] = c
        return out

    def costs(self) -> dict:
        return {"cpu": self.control_plane_cpu(), "requests": apiserver_costs(self.kube.metrics()), "t": time.monotonic()}

    @staticmethod
    def cost_diff(after: dict, before: dict, op_cpu: float | None = None) -> dict:
        cpu = {k: round(after["cpu"][k] - before["cpu"].get(k, 0), 2) for k in after["cpu"]}
        if op_cpu is not None:
            cpu["sextant"] = round(op_cpu, 2)
        req = diff(after["requests"], before["requests"])
        counts = {k[2:]: v for k, v in req.items() if k.startswith("n ")}
        secs = {k[2:]: round(v, 2) for k, v in req.items() if k.startswith("s ")}
        return {"wall_s": round(after["t"] - before["t"], 2), "cpu_s": cpu, "requests": counts, "request_seconds": secs}

    # ---- cluster setup

    def discover(self) -> set[str]:
        served = set()
        for kind, (base, _) in KINDS.items():
            status, _ = self.kube.request("GET", base)
            if status == 200:
                served.add(kind)
        return served

    def setup(self) -> None:
        """CRD, and a ServiceAccount with cluster-admin for the operator, so that the
        audit log attributes exactly its requests."""
        status, _ = self.kube.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/observabilitystacks.observability.sextant.dev")
        if status == 404:
            kubectl(self.kubeconfig, "create", "--validate=false", "-f", str(ROOT / "crds"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            s, _ = self.kube.request("GET", OBS_PATH + "/observabilitystacks?limit=1")
            if s == 200:
                break
            time.sleep(0.5)
        # a namespace left terminating by an earlier run would take the new token with it
        self.wait_namespace_gone(OP_NS)
        manifest = {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OP_NS}},
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": OP_SA, "namespace": OP_NS}},
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": {"name": "sextant-bench"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                    "subjects": [{"kind": "ServiceAccount", "name": OP_SA, "namespace": OP_NS}],
                },
            ],
        }
        kubectl(self.kubeconfig, "apply", "-f", "-", input=json.dumps(manifest))
        token = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and token is None:
            sa = self.kube.get(f"/api/v1/namespaces/{OP_NS}/serviceaccounts/{OP_SA}")
            for ref in sa.get("secrets") or []:
                sec = self.kube.get(f"/api/v1/namespaces/{OP_NS}/secrets/{ref['name']}")
                if sec.get("type") == "kubernetes.io/service-account-token" and sec.get("data", {}).get("token"):
                    token = base64.b64decode(sec["data"]["token"]).decode()
            if token is None:
                time.sleep(0.5)
        if token is None:
            raise RuntimeError("no token Secret for the operator's ServiceAccount (is the token controller running?)")
        self.op_kubeconfig = str(self.tmp / "operator.kubeconfig")
        Path(self.op_kubeconfig).write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": "bench",
                            "cluster": {
                                "server": self.kube.server,
                                "certificate-authority-data": base64.b64encode(self.kube.ca_pem.encode()).decode(),
                            },
                        }
                    ],
                    "users": [{"name": OP_SA, "user": {"token": token}}],
                    "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": OP_SA}}],
                    "current-context": "bench",
                }
            )
        )
        os.chmod(self.op_kubeconfig, 0o600)

    def teardown(self) -> None:
        kubectl(self.kubeconfig, "delete", "clusterrolebinding", "sextant-bench", "--ignore-not-found", check=False)
        kubectl(self.kubeconfig, "delete", "namespace", OP_NS, "--ignore-not-found", "--timeout=120s", check=False)

    def wait_namespace_gone(self, name: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s, body = self.kube.request("GET", f"/api/v1/namespaces/{name}")
            if s == 404 or (s == 200 and not json.loads(body)["metadata"].get("deletionTimestamp")):
                return
            time.sleep(1)
        raise RuntimeError(f"namespace {name} still terminating after {timeout:.0f} s")

    def create_namespaces(self, n: int) -> None:
        for ns in namespaces(n):
            s, body = self.kube.request(
                "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {LABEL: "1"}}}
            )
            if s not in (201, 409):
                raise RuntimeError(f"create namespace {ns}: {s} {body[:200]!r}")

    def cleanup(self, timeout: float) -> float:
        """Deletes every bench namespace and waits until they are gone."""
        t0 = time.monotonic()
        items = self.kube.get(f"/api/v1/namespaces?labelSelector={LABEL}%3D1").get("items") or []
        for ns in items:
            if not ns["metadata"].get("deletionTimestamp"):
                self.kube.request("DELETE", f"/api/v1/namespaces/{ns['metadata']['name']}")
        while time.monotonic() - t0 < timeout:
            left = self.kube.get(f"/api/v1/namespaces?labelSelector={LABEL}%3D1").get("items") or []
            if not left:
                # Cluster-scoped children outlive their namespaces: the operator deletes
                # its own (finalizer), the kubectl baseline's are deleted here.
                self.kube.request("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?labelSelector="
                                  + urllib.parse.quote(MANAGED))
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout / 2:
                # No operator released them (it died, or none ran): drop the
                # stacks' finalizers, and their ClusterRoleBindings by label.
                for ns in left:
                    name = ns["metadata"]["name"]
                    for st in self.kube.get(f"{OBS_PATH}/namespaces/{name}/observabilitystacks").get("items") or []:
                        if st["metadata"].get("finalizers"):
                            self.kube.request("PATCH", f"{OBS_PATH}/namespaces/{name}/observabilitystacks/{st['metadata']['name']}",
                                              {"metadata": {"finalizers": None}}, ctype="application/merge-patch+json")
                self.kube.request("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?labelSelector="
                                  + urllib.parse.quote(MANAGED))
            # Pods would hold each namespace for their grace period (the namespace controller
            # re-checks only after it): delete them at once, as a kubelet that stopped them would.
            for ns in left:
                self.kube.request("DELETE", f"/api/v1/namespaces/{ns['metadata']['name']}/pods?gracePeriodSeconds=0")
            time.sleep(2)
        raise RuntimeError(f"bench namespaces not gone after {timeout:.0f} s")

    # ---- what is expected

    def render(self, n: int, profile: str) -> tuple[str, list]:
        """`sextant render` of each stack, adapted to this server as the operator
        adapts it (kinds it does not serve left out, fields it does not know removed,
        the collector at minReplicas without an autoscaler). Returns the manifest file
        and the expected (kind, namespace, name) list."""
        key = (n, profile)
        if key in self.rendered:
            return self.rendered[key]
        items = []
        for stack in stacks(n, profile):
            f = self.tmp / "stack.json"
            f.write_text(json.dumps(stack))
            out = subprocess.run([self.args.sextant, "render", "-f", str(f), "-o", "json"], check=True, capture_output=True, text=True)
            rendered = json.loads(out.stdout).get("items") or []
            has_hpa = any(i["kind"] == "HorizontalPodAutoscaler" for i in rendered)
            min_replicas = ((stack["spec"].get("collector") or {}).get("autoscaling") or {}).get("minReplicas", 2)
            for i in rendered:
                if i["kind"] not in self.served:
                    continue
                if i["kind"] == "StatefulSet" and self.minor < 23:
                    i["spec"].pop("persistentVolumeClaimRetentionPolicy", None)
                if (
                    i["kind"] == "Deployment"
                    and has_hpa
                    and "HorizontalPodAutoscaler" not in self.served
                    and i["metadata"]["name"].endswith("-collector")
                    and i["spec"].get("replicas") is None
                ):
                    i["spec"]["replicas"] = min_replicas
                items.append(i)
        path = self.tmp / f"rendered-{n}-{profile}.json"
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        expected = sorted((i["kind"], i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in items)
        self.rendered[key] = (str(path), expected)
        return self.rendered[key]

    # ---- observing

    def children_present(self, expected: list) -> int:
        want = set(expected)
        have = set()
        for kind in sorted({k for k, _, _ in expected}):
            base, plural = KINDS[kind]
            for m in self.list_meta_all(f"{base}/{plural}?labelSelector={urllib.parse.quote(MANAGED)}"):
                have.add((kind, m["metadata"].get("namespace", ""), m["metadata"]["name"]))
        return len(want & have)

    def list_meta_all(self, path: str) -> list:
        return self.kube.list_meta(path)

    def stacks_ready(self) -> tuple[int, int]:
        items = self.kube.get(f"{OBS_PATH}/observabilitystacks?labelSelector={urllib.parse.quote(LABEL)}%3D1").get("items") or []
        ready = 0
        for s in items:
            for c in (s.get("status") or {}).get("conditions") or []:
                if c.get("type") == "Ready" and c.get("status") == "True":
                    ready += 1
        return ready, len(items)

    def workloads_ready(self) -> tuple[int, int]:
        ready = total = 0
        sel = urllib.parse.quote(MANAGED)
        for d in self.kube.get(f"/apis/apps/v1/deployments?labelSelector={sel}").get("items") or []:
            total += 1
            want = d["spec"].get("replicas", 1)
            st = d.get("status") or {}
            if (
                st.get("observedGeneration", 0) >= d["metadata"].get("generation", 0)
                and st.get("updatedReplicas", 0) >= want
                and st.get("availableReplicas", 0) >= want
                and st.get("replicas", 0) == want
            ):
                ready += 1
        for s in self.kube.get(f"/apis/apps/v1/statefulsets?labelSelector={sel}").get("items") or []:
            total += 1
            want = s["spec"].get("replicas", 1)
            st = s.get("status") or {}
            same = st.get("updateRevision") is None or st.get("currentRevision") == st.get("updateRevision")
            if (
                st.get("observedGeneration", 0) >= s["metadata"].get("generation", 0)
                and same
                and st.get("readyReplicas", 0) >= want
                and st.get("replicas", 0) == want
            ):
                ready += 1
        return ready, total

    # ---- one sextant run

    def run_sextant(self, n: int, profile: str, rep: int, steady: bool, timeout: float, settle: float = 0) -> dict:
        path, expected = self.render(n, profile)
        workloads = sum(1 for k, _, _ in expected if k in ("Deployment", "StatefulSet"))
        self.create_namespaces(n)
        op = Operator(self.args.sextant, self.op_kubeconfig, self.logdir, f"n{n}-{profile}-r{rep}", self.args.operator_args.split())
        res: dict = {"n": n, "profile": profile, "rep": rep, "children_expected": len(expected), "workloads": workloads}
        try:
            time.sleep(2)
            res["rss_idle"] = op.mem().get("VmRSS")
            audit0 = self.audit.offset() if self.audit else (0, 0)
            api0 = apiserver_writes(self.kube.metrics())
            cost0 = self.costs()
            op_cpu0 = cpu_seconds(op.proc.pid) or 0.0
            manifest = "\n---\n".join(json.dumps(s) for s in stacks(n, profile))
            t0 = time.monotonic()
            kubectl(self.kubeconfig, "create", "-f", "-", input=manifest)
            res["t_created"] = time.monotonic() - t0
            t_children = t_ready = None
            ready = present = 0
            last_log = 0.0
            while time.monotonic() - t0 < timeout:
                op.mem()
                if t_children is None:
                    present = self.children_present(expected)
                    if present == len(expected):
                        t_children = time.monotonic() - t0
                ready, total = self.stacks_ready()
                if t_children is not None and ready == n:
                    t_ready = time.monotonic() - t0
                    break
                if time.monotonic() - last_log > 15:
                    last_log = time.monotonic()
                    log(f"  sextant n={n} {profile}: {time.monotonic() - t0:.0f}s, ready {ready}/{n}" + ("" if t_children else f", children {present}/{len(expected)}"))
                time.sleep(POLL)
            res["t_children"], res["t_ready"] = t_children, t_ready
            res["ready_at_end"] = ready
            res["children_at_end"] = len(expected) if t_children is not None else present
            res["cost"] = self.cost_diff(self.costs(), cost0, (cpu_seconds(op.proc.pid) or 0.0) - op_cpu0)
            if t_ready is None:
                res["timed_out"] = True
                log(f"  sextant n={n}: not converged in {timeout:.0f} s")
            samples = op.metrics()
            mem = op.mem()
            res["rss_converged"], res["hwm_converged"] = mem.get("VmRSS"), mem.get("VmHWM")
            res["reconciles"] = metric_sum(samples, "sextant_reconciles_total")
            res["op_writes"] = metric_sum(samples, "sextant_api_writes_total")
            res["op_writes_by_kind"] = writes_by_kind(samples)
            res["reconcile_buckets"] = histogram_buckets(samples, "sextant_reconcile_duration_seconds")
            res["reconcile_p50"] = quantile(0.5, res["reconcile_buckets"])
            res["reconcile_p99"] = quantile(0.99, res["reconcile_buckets"])
            res["step_buckets"] = step_buckets(samples)
            res["apiserver_writes_convergence"] = by_verb(diff(apiserver_writes(self.kube.metrics()), api0))
            if self.audit:
                res["audit_convergence"] = self.audit.since(audit0)
            log(
                f"  sextant n={n} {profile} rep {rep}: children {fmt(t_children)} s, ready {fmt(t_ready)} s, "
                f"{res['reconciles']:.0f} reconciles, {res['op_writes']:.0f} writes, RSS {mb(res['rss_converged'])} MiB"
            )
            if steady and t_ready is not None:
                op = self.steady_and_resync(op, n, res)
            elif settle:
                # steady memory without the write window: the median RSS over `settle` s
                rss = []
                t1 = time.monotonic()
                while time.monotonic() - t1 < settle:
                    rss.append(op.mem().get("VmRSS", 0))
                    time.sleep(2)
                res["rss_steady"] = statistics.median(rss)
                s1 = op.metrics()
                res["settle"] = {
                    "window_s": round(time.monotonic() - t1, 1),
                    "op_writes": metric_sum(s1, "sextant_api_writes_total") - res["op_writes"],
                    "op_reconciles": metric_sum(s1, "sextant_reconciles_total") - res["reconciles"],
                }
            mem = op.mem()
            res["rss_final"], res["hwm_final"] = mem.get("VmRSS"), mem.get("VmHWM")
            res["rss_max_sampled"] = op.rss_max_sampled
        finally:
            # With the operator still running: a stack holds a finalizer while it
            # has ClusterRoleBindings (cluster-wide collection), which only the
            # operator releases once it has deleted them.
            try:
                res["t_cleanup"] = self.cleanup(self.args.cleanup_timeout)
            finally:
                op.stop()
        return res

    def steady_and_resync(self, op: Operator, n: int, res: dict) -> Operator:
        time.sleep(5)
        window = self.args.window
        s0 = op.metrics()
        a0 = apiserver_writes(self.kube.metrics())
        audit0 = self.audit.offset() if self.audit else (0, 0)
        rss = []
        t0 = time.monotonic()
        while (left := window - (time.monotonic() - t0)) > 0:
            rss.append(op.mem().get("VmRSS", 0))
            time.sleep(min(5.0, left))
        s1 = op.metrics()
        a1 = apiserver_writes(self.kube.metrics())
        res["steady"] = {
            "window_s": round(time.monotonic() - t0, 1),
            "apiserver_writes": diff(a1, a0),
            "op_writes": metric_sum(s1, "sextant_api_writes_total") - metric_sum(s0, "sextant_api_writes_total"),
            "op_reconciles": metric_sum(s1, "sextant_reconciles_total") - metric_sum(s0, "sextant_reconciles_total"),
            "rss_median": statistics.median(rss) if rss else None,
        }
        if self.audit:
            res["steady"]["audit"] = self.audit.since(audit0)
        res["rss_steady"] = res["steady"]["rss_median"]
        log(f"  steady {window:.0f}s: operator writes {res['steady']['op_writes']:.0f}, apiserver writes {by_verb(res['steady']['apiserver_writes'])}")
        # forced resync: a fresh process reconciles every stack once more
        a0 = apiserver_writes(self.kube.metrics())
        audit0 = self.audit.offset() if self.audit else (0, 0)
        op.stop()
        t0 = time.monotonic()
        op = Operator(self.args.sextant, self.op_kubeconfig, self.logdir, f"n{n}-{res['profile']}-resync", self.args.operator_args.split())
        t_done = None
        last_change, last_writes = time.monotonic(), -1.0
        while time.monotonic() - t0 < self.args.resync_timeout:
            s = op.metrics()
            rec = metric_sum(s, "sextant_reconciles_total")
            w = metric_sum(s, "sextant_api_writes_total")
            busy = metric_sum(s, "sextant_stacks_managed")
            if w != last_writes:
                last_writes, last_change = w, time.monotonic()
            if rec >= n and busy >= n and t_done is None:
                t_done = time.monotonic() - t0
            if t_done is not None and time.monotonic() - last_change >= 3:
                break
            op.mem()
            time.sleep(0.25)
        s = op.metrics()
        res["resync"] = {
            "t_reconciled_all": t_done,
            "reconciles": metric_sum(s, "sextant_reconciles_total"),
            "op_writes": metric_sum(s, "sextant_api_writes_total"),
            "op_writes_by_kind": writes_by_kind(s),
            "apiserver_writes": diff(apiserver_writes(self.kube.metrics()), a0),
            "reconcile_p50": quantile(0.5, histogram_buckets(s, "sextant_reconcile_duration_seconds")),
            "reconcile_p99": quantile(0.99, histogram_buckets(s, "sextant_reconcile_duration_seconds")),
            "reconcile_buckets": histogram_buckets(s, "sextant_reconcile_duration_seconds"),
            "step_buckets": step_buckets(s),
            "hwm": op.mem().get("VmHWM"),
        }
        if self.audit:
            res["resync"]["audit"] = self.audit.since(audit0)
        log(f"  resync: every stack reconciled in {fmt(t_done)} s, {res['resync']['reconciles']:.0f} reconciles, operator writes {res['resync']['op_writes']:.0f}")
        return op

    # ---- one baseline run

    def run_baseline(self, n: int, profile: str, rep: int, timeout: float) -> dict:
        path, expected = self.render(n, profile)
        self.create_namespaces(n)
        res: dict = {"n": n, "profile": profile, "rep": rep, "objects": len(expected)}
        api0 = apiserver_writes(self.kube.metrics())
        cost0 = self.costs()
        t0 = time.monotonic()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = kubectl(self.kubeconfig, "apply", "--server-side", "--field-manager=bench-kubectl", "-f", path, check=False)
        res["t_apply"] = time.monotonic() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        kubectl_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        if out.returncode != 0:
            raise RuntimeError(f"kubectl apply failed: {out.stderr[-2000:]}")
        t_objects = t_ready = None
        last_log = 0.0
        while time.monotonic() - t0 < timeout:
            if t_objects is None and self.children_present(expected) == len(expected):
                t_objects = time.monotonic() - t0
            ready, total = self.workloads_ready()
            if t_objects is not None and total and ready == total:
                t_ready = time.monotonic() - t0
                break
            if time.monotonic() - last_log > 15:
                last_log = time.monotonic()
                log(f"  baseline n={n}: {time.monotonic() - t0:.0f}s, workloads ready {ready}/{total}")
            time.sleep(POLL)
        res["t_objects"], res["t_ready"] = t_objects, t_ready
        res["cost"] = self.cost_diff(self.costs(), cost0)
        res["cost"]["cpu_s"]["kubectl"] = round(kubectl_cpu, 2)
        res["apiserver_writes"] = by_verb(diff(apiserver_writes(self.kube.metrics()), api0))
        if t_ready is None:
            res["timed_out"] = True
        log(f"  baseline n={n} {profile} rep {rep}: apply {res['t_apply']:.1f} s, objects {fmt(t_objects)} s, ready {fmt(t_ready)} s")
        res["t_cleanup"] = self.cleanup(self.args.cleanup_timeout)
        return res


def fmt(x) -> str:
    return "-" if x is None else f"{x:.1f}"


def mb(x) -> str:
    return "-" if not x else f"{x / 1048576:.1f}"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--sextant", required=True, help="release sextant binary")
    p.add_argument("--audit-log", default="")
    # As the chart runs it: cluster-wide collection on (`sextant render`'s default too),
    # so a full stack has its node agent and cluster collector. The ClusterRoles
    # it binds need not exist for the bindings to be created.
    p.add_argument("--operator-args", default="--cluster-role-prefix=sextant",
                   help="arguments of `sextant run` besides the metrics address and logging")
    p.add_argument("--no-baseline", action="store_true", help="skip the kubectl baseline (experiments)")
    p.add_argument("--state-dir", default="", help="e2e/cluster.sh state dir: CPU of its processes from run/*.pid")
    p.add_argument("--out", required=True)
    p.add_argument("--logdir", required=True)
    p.add_argument("--sizes", default="1,10,100")
    p.add_argument("--reps", default="3,3,3", help="repetitions per size")
    p.add_argument("--memory-sizes", default="100,1000")
    p.add_argument("--memory-profile", default="loki-only")
    p.add_argument("--memory-reserve", type=float, default=300, help="seconds kept for the memory runs")
    p.add_argument("--memory-settle", type=float, default=20, help="seconds the memory run holds after converging")
    p.add_argument("--window", type=float, default=60)
    p.add_argument("--resync-timeout", type=float, default=180)
    p.add_argument("--cleanup-timeout", type=float, default=300)
    p.add_argument("--deadline", type=float, default=1500, help="seconds: skip what would not fit after this")
    args = p.parse_args()
    started = time.monotonic()
    b = Bench(args)
    b.setup()
    leftover = b.kube.get(f"/api/v1/namespaces?labelSelector={LABEL}%3D1").get("items") or []
    if leftover:
        log(f"removing {len(leftover)} namespaces left by an earlier run")
        b.cleanup(args.cleanup_timeout)
    results: dict = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "server_version": b.kube.get("/version"),
        "served_child_kinds": sorted(b.served),
        "window_s": args.window,
        "convergence": [],
        "baseline": [],
        "memory": [],
        "skipped": [],
    }

    def save():
        results["elapsed_s"] = round(time.monotonic() - started, 1)
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")

    try:
        sizes = [int(x) for x in args.sizes.split(",") if x]
        reps = [int(x) for x in args.reps.split(",") if x]
        reserve = args.memory_reserve if args.memory_sizes else 0
        for i, n in enumerate(sizes):
            r = reps[min(i, len(reps) - 1)]
            timeout = 120 + 3 * n
            last = 0.0
            for rep in range(r):
                # a repetition that would not leave time for the memory runs is skipped
                if rep > 0 and time.monotonic() - started + last > args.deadline - reserve:
                    results["skipped"].append(f"N={n} repetition {rep + 1} of {r}")
                    log(f"skipping N={n} repetition {rep + 1} (time budget: ~{last:.0f} s needed)")
                    continue
                rep_t0 = time.monotonic()
                log(f"N={n} repetition {rep + 1}/{r}")
                # alternate the order so neither side always runs on a warmer server
                order = ("sextant", "baseline") if rep % 2 == 0 else ("baseline", "sextant")
                for side in order:
                    if side == "sextant":
                        results["convergence"].append(b.run_sextant(n, "full", rep, steady=(rep == 0), timeout=timeout))
                    elif not args.no_baseline:
                        results["baseline"].append(b.run_baseline(n, "full", rep, timeout=timeout))
                    save()
                # the steady window and resync only run in the first repetition
                last = (time.monotonic() - rep_t0) - (args.window + 30 if rep == 0 else 0)
        for n in [int(x) for x in args.memory_sizes.split(",") if x]:
            left = args.deadline - (time.monotonic() - started)
            if left < 120:
                results["skipped"].append(f"memory N={n}: time budget")
                continue
            # converging is time-boxed to what is left, keeping room for the settle window and cleanup
            timeout = max(60.0, min(120 + 0.6 * n, left - args.memory_settle - min(100, 0.1 * n) - 10))
            log(f"memory run: N={n} {args.memory_profile} (converge within {timeout:.0f} s)")
            results["memory"].append(b.run_sextant(n, args.memory_profile, 0, steady=False, timeout=timeout, settle=args.memory_settle))
            results["memory"][-1]["timeout_s"] = round(timeout)
            save()
    finally:
        try:
            b.cleanup(args.cleanup_timeout)
        except Exception as e:  # noqa: BLE001 - best effort at exit
            log(f"cleanup: {e}")
        b.teardown()
        save()
    log(f"done in {time.monotonic() - started:.0f} s; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
