//! Loki and Tempo beyond one replica (`replicas: 3` on `spec.storage.objectStore`):
//! what the rendered configs and children must agree on for a ring to form, the
//! defaults a replicated backend gets (spreading, a disruption budget), what one
//! replica keeps as before, and the combinations validation refuses.
//!
//! No Loki or Tempo runs here: these tests check that the names and ports each
//! config points at are the ones the children really serve (the members Service's
//! DNS name and ports, the container ports), and the keys as read in the programs'
//! sources (cited in `src/render/loki.rs`, `src/render/tempo.rs` and
//! `src/render/mod.rs`).

mod common;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use sextant::build::{Resources, build};
use sextant::model::Capabilities;
use sextant::validate::{Dereferenced, validate};

const STORE: &str = "storage:\n  objectStore:\n    s3: {endpoint: minio.storage.svc:9000, insecure: true, forcePathStyle: true}\n    buckets: {logs: acme-logs, traces: acme-traces}\n";

fn built_with(spec: &str, caps: &Capabilities) -> Resources {
    let valid = validate(&common::with_spec(spec), &Dereferenced::offline())
        .unwrap_or_else(|e| panic!("{e}"));
    build(&valid, caps)
}

fn built(spec: &str) -> Resources {
    built_with(spec, &Capabilities::current())
}

fn clustered() -> Resources {
    built(&format!(
        "{STORE}loki: {{replicas: 3}}\ntempo: {{replicas: 5}}\n"
    ))
}

use common::config_file as config;

fn service<'a>(r: &'a Resources, name: &str) -> Option<&'a Service> {
    r.services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
}

fn budget_names(r: &Resources) -> Vec<String> {
    r.pod_disruption_budgets
        .iter()
        .filter_map(|b| b.metadata.name.clone())
        .collect()
}

/// `host:port` split, the host checked to be the members Service of `sts` in
/// namespace `ns`, and the port returned.
fn members_port(address: &str, r: &Resources, sts: &str) -> i32 {
    let (host, port) = address.rsplit_once(':').unwrap();
    let name = format!("{sts}-members");
    assert_eq!(host, format!("{name}.ns.svc"), "{address}");
    let svc = service(r, &name).unwrap_or_else(|| panic!("no Service {name}"));
    let spec = svc.spec.as_ref().unwrap();
    assert_eq!(
        spec.cluster_ip.as_deref(),
        Some("None"),
        "{name} is headless"
    );
    assert_eq!(spec.publish_not_ready_addresses, Some(true), "{name}");
    // It selects the StatefulSet's pods.
    let sts_obj = r
        .stateful_sets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(sts))
        .unwrap();
    let pod_labels = sts_obj
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap();
    for (k, v) in spec.selector.as_ref().unwrap() {
        assert_eq!(
            pod_labels.labels.as_ref().unwrap().get(k),
            Some(v),
            "{name} selects {k}={v}"
        );
    }
    let port: i32 = port.parse().unwrap();
    // The port is the Service's, and the pod's container serves it.
    let sp = spec
        .ports
        .iter()
        .flatten()
        .find(|p| p.port == port)
        .unwrap_or_else(|| panic!("{name} has no port {port}"));
    let Some(IntOrString::String(target)) = &sp.target_port else {
        panic!("{name} port {port} has no named target")
    };
    let pod = common::pod_of(r, sts);
    let served = pod.containers[0]
        .ports
        .iter()
        .flatten()
        .find(|p| &p.name.clone().unwrap_or_default() == target)
        .unwrap_or_else(|| panic!("{sts} has no container port {target}"));
    assert_eq!(served.container_port, port, "{sts} {target}");
    port
}

