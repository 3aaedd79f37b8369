//! Prometheus in replicas (`spec.prometheus.replicas: 2`): the parts the
//! rendered configs and children must agree on for every replica to receive
//! every sample and for Grafana to read them merged: each writer's addresses
//! are Services that select exactly one replica's pod; the Query reads each
//! replica's sidecar on the port it serves and deduplicates on the label the
//! replicas set; Grafana's datasource is the Query's Service. Also what one
//! replica keeps as before, and what validation refuses.
//!
//! No Thanos runs here: its flags and behaviour were read at thanos-io/thanos
//! v0.42.4 (`src/build/prometheus_ha.rs`). The real Prometheus expanding the
//! replica label is `tests/prometheus_real.rs`
//! (`each_replica_reports_its_pod_name_as_the_replica_label`).

mod common;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodTemplateSpec, Service};
use serde_json::Value;
use sextant::build::{Resources, build};
use sextant::model::Capabilities;
use sextant::validate::{Dereferenced, validate};

fn built_with(spec: &str, caps: &Capabilities) -> Resources {
    let valid = validate(&common::with_spec(spec), &Dereferenced::offline())
        .unwrap_or_else(|e| panic!("{e}"));
    build(&valid, caps)
}

fn pair() -> Resources {
    built_with(
        "prometheus: {replicas: 2}\nnetworkPolicies: {enabled: true}\n",
        &Capabilities::current(),
    )
}

fn service<'a>(r: &'a Resources, name: &str) -> &'a Service {
    r.services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no Service {name}"))
}

fn template<'a>(r: &'a Resources, name: &str) -> &'a PodTemplateSpec {
    let named = |n: &Option<String>| n.as_deref() == Some(name);
    r.stateful_sets
        .iter()
        .find(|s| named(&s.metadata.name))
        .map(|s| &s.spec.as_ref().unwrap().template)
        .or_else(|| {
            r.deployments
                .iter()
                .find(|d| named(&d.metadata.name))
                .map(|d| &d.spec.as_ref().unwrap().template)
        })
        .unwrap_or_else(|| panic!("no workload {name}"))
}

fn pod_labels(t: &PodTemplateSpec) -> BTreeMap<String, String> {
    t.metadata.as_ref().unwrap().labels.clone().unwrap()
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The labels pod `i` of StatefulSet `sts` carries: its template's, and the
/// pod-name label the StatefulSet controller adds.
fn replica_pod_labels(r: &Resources, sts: &str, i: i32) -> BTreeMap<String, String> {
    let mut l = pod_labels(template(r, sts));
    l.insert(
        "statefulset.kubernetes.io/pod-name".into(),
        format!("{sts}-{i}"),
    );
    l
}

/// `http://host:port/...` -> (`host`, `port`).
fn host_port(url: &str) -> (String, i32) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap();
    let (host, port) = authority.rsplit_once(':').unwrap();
    (host.to_string(), port.parse().unwrap())
}

/// The Service behind `host` (`<name>.ns.svc`) serves `port`, and the
/// replicas of `s-prometheus` it selects.
fn replicas_behind(r: &Resources, host: &str, port: i32) -> Vec<i32> {
    let name = host.strip_suffix(".ns.svc").unwrap();
    let spec = service(r, name).spec.as_ref().unwrap();
    assert!(
        spec.ports.iter().flatten().any(|p| p.port == port),
        "{name} serves {port}"
    );
    let selector = spec.selector.clone().unwrap();
    (0..2)
        .filter(|i| selects(&selector, &replica_pod_labels(r, "s-prometheus", *i)))
        .collect()
}

#[test]
fn every_writer_reaches_each_replica_through_its_own_service() {
    let r = pair();
    let sts = r
        .stateful_sets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("s-prometheus"))
        .unwrap();
    assert_eq!(sts.spec.as_ref().unwrap().replicas, Some(2));
    // The collector: one exporter per replica, all in the metrics pipelines.
    let collector = common::config_file(&r, "s-collector-config", "config.yaml");
    let exporters = collector["exporters"].as_object().unwrap();
    let to_prometheus: Vec<(&String, &Value)> = exporters
        .iter()
        .filter(|(k, _)| k.starts_with("otlp_http/prometheus"))
        .collect();
    assert_eq!(to_prometheus.len(), 2, "{exporters:?}");
    let mut reached = Vec::new();
    for (id, e) in &to_prometheus {
        let (host, port) = host_port(e["endpoint"].as_str().unwrap());
        let behind = replicas_behind(&r, &host, port);
        assert_eq!(behind.len(), 1, "{id} reaches exactly one replica");
        reached.extend(behind);
        for pipeline in ["metrics", "metrics/node"] {
            let list = &collector["service"]["pipelines"][pipeline]["exporters"];
            assert!(
                list.as_array().unwrap().iter().any(|x| x == *id),
                "{pipeline}: {list}"
            );
        }
    }
    reached.sort();
    assert_eq!(reached, vec![0, 1]);
    // Tempo's metrics-generator: a remote write per replica.
    let tempo = common::config_file(&r, "s-tempo-config", "tempo.yaml");
    let writes = tempo["metrics_generator"]["storage"]["remote_write"]
        .as_array()
        .unwrap();
    let mut reached: Vec<i32> = writes
        .iter()
        .flat_map(|w| {
            let (host, port) = host_port(w["url"].as_str().unwrap());
            replicas_behind(&r, &host, port)
        })
        .collect();
    reached.sort();
    assert_eq!(reached, vec![0, 1], "{writes:?}");
}

