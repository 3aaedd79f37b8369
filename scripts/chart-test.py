#!/usr/bin/env python3
"""Checks manifests rendered from charts/sextant (called by scripts/chart-test.sh).

    scripts/chart-test.py MODE RENDERED.yaml APP_VERSION RELEASE_NAMESPACE

MODE is `default`, `namespaced` (ci/namespaced-values.yaml: team-a, team-b, 2 replicas)
or `servicemonitor` (ci/servicemonitor-values.yaml). Asserts what kubernetes-validate
cannot: which objects each mode renders, that RBAC names every verb and resource
(no wildcards), the Pod Security Standard "restricted" settings, probes, resources,
the operator's flags, and that the ServiceMonitor (a CRD kind kubernetes-validate has
no schema for) selects the metrics Service and names its port.
"""

import re
import sys

import yaml

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)


def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def one(docs, kind):
    found = by_kind(docs, kind)
    check(len(found) == 1, f"expected exactly one {kind}, found {len(found)}")
    return found[0] if found else {}


def rbac(docs):
    for d in by_kind(docs, "ClusterRole") + by_kind(docs, "Role"):
        name = f"{d['kind']}/{d['metadata']['name']}"
        check(d.get("rules"), f"{name} has no rules")
        for i, r in enumerate(d.get("rules", [])):
            for field in ("apiGroups", "resources", "verbs"):
                values = r.get(field)
                check(values, f"{name} rule {i} lists no {field}")
                check("*" not in (values or []), f"{name} rule {i} has a wildcard in {field}")
            check("nonResourceURLs" not in r, f"{name} rule {i} grants nonResourceURLs")
            check(
                not {"escalate", "impersonate"} & set(r.get("verbs", [])),
                f"{name} rule {i} grants escalate/impersonate",
            )
            if "bind" in r.get("verbs", []):
                # Only the cluster-collection roles, by name (docs/node-agent.md).
                check(
                    r["verbs"] == ["bind"]
                    and r["resources"] == ["clusterroles"]
                    and r.get("resourceNames")
                    and all(n.endswith(COLLECTION_ROLES) for n in r["resourceNames"]),
                    f"{name} rule {i} grants bind beyond the cluster-collection roles: {r}",
                )


# The suffixes of the roles the operator binds per stack (docs/node-agent.md,
# docs/scrape-discovery.md, docs/cluster-collector.md).
COLLECTION_ROLES = ("-node-agent", "-k8s-metadata", "-prometheus-discovery", "-cluster-collector",
                    "-cluster-collector-lease")