#[test]
fn a_clustered_loki_joins_its_members_with_three_copies() {
    let r = clustered();
    let loki = config(&r, "s-loki-config", "loki.yaml");
    let common = &loki["common"];
    assert_eq!(common["replication_factor"], 3);
    assert_eq!(common["ring"]["kvstore"]["store"], "memberlist");
    // The pod's own address, not loopback, is what the others must reach.
    assert!(common.get("instance_addr").is_none(), "{common}");
    let ml = &loki["memberlist"];
    let joins = ml["join_members"].as_array().unwrap();
    assert_eq!(joins.len(), 1);
    let join = joins[0].as_str().unwrap();
    let addr = join.strip_prefix("dns+").expect("resolved through DNS");
    let port = members_port(addr, &r, "s-loki");
    assert_eq!(ml["bind_port"], port);
    assert_eq!(ml["abort_if_cluster_join_fails"], false);
    assert_eq!(loki["ingester"]["wal"]["flush_on_shutdown"], true);
    let pod = common::pod_of(&r, "s-loki");
    assert!(
        pod.containers[0]
            .args
            .iter()
            .flatten()
            .any(|a| a == "-target=all")
    );
    let sts = r
        .stateful_sets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("s-loki"))
        .unwrap();
    assert_eq!(sts.spec.as_ref().unwrap().replicas, Some(3));
}

#[test]
fn a_clustered_tempo_runs_scalable_monolithic_with_its_frontends_found_by_dns() {
    let r = clustered();
    let tempo = config(&r, "s-tempo-config", "tempo.yaml");
    assert_eq!(
        tempo["ingester"]["lifecycler"]["ring"]["replication_factor"],
        3
    );
    assert_eq!(tempo["ingester"]["flush_all_on_shutdown"], true);
    let join = tempo["memberlist"]["join_members"][0].as_str().unwrap();
    let port = members_port(join.strip_prefix("dns+").unwrap(), &r, "s-tempo");
    assert_eq!(tempo["memberlist"]["bind_port"], port);
    // The queriers' frontend address: every pod's gRPC port.
    let frontend = tempo["querier"]["frontend_worker"]["frontend_address"]
        .as_str()
        .unwrap();
    let grpc = members_port(frontend, &r, "s-tempo");
    assert_eq!(tempo["server"]["grpc_listen_port"], grpc);
    assert_eq!(
        tempo["overrides"]["defaults"]["ingestion"]["rate_strategy"],
        "global"
    );
    let pod = common::pod_of(&r, "s-tempo");
    assert!(
        pod.containers[0]
            .args
            .iter()
            .flatten()
            .any(|a| a == "-target=scalable-single-binary")
    );
    assert!(pod.termination_grace_period_seconds.unwrap() >= 300);
}

#[test]
fn replicated_backends_get_a_budget_and_spread_unless_told_otherwise() {
    let r = clustered();
    let budgets = budget_names(&r);
    for name in ["s-loki", "s-tempo"] {
        assert!(budgets.contains(&name.to_string()), "{budgets:?}");
        let pod = common::pod_of(&r, name);
        let keys: Vec<&str> = pod
            .topology_spread_constraints
            .iter()
            .flatten()
            .map(|t| t.topology_key.as_str())
            .collect();
        assert_eq!(
            keys,
            ["kubernetes.io/hostname", "topology.kubernetes.io/zone"],
            "{name}"
        );
        for t in pod.topology_spread_constraints.iter().flatten() {
            // Never leaves a replica pending on a small cluster.
            assert_eq!(t.when_unsatisfiable, "ScheduleAnyway");
        }
    }
    let b = r
        .pod_disruption_budgets
        .iter()
        .find(|b| b.metadata.name.as_deref() == Some("s-loki"))
        .unwrap();
    let spec = b.spec.as_ref().unwrap();
    assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
    assert_eq!(
        spec.selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["app.kubernetes.io/name"],
        "loki"
    );
    // The user's spreading replaces the default.
    let own = built(&format!(
        "{STORE}loki:\n  replicas: 3\n  pod:\n    topologySpreadConstraints:\n      - {{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {{matchLabels: {{app.kubernetes.io/name: loki}}}}}}\n"
    ));
    let pod = common::pod_of(&own, "s-loki");
    let tsc = pod.topology_spread_constraints.unwrap();
    assert_eq!(tsc.len(), 1);
    assert_eq!(tsc[0].when_unsatisfiable, "DoNotSchedule");
    // A server without policy/v1 (Kubernetes 1.20) gets no budget.
    let old = built_with(
        &format!("{STORE}loki: {{replicas: 3}}\n"),
        &Capabilities::for_kube_version("1.20").unwrap(),
    );
    assert!(budget_names(&old).is_empty(), "{:?}", budget_names(&old));
}