#[test]
fn the_query_reads_every_sidecar_and_merges_on_the_label_the_replicas_set() {
    let r = pair();
    let prometheus = template(&r, "s-prometheus").spec.as_ref().unwrap();
    let names: Vec<&str> = prometheus
        .containers
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["prometheus", "thanos-sidecar"]);
    let sidecar = &prometheus.containers[1];
    let args = sidecar.args.clone().unwrap();
    assert_eq!(args[0], "sidecar");
    assert!(args.contains(&"--prometheus.url=http://localhost:9090".to_string()));
    // The sidecar's gRPC port is a named container port the replica Services
    // forward to.
    let grpc = sidecar
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some("grpc"))
        .unwrap()
        .container_port;
    assert!(
        args.contains(&format!("--grpc-address=:{grpc}")),
        "{args:?}"
    );
    // The data volume, read-only: it uploads nothing.
    let mount = sidecar.volume_mounts.as_ref().unwrap();
    assert_eq!(
        (mount[0].name.as_str(), mount[0].read_only),
        ("data", Some(true))
    );

    let query = template(&r, "s-prometheus-query").spec.as_ref().unwrap();
    let args = query.containers[0].args.clone().unwrap();
    assert_eq!(args[0], "query");
    let flag = |name: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {args:?}"))
    };
    let sd: Value = serde_json::from_str(flag("--endpoint.sd-config")).unwrap();
    let mut reached: Vec<i32> = sd["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| {
            let (host, port) = host_port(e["address"].as_str().unwrap());
            assert_eq!(port, grpc);
            let name = host.strip_suffix(".ns.svc").unwrap();
            let svc = service(&r, name).spec.as_ref().unwrap();
            let target = svc
                .ports
                .iter()
                .flatten()
                .find(|p| p.port == port)
                .and_then(|p| p.target_port.clone());
            assert_eq!(
                target,
                Some(
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(
                        "grpc".into()
                    )
                )
            );
            replicas_behind(&r, &host, port)
        })
        .collect();
    reached.sort();
    assert_eq!(reached, vec![0, 1]);
    // The label the Query merges on is the external label each replica sets
    // from an environment variable holding its pod's name.
    let label = flag("--query.replica-label");
    let config = common::config_file(&r, "s-prometheus-config", "prometheus.yml");
    let value = config["global"]["external_labels"][label].as_str().unwrap();
    let var = value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .unwrap();
    let env = prometheus.containers[0].env.clone().unwrap();
    let e = env.iter().find(|e| e.name == var).unwrap();
    assert_eq!(
        e.value_from
            .as_ref()
            .and_then(|v| v.field_ref.as_ref())
            .map(|f| f.field_path.as_str()),
        Some("metadata.name")
    );
    // The Query's pods are not Prometheus's: no Prometheus selector takes them.
    let query_labels = pod_labels(template(&r, "s-prometheus-query"));
    let prometheus_selector = service(&r, "s-prometheus")
        .spec
        .clone()
        .unwrap()
        .selector
        .unwrap();
    assert!(!selects(&prometheus_selector, &query_labels));
}