def cluster_collection(docs, sa, release_ns):
    """The cluster-collection roles: the agent's, the metadata, the discovery,
    the cluster collector's and its Lease role are bound to nobody by the chart;
    the operator's binding role binds exactly those five."""
    crs = {d["metadata"]["name"]: d for d in by_kind(docs, "ClusterRole")}
    agent = [n for n in crs if n.endswith("-node-agent")]
    meta = [n for n in crs if n.endswith("-k8s-metadata")]
    disc = [n for n in crs if n.endswith("-prometheus-discovery")]
    cluster = [n for n in crs if n.endswith("-cluster-collector")]
    lease = [n for n in crs if n.endswith("-cluster-collector-lease")]
    binder = [n for n in crs if n.endswith("-cluster-bindings")]
    check(len(agent) == len(meta) == len(disc) == len(cluster) == len(lease) == len(binder) == 1,
          f"cluster-collection ClusterRoles: {sorted(crs)}")
    if not (agent and meta and disc and cluster and lease and binder):
        return
    # The cluster collector reads, never writes, and its Lease role is about
    # leases only (bound per namespace by the operator).
    check(all(set(r["verbs"]) <= {"get", "list", "watch"} for r in crs[cluster[0]]["rules"]),
          f"the cluster collector's role only reads: {crs[cluster[0]]['rules']}")
    check(crs[lease[0]]["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                                      "verbs": ["get", "create", "update"]}],
          f"the Lease role: {crs[lease[0]]['rules']}")
    check(crs[agent[0]]["rules"] == [{"apiGroups": [""], "resources": ["nodes/stats"], "verbs": ["get"]}],
          f"the node agent's role: {crs[agent[0]]['rules']}")
    check(crs[meta[0]]["rules"] == [{"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list", "watch"]}],
          f"the metadata role: {crs[meta[0]]['rules']}")
    check(crs[disc[0]]["rules"] == [
        {"apiGroups": [""], "resources": ["pods", "services", "endpoints"], "verbs": ["list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
    ], f"the discovery role: {crs[disc[0]]['rules']}")
    bind = [r for r in crs[binder[0]]["rules"] if "bind" in r["verbs"]]
    collection = agent + meta + disc + cluster + lease
    check(len(bind) == 1 and sorted(bind[0]["resourceNames"]) == sorted(collection),
          f"the operator binds exactly the five roles: {bind}")
    bound = {b["roleRef"]["name"] for b in by_kind(docs, "ClusterRoleBinding") + by_kind(docs, "RoleBinding")}
    check(not (bound & set(collection)), "the chart binds the collection roles to nobody")
    # The operator's own role reads the prometheus-operator monitors (list, watch
    # only) and lists Namespaces for their namespace selector.
    own = [d for n, d in crs.items() if d is not None and not n.endswith(COLLECTION_ROLES + ("-cluster-bindings",))]
    rules = [r for d in own for r in d["rules"]]
    check({"apiGroups": ["monitoring.coreos.com"], "resources": ["servicemonitors", "podmonitors"],
           "verbs": ["list", "watch"]} in rules, f"the operator reads the monitors: {rules}")
    check(not [r for r in rules if "monitoring.coreos.com" in r["apiGroups"] and set(r["verbs"]) - {"list", "watch"}],
          "the operator never writes monitors")
    for b in by_kind(docs, "ClusterRoleBinding"):
        check(b["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": release_ns}],
              f"{b['metadata']['name']} binds the chart's ServiceAccount")


def deployment(docs, app_version):
    d = one(docs, "Deployment")
    if not d:
        return [], d
    pod = d["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True, "pod securityContext.runAsNonRoot must be true")
    check(psc.get("runAsUser") == 65532, "pod securityContext.runAsUser must be 65532")
    check(
        psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
        "pod seccompProfile must be RuntimeDefault",
    )
    check(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation must be false")
    check(csc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities must drop ALL")
    check(not csc.get("capabilities", {}).get("add"), "no capability may be added")
    check(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem must be true")
    check(csc.get("runAsNonRoot") is True, "container runAsNonRoot must be true")
    check(csc.get("privileged") in (None, False), "container must not be privileged")
    check(not pod.get("hostNetwork") and not pod.get("hostPID"), "no host namespaces")
    for v in pod.get("volumes", []):
        check("hostPath" not in v, f"volume {v.get('name')} is a hostPath")
    check(
        c["image"] == f"ghcr.io/sextant-dev/sextant:{app_version}",
        f"default image must be ghcr.io/sextant-dev/sextant:{app_version}, not {c['image']}",
    )
    check(c["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe on /healthz")
    check(c["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe on /readyz")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    check(ports.get("metrics") == 8080, "container port metrics: 8080")
    for kind in ("requests", "limits"):
        for res in ("cpu", "memory"):
            check(res in c.get("resources", {}).get(kind, {}), f"resources.{kind}.{res} missing")
    args = c.get("args", [])
    check(args[:1] == ["run"], f"args must start with run: {args}")
    check("--metrics-addr=0.0.0.0:8080" in args, "--metrics-addr=0.0.0.0:8080 missing")
    env = {e["name"]: e for e in c.get("env", [])}
    for name, path in (("POD_NAMESPACE", "metadata.namespace"), ("POD_NAME", "metadata.name")):
        check(
            env.get(name, {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == path,
            f"env {name} from the downward API ({path})",
        )
    return args, d


def main():
    mode, path, app_version, release_ns = sys.argv[1:5]
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    kinds = sorted(d["kind"] for d in docs)
    rbac(docs)
    args, _ = deployment(docs, app_version)
    sa = one(docs, "ServiceAccount")
    service = one(docs, "Service")
    if mode in ("default", "servicemonitor"):
        # The operator's own role, the five of cluster-wide collection and the
        # role that binds them.
        check(len(by_kind(docs, "ClusterRole")) == 7, "default mode renders seven ClusterRoles")
        check(len(by_kind(docs, "ClusterRoleBinding")) == 2, "default mode renders two ClusterRoleBindings")
        cluster_collection(docs, sa, release_ns)
        check([a for a in args if a.startswith("--cluster-role-prefix=")], "the operator is told the roles' prefix")
        check(not by_kind(docs, "Role"), "default mode renders no Role")
        check(not by_kind(docs, "PodDisruptionBudget"), "one replica: no PodDisruptionBudget")
        check(not [a for a in args if a.startswith("--namespace")], "default mode watches all namespaces")
        check("--leader-election" not in args, "one replica: no leader election")
    if mode == "namespaced":
        check(not [a for a in args if a.startswith("--cluster-role-prefix")], "namespaced mode binds nothing cluster-wide")
        # Only cluster-wide grant: get on StorageClasses (rbac.readStorageClasses).
        crs = by_kind(docs, "ClusterRole")
        check(len(crs) == 1 and crs[0]["metadata"]["name"].endswith("-storageclasses"),
              "namespaced mode renders only the StorageClass-reading ClusterRole")
        for cr in crs:
            check(cr["rules"] == [{"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["get"]}],
                  f"the namespaced-mode ClusterRole grants only get on storageclasses: {cr['rules']}")
        check(len(by_kind(docs, "ClusterRoleBinding")) == 1, "one ClusterRoleBinding (StorageClasses)")
        roles = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in by_kind(docs, "Role")}
        bindings = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in by_kind(docs, "RoleBinding")}
        names = {n for _, n in roles}
        check({ns for ns, _ in roles} == {"team-a", "team-b", release_ns}, f"Roles in {roles}")
        check(roles == bindings, f"every Role has its RoleBinding: {roles} vs {bindings}")
        lease_roles = [r for r in by_kind(docs, "Role") if r["metadata"]["name"].endswith("-leader-election")]
        check(len(lease_roles) == 1 and lease_roles[0]["metadata"]["namespace"] == release_ns,
              "one leader-election Role, in the release namespace")
        for r in lease_roles:
            groups = {g for rule in r["rules"] for g in rule["apiGroups"]}
            check(groups == {"coordination.k8s.io"}, "the leader-election Role grants only leases")
        check(len(names) == 2, f"Role names: {names}")
        for ns in ("team-a", "team-b"):
            check(f"--namespace={ns}" in args, f"--namespace={ns} missing from {args}")
        check("--leader-election" in args, "two replicas: --leader-election")
        pdb = one(docs, "PodDisruptionBudget")
        if pdb:
            check(pdb["apiVersion"] == "policy/v1", "PodDisruptionBudget is policy/v1")
            check(pdb["spec"].get("maxUnavailable") == 1, "PodDisruptionBudget maxUnavailable 1")
        check("--log-format=text" in args, "--log-format from logFormat")
        check("--log-level=sextant=debug,kube=info" in args, "--log-level from logLevel")
        check(
            "--otlp-endpoint=http://agents-collector.observability.svc:4317" in args,
            "--otlp-endpoint from otlpEndpoint",
        )
    if mode == "servicemonitor":
        sm = one(docs, "ServiceMonitor")
        if sm and service:
            check(sm["apiVersion"] == "monitoring.coreos.com/v1", "ServiceMonitor is monitoring.coreos.com/v1")
            check(sm["metadata"]["labels"].get("release") == "kube-prometheus-stack", "extra labels")
            sel = sm["spec"]["selector"]["matchLabels"]
            labels = service["metadata"]["labels"]
            check(all(labels.get(k) == v for k, v in sel.items()), "the ServiceMonitor selects the metrics Service")
            check(sm["spec"]["namespaceSelector"]["matchNames"] == [release_ns], "namespaceSelector")
            port_names = {p["name"] for p in service["spec"]["ports"]}
            for ep in sm["spec"]["endpoints"]:
                check(ep["port"] in port_names, f"endpoint port {ep['port']} is a Service port")
                check(ep.get("path") == "/metrics", "endpoint path /metrics")
                for k in ("interval", "scrapeTimeout"):
                    check(re.fullmatch(r"([0-9]+(ms|s|m|h|d|w|y))+", ep.get(k, "")), f"endpoint {k}")
                check(set(ep) <= {"port", "path", "interval", "scrapeTimeout"}, f"endpoint fields {sorted(ep)}")
            check(set(sm["spec"]) == {"selector", "namespaceSelector", "endpoints"}, f"spec fields {sorted(sm['spec'])}")
        rule = one(docs, "PrometheusRule")
        if rule:
            check(rule["apiVersion"] == "monitoring.coreos.com/v1", "PrometheusRule is monitoring.coreos.com/v1")
            with open("charts/sextant/files/operator-alerts.yaml") as f:
                shipped = yaml.safe_load(f)
            check(rule["spec"] == shipped, "the PrometheusRule holds files/operator-alerts.yaml unchanged")
            alerts = [r.get("alert") for g in rule["spec"]["groups"] for r in g["rules"]]
            check("SextantDataNotFlowing" in alerts, f"alerts {alerts}")
    else:
        check(not by_kind(docs, "ServiceMonitor"), "ServiceMonitor is off by default")
        check(not by_kind(docs, "PrometheusRule"), "PrometheusRule is off by default")
    if service:
        check(service["spec"]["ports"][0]["targetPort"] == "metrics", "Service targets the metrics port")
    if FAILURES:
        for f in FAILURES:
            print(f"chart-test: {mode}: FAIL: {f}", file=sys.stderr)
        return 1
    print(f"chart-test: {mode}: ok ({', '.join(kinds)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