#[test]
fn one_replica_keeps_the_single_binary_on_the_store() {
    for spec in [STORE.to_string(), format!("{STORE}loki: {{replicas: 0}}\n")] {
        let r = built(&spec);
        let loki = config(&r, "s-loki-config", "loki.yaml");
        assert_eq!(loki["common"]["instance_addr"], "127.0.0.1");
        assert_eq!(loki["common"]["replication_factor"], 1);
        assert_eq!(loki["common"]["ring"]["kvstore"]["store"], "inmemory");
        assert!(loki.get("memberlist").is_none());
        let tempo = config(&r, "s-tempo-config", "tempo.yaml");
        assert!(tempo.get("memberlist").is_none());
        assert!(tempo.get("querier").is_none());
        assert!(
            tempo["overrides"]["defaults"]["ingestion"]
                .get("rate_strategy")
                .is_none()
        );
        for name in ["s-loki-members", "s-tempo-members"] {
            assert!(service(&r, name).is_none(), "{name}");
        }
        let budgets = budget_names(&r);
        assert!(
            !budgets.iter().any(|b| b == "s-loki" || b == "s-tempo"),
            "{budgets:?}"
        );
        let pod = common::pod_of(&r, "s-tempo");
        assert!(pod.topology_spread_constraints.is_none());
        assert!(
            !pod.containers[0]
                .args
                .iter()
                .flatten()
                .any(|a| a.starts_with("-target"))
        );
    }
}

use common::errors;

#[test]
fn validation_refuses_what_cannot_replicate() {
    assert_eq!(
        errors("loki: {replicas: 3}"),
        [
            "spec.loki.replicas: more than 1 needs spec.storage.objectStore: on volumes each replica would keep its own chunks, which the others cannot read"
        ]
    );
    assert_eq!(
        errors("tempo: {replicas: 4}"),
        [
            "spec.tempo.replicas: more than 1 needs spec.storage.objectStore: on volumes each replica would keep its own blocks, which the others cannot read"
        ]
    );
    assert_eq!(
        errors(&format!("{STORE}tempo: {{replicas: 2}}")),
        [
            "spec.tempo.replicas: must be 0, 1, or 3 or more: replicas keep 3 copies of each write and need 2 of them, so with 2 replicas either one down stops ingestion"
        ]
    );
    let since = errors(&format!(
        "{}    logsSince: \"2027-01-31\"\nloki: {{replicas: 3}}",
        STORE
    ));
    assert_eq!(since.len(), 1, "{since:?}");
    assert!(
        since[0].starts_with("spec.storage.objectStore.logsSince: is for one Loki replica: the logs before 2027-01-31 stay on the first replica's volume"),
        "{since:?}"
    );
    assert_eq!(
        errors(&format!("{STORE}loki: {{replicas: 101}}")),
        ["spec.loki.replicas: must be from 0 to 100 (is 101)"]
    );
    // Allowed: a stopped or disabled backend, one replica, three or more on the store.
    for ok in [
        "loki: {replicas: 0}".to_string(),
        "tempo: {enabled: false, replicas: 3}".to_string(),
        format!("{STORE}loki: {{replicas: 3}}\ntempo: {{replicas: 100}}"),
        format!("{STORE}    logsSince: \"2027-01-31\"\ntempo: {{replicas: 3}}"),
    ] {
        assert_eq!(errors(&ok), Vec::<String>::new(), "{ok}");
    }
}