#[test]
fn grafana_reads_the_query_as_thanos() {
    let r = pair();
    let ds = common::config_file(&r, "s-grafana-config", "datasources.yaml");
    let p = ds["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "prometheus")
        .unwrap();
    let (host, port) = host_port(p["url"].as_str().unwrap());
    assert_eq!(host, "s-prometheus-query.ns.svc");
    let svc = service(&r, "s-prometheus-query").spec.as_ref().unwrap();
    assert!(svc.ports.iter().flatten().any(|p| p.port == port));
    assert!(selects(
        svc.selector.as_ref().unwrap(),
        &pod_labels(template(&r, "s-prometheus-query"))
    ));
    let query = template(&r, "s-prometheus-query").spec.as_ref().unwrap();
    let args = query.containers[0].args.clone().unwrap();
    assert!(
        args.contains(&format!("--http-address=:{port}")),
        "{args:?}"
    );
    assert_eq!(p["jsonData"]["prometheusType"], "Thanos");
}

#[test]
fn replicas_get_budgets_spreading_and_network_rules() {
    let r = pair();
    let budgets: BTreeMap<String, BTreeMap<String, String>> = r
        .pod_disruption_budgets
        .iter()
        .filter(|b| {
            b.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("s-prometheus"))
        })
        .map(|b| {
            (
                b.metadata.name.clone().unwrap(),
                b.spec
                    .clone()
                    .unwrap()
                    .selector
                    .unwrap()
                    .match_labels
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(budgets.len(), 2, "{budgets:?}");
    let prom = pod_labels(template(&r, "s-prometheus"));
    let query = pod_labels(template(&r, "s-prometheus-query"));
    assert!(selects(&budgets["s-prometheus"], &prom));
    assert!(!selects(&budgets["s-prometheus"], &query));
    assert!(selects(&budgets["s-prometheus-query"], &query));
    assert!(!selects(&budgets["s-prometheus-query"], &prom));
    for name in ["s-prometheus", "s-prometheus-query"] {
        let spread = template(&r, name)
            .spec
            .as_ref()
            .unwrap()
            .topology_spread_constraints
            .clone()
            .unwrap();
        assert_eq!(spread.len(), 2, "{name}");
    }
    assert_eq!(
        template(&r, "s-prometheus-query")
            .spec
            .as_ref()
            .and_then(|s| s.security_context.as_ref())
            .and_then(|s| s.run_as_user),
        Some(sextant::model::images::THANOS_UID)
    );
    // The Query reaches the sidecars; Grafana reaches the Query.
    let policy = |name: &str| {
        r.network_policies
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no NetworkPolicy {name}"))
            .spec
            .clone()
            .unwrap()
    };
    let admits = |name: &str, from: &BTreeMap<String, String>, port: i32| {
        policy(name).ingress.unwrap().iter().any(|rule| {
            rule.ports.iter().flatten().any(|p| {
                p.port == Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(port))
            }) && rule.from.iter().flatten().any(|peer| {
                peer.pod_selector
                    .as_ref()
                    .and_then(|s| s.match_labels.as_ref())
                    .is_some_and(|sel| selects(sel, from))
            })
        })
    };
    let grafana = pod_labels(template(&r, "s-grafana"));
    assert!(admits("s-prometheus", &query, 10901));
    assert!(admits("s-prometheus-query", &grafana, 10902));
    assert!(!admits("s-prometheus-query", &prom, 10902));
    assert!(selects(
        policy("s-prometheus-query")
            .pod_selector
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap(),
        &query
    ));
    // Servers without policy/v1 get no budgets.
    let old = built_with("prometheus: {replicas: 2}\n", &Capabilities::for_minor(20));
    assert!(
        old.pod_disruption_budgets.is_empty(),
        "{:?}",
        old.pod_disruption_budgets
    );
}

#[test]
fn one_replica_runs_no_thanos() {
    let r = built_with("{}\n", &Capabilities::current());
    let prometheus = template(&r, "s-prometheus").spec.as_ref().unwrap();
    assert_eq!(prometheus.containers.len(), 1);
    assert!(r.deployments.iter().all(|d| {
        d.metadata
            .name
            .as_deref()
            .is_some_and(|n| !n.contains("query"))
    }));
    assert!(r.services.iter().all(|s| {
        !matches!(
            s.metadata.name.as_deref(),
            Some("s-prometheus-0" | "s-prometheus-1" | "s-prometheus-query")
        )
    }));
    let config = common::config_file(&r, "s-prometheus-config", "prometheus.yml");
    let labels: Vec<&String> = config["global"]["external_labels"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(labels, ["sextant_stack"], "no replica label");
    let ds = common::config_file(&r, "s-grafana-config", "datasources.yaml");
    let url = ds["datasources"][0]["url"].as_str().unwrap();
    assert_eq!(url, "http://s-prometheus.ns.svc:9090");
    let collector = common::config_file(&r, "s-collector-config", "config.yaml");
    assert!(collector["exporters"].get("otlp_http/prometheus").is_some());
}

#[test]
fn validation_names_the_field_and_the_rule() {
    let cases = [
        (
            "prometheus: {replicas: 4}\n",
            "spec.prometheus.replicas: must be from 0 to 3 (is 4)",
        ),
        (
            "prometheus: {replicas: 2, query: {replicas: 0}}\n",
            "spec.prometheus.query.replicas: must be from 1 to 10 (is 0)",
        ),
        (
            "prometheus: {replicas: 2, query: {image: ' '}}\n",
            "spec.prometheus.query.image: must not be empty",
        ),
        (
            "prometheus: {replicas: 2, query: {resources: {limits: {memory: lots}}}}\n",
            "spec.prometheus.query.resources.limits.memory",
        ),
        (
            "prometheus: {replicas: 2, pod: {env: [{name: POD_NAME, value: x}]}}\n",
            "spec.prometheus.pod.env[0].name: POD_NAME is set by sextant",
        ),
    ];
    for (spec, want) in cases {
        let errors = common::errors(spec);
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "{spec}: {errors:?}"
        );
    }
    assert_eq!(
        common::errors("prometheus: {replicas: 3}\n"),
        Vec::<String>::new()
    );
}