/// Every query on Tempo's generated series, in every rule file and dashboard the
/// scale-out sample renders, aggregates: three metrics-generators write three
/// series apart only in `__metrics_gen_instance` where one wrote one.
#[test]
fn queries_on_generated_series_aggregate_across_generators() {
    let (_, stack) = common::samples()
        .into_iter()
        .find(|(n, _)| n == "scale-out")
        .unwrap();
    let valid = validate(&stack, &Dereferenced::offline()).unwrap();
    let r = build(&valid, &Capabilities::current());
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match x {
                        Value::String(s) if k == "expr" || k == "query" => out.push(s.clone()),
                        _ => walk(x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut queries = Vec::new();
    for cm in &r.config_maps {
        for text in cm.data.iter().flat_map(|d| d.values()) {
            let parsed: Option<Value> = serde_json::from_str(text)
                .ok()
                .or_else(|| serde_yaml_ng::from_str(text).ok());
            if let Some(v) = parsed {
                walk(&v, &mut queries);
            }
        }
    }
    let generated: Vec<&String> = queries
        .iter()
        .filter(|q| q.contains("traces_spanmetrics") || q.contains("traces_service_graph"))
        // Grafana's variable queries list label values: duplicates do not matter.
        .filter(|q| !q.trim_start().starts_with("label_values("))
        .collect();
    assert!(
        generated.len() >= 5,
        "only {} queries on generated series found",
        generated.len()
    );
    // The check itself: a bare selector is caught.
    let bare =
        promql_parser::parser::parse("rate(traces_spanmetrics_calls_total[5m]) / 2").unwrap();
    assert_eq!(
        unaggregated(&bare, false),
        ["traces_spanmetrics_calls_total"]
    );
    for q in generated {
        // Grafana's variables, as values the parser takes.
        let parsable = q
            .replace("{$$__tags,", "{")
            .replace("{$$__tags}", "")
            .replace("$__rate_interval", "5m")
            .replace("$__interval", "1m")
            .replace("$__range", "1h");
        let parsable = without_variables(&parsable.replace("$$", "$"));
        let expr =
            promql_parser::parser::parse(&parsable).unwrap_or_else(|e| panic!("{parsable}: {e}"));
        let bare = unaggregated(&expr, false);
        assert!(
            bare.is_empty(),
            "{bare:?} not aggregated across generators in: {q}"
        );
    }
}

/// `$name` and `${name}` (dashboard variables, inside label values) as `x`.
fn without_variables(q: &str) -> String {
    let mut out = String::new();
    let mut chars = q.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let braced = chars.peek() == Some(&'{');
        if braced {
            chars.next();
        }
        while chars
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            chars.next();
        }
        if braced && chars.peek() == Some(&'}') {
            chars.next();
        }
        out.push('x');
    }
    out
}

/// The generated series a query selects outside any aggregation.
fn unaggregated(e: &promql_parser::parser::Expr, inside: bool) -> Vec<String> {
    use promql_parser::parser::Expr;
    let generated = |name: &Option<String>| {
        name.as_deref()
            .filter(|n| {
                n.starts_with("traces_spanmetrics") || n.starts_with("traces_service_graph")
            })
            .map(str::to_string)
    };
    match e {
        Expr::VectorSelector(v) if !inside => generated(&v.name).into_iter().collect(),
        Expr::MatrixSelector(m) if !inside => generated(&m.vs.name).into_iter().collect(),
        Expr::Aggregate(a) => unaggregated(&a.expr, true),
        Expr::Paren(p) => unaggregated(&p.expr, inside),
        Expr::Unary(u) => unaggregated(&u.expr, inside),
        Expr::Subquery(s) => unaggregated(&s.expr, inside),
        Expr::Binary(b) => {
            let mut out = unaggregated(&b.lhs, inside);
            out.extend(unaggregated(&b.rhs, inside));
            out
        }
        Expr::Call(c) => c
            .args
            .args
            .iter()
            .flat_map(|a| unaggregated(a, inside))
            .collect(),
        _ => Vec::new(),
    }
}
