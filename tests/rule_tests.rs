//! Every built-in alert rule fires on the series the pinned programs really
//! expose, and stays quiet on healthy ones: `promtool test rules` (Prometheus
//! 3.5.3) runs the rendered rule file of the full stack (every component,
//! autoscaling on, so `CollectorAtMaxReplicas` carries its substituted
//! `maxReplicas`) against input series built from `sextant::catalogue` only: each
//! series name is a catalogue series, and each of its labels one the catalogue
//! says the program and the scrape attach, each given a sample value.
//!
//! Per rule, one test group has the failure: no alert one minute before `for` has
//! passed, the alert with its `severity` and grouping labels after; a second has
//! healthy series and no alert. A rule without cases fails the test, so a new
//! rule cannot ship untested. One group run with the pre-fix names (no `_total`)
//! shows the rule does not fire on them and that promtool really checks.
//!
//! What this does not prove: annotations. They are removed from the rule file
//! handed to promtool (expressions, `for` and labels are the rendered ones)
//! because promtool compares annotations exactly and the rules' annotations are
//! Grafana templates, not Prometheus ones. Nor does it prove the programs emit
//! these series under these conditions (that is the catalogue's sources), nor
//! anything about Grafana's own rule evaluation.

mod common;

use std::collections::BTreeMap;

use common::queries::full_stack;
use serde_json::{Value, json};
use sextant::api::AlertRule;
use sextant::builtin::rules::{all_groups, builtin_group, builtin_rule_names};
use sextant::catalogue;
use sextant::model::Capabilities;
use sextant::render::{prometheus::RuleFile, to_yaml};

/// One input series.
#[derive(Clone, Debug)]
struct Series {
    name: String,
    labels: BTreeMap<String, String>,
    values: String,
}

impl Series {
    fn selector(&self) -> String {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(", "))
    }
}

fn sample_value(label: &str, job: &str) -> String {
    match label {
        "job" | "component" => job.into(),
        "instance" => "10.0.0.7:8080".into(),
        "namespace" => "ns".into(),
        "pod" => format!("s-{job}-0"),
        "tenant" => "single-tenant".into(),
        other => format!("sample-{other}"),
    }
}

/// A series of a catalogue family: every label the family carries, at a sample
/// value unless `set` gives one. Panics on a name or label not in the catalogue.
fn series(name: &str, set: &[(&str, &str)], values: &str) -> Series {
    let family =
        catalogue::family_of(name).unwrap_or_else(|| panic!("{name} is not in the catalogue"));
    let allowed = family.labels_of(name);
    for (k, _) in set {
        assert!(allowed.contains(k), "{name} has no label {k}: {allowed:?}");
    }
    let job = family.program.job().unwrap_or("checkout");
    let job = set
        .iter()
        .find(|(k, _)| *k == "job")
        .map_or(job, |(_, v)| v);
    let labels = allowed
        .iter()
        .filter(|l| **l != "le")
        .map(|l| {
            let v = set
                .iter()
                .find(|(k, _)| k == l)
                .map_or_else(|| sample_value(l, job), |(_, v)| v.to_string());
            (l.to_string(), v)
        })
        .collect();
    Series {
        name: name.into(),
        labels,
        values: values.into(),
    }
}

/// The cases of one rule: series where it must fire (with the labels each
/// expected alert has besides `severity`) and healthy series where it must not.
struct Case {
    rule: &'static str,
    firing: Vec<Series>,
    alerts: Vec<Vec<(String, String)>>,
    healthy: Vec<Series>,
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const RISING: &str = "0+10x60";
const FLAT: &str = "0x60";

fn cases(max_replicas: usize) -> Vec<Case> {
    let otlp = [("receiver", "otlp"), ("transport", "grpc")];
    let loki_down = series("up", &[("job", "loki")], FLAT);
    let collector_up = |i: usize, v: &str| {
        series(
            "up",
            &[("job", "collector"), ("pod", &format!("s-collector-{i}"))],
            v,
        )
    };
    let queue = |size: &str| {
        let l = [
            ("exporter", "otlp_http/prometheus"),
            ("data_type", "metrics"),
        ];
        vec![
            series("otelcol_exporter_queue_size", &l, size),
            series("otelcol_exporter_queue_capacity", &l, "5000x60"),
        ]
    };
    // One pod volume as the node agent's kubeletstats reports it, 100 bytes big.
    let volume = |available: &str| {
        let l = [
            ("k8s_namespace_name", "team-a"),
            ("k8s_pod_name", "db-0"),
            ("k8s_volume_name", "data"),
        ];
        vec![
            series("k8s_volume_available_bytes", &l, available),
            series("k8s_volume_capacity_bytes", &l, "100x60"),
        ]
    };
    // One container as the cluster collector's k8s_cluster receiver reports
    // it, with the reason it last stopped.
    let container = |reason: &str, restarts: &str| {
        series(
            "k8s_container_restarts",
            &[
                ("k8s_namespace_name", "team-a"),
                ("k8s_pod_name", "api-7d9f-x2"),
                ("k8s_container_name", "api"),
                ("k8s_container_status_last_terminated_reason", reason),
            ],
            restarts,
        )
    };
    let container_alert = labels(&[
        ("k8s_namespace_name", "team-a"),
        ("k8s_pod_name", "api-7d9f-x2"),
        ("k8s_container_name", "api"),
    ]);
    let node = |ready: &str| {
        vec![series(
            "k8s_node_condition_ready",
            &[("k8s_node_name", "node-2")],
            ready,
        )]
    };
    // A target of the annotation discovery: the scrape labels but `component`.
    let discovered = |values: &str| {
        let mut s = series(
            "up",
            &[("job", "kubernetes-pods"), ("pod", "api-7d9f-x2")],
            values,
        );
        s.labels.remove("component");
        s
    };
    vec![
        Case {
            rule: "CollectorRefusingData",
            firing: vec![
                series("otelcol_receiver_refused_spans_total", &otlp, RISING),
                series("otelcol_receiver_accepted_spans_total", &otlp, RISING),
            ],
            alerts: vec![labels(&[("receiver", "otlp")])],
            healthy: vec![
                series("otelcol_receiver_refused_spans_total", &otlp, FLAT),
                series("otelcol_receiver_accepted_log_records_total", &otlp, RISING),
            ],
        },
        Case {
            rule: "CollectorDroppingData",
            firing: vec![
                series(
                    "otelcol_exporter_send_failed_spans_total",
                    &[("exporter", "otlp_grpc/tempo")],
                    RISING,
                ),
                series(
                    "otelcol_exporter_enqueue_failed_log_records_total",
                    &[("exporter", "otlp_http/loki")],
                    RISING,
                ),
            ],
            alerts: vec![
                labels(&[("exporter", "otlp_grpc/tempo")]),
                labels(&[("exporter", "otlp_http/loki")]),
            ],
            // The failure counters exist only after a first failure.
            healthy: vec![
                series(
                    "otelcol_exporter_sent_spans_total",
                    &[("exporter", "otlp_grpc/tempo")],
                    RISING,
                ),
                series(
                    "otelcol_exporter_send_failed_metric_points_total",
                    &[("exporter", "otlp_http/prometheus")],
                    "7x60",
                ),
            ],
        },
        Case {
            rule: "CollectorQueueNearlyFull",
            firing: queue("4500x60"),
            alerts: vec![labels(&[("exporter", "otlp_http/prometheus")])],
            healthy: queue("100x60"),
        },
        Case {
            rule: "StackComponentDown",
            // Loki's pod does not answer; Tempo has no scraped pod at all.
            alerts: vec![
                loki_down.labels.clone().into_iter().collect(),
                labels(&[("job", "tempo")]),
            ],
            firing: vec![
                loki_down.clone(),
                collector_up(0, "1x60"),
                series("up", &[("job", "node-agent")], "1x60"),
                series("up", &[("job", "cluster-collector")], "1x60"),
            ],
            healthy: vec![
                Series {
                    values: "1x60".into(),
                    ..loki_down.clone()
                },
                series("up", &[("job", "tempo")], "1x60"),
                collector_up(0, "1x60"),
                series("up", &[("job", "node-agent")], "1x60"),
                series("up", &[("job", "cluster-collector")], "1x60"),
            ],
        },
        Case {
            rule: "LokiIngestionErrors",
            firing: vec![
                series(
                    "loki_discarded_samples_total",
                    &[("reason", "rate_limited")],
                    RISING,
                ),
                series("loki_distributor_lines_received_total", &[], RISING),
            ],
            alerts: vec![labels(&[("reason", "rate_limited")])],
            healthy: vec![
                series(
                    "loki_discarded_samples_total",
                    &[("reason", "rate_limited")],
                    FLAT,
                ),
                series("loki_distributor_lines_received_total", &[], RISING),
            ],
        },
        Case {
            rule: "TempoIngestionErrors",
            firing: vec![
                series(
                    "tempo_discarded_spans_total",
                    &[("reason", "trace_too_large")],
                    RISING,
                ),
                series("tempo_distributor_spans_received_total", &[], RISING),
            ],
            alerts: vec![labels(&[("reason", "trace_too_large")])],
            healthy: vec![
                series(
                    "tempo_discarded_spans_total",
                    &[("reason", "trace_too_large")],
                    FLAT,
                ),
                series("tempo_distributor_spans_received_total", &[], RISING),
            ],
        },
        Case {
            rule: "TempoGeneratorSeriesLimited",
            firing: vec![
                series(
                    "tempo_metrics_generator_registry_series_limited_total",
                    &[],
                    RISING,
                ),
                series(
                    "tempo_metrics_generator_registry_active_series",
                    &[],
                    "100000x60",
                ),
            ],
            alerts: vec![labels(&[])],
            healthy: vec![
                series(
                    "tempo_metrics_generator_registry_series_limited_total",
                    &[],
                    FLAT,
                ),
                series(
                    "tempo_metrics_generator_registry_active_series",
                    &[],
                    "5000x60",
                ),
            ],
        },
        Case {
            rule: "KubernetesVolumeNearlyFull",
            firing: volume("5x60"),
            alerts: vec![labels(&[
                ("k8s_namespace_name", "team-a"),
                ("k8s_pod_name", "db-0"),
                ("k8s_volume_name", "data"),
            ])],
            healthy: volume("50x60"),
        },
        Case {
            rule: "KubernetesPodCrashLooping",
            // A restart a minute; a container that restarted 4 times long ago
            // and runs since is not looping.
            firing: vec![container("Error", "0+1x60")],
            alerts: vec![container_alert.clone()],
            healthy: vec![container("Error", "4x60")],
        },
        Case {
            rule: "KubernetesContainerOomKilled",
            firing: vec![container("OOMKilled", "0+1x60")],
            alerts: vec![container_alert.clone()],
            // Restarting, but not for memory; OOM-killed once, long ago.
            healthy: vec![
                container("Error", "0+1x60"),
                series(
                    "k8s_container_restarts",
                    &[
                        ("k8s_namespace_name", "team-a"),
                        ("k8s_pod_name", "worker-0"),
                        ("k8s_container_name", "worker"),
                        ("k8s_container_status_last_terminated_reason", "OOMKilled"),
                    ],
                    "1x60",
                ),
            ],
        },
        Case {
            rule: "KubernetesNodeNotReady",
            firing: node("0x60"),
            alerts: vec![labels(&[("k8s_node_name", "node-2")])],
            healthy: node("1x60"),
        },
        Case {
            rule: "ScrapeTargetDown",
            // A discovered target (no `component`) does not answer; a stack
            // component that does not answer is StackComponentDown's, not this.
            firing: vec![discovered("0x60"), loki_down.clone()],
            alerts: vec![discovered("0x60").labels.into_iter().collect()],
            healthy: vec![discovered("1x60"), loki_down.clone()],
        },
        Case {
            rule: "CollectorAtMaxReplicas",
            firing: (0..max_replicas).map(|i| collector_up(i, "1x60")).collect(),
            alerts: vec![vec![]],
            healthy: (0..max_replicas)
                .map(|i| collector_up(i, if i == 0 { FLAT } else { "1x60" }))
                .collect(),
        },
    ]
}

/// Minutes of a Prometheus duration of whole minutes ("5m", "1h").
fn minutes(d: &str) -> u64 {
    if let Some(m) = d.strip_suffix('m') {
        m.parse().unwrap()
    } else if let Some(h) = d.strip_suffix('h') {
        h.parse::<u64>().unwrap() * 60
    } else {
        panic!("for: {d} is not whole minutes or hours")
    }
}

fn input(series: &[Series]) -> Value {
    series
        .iter()
        .map(|s| json!({"series": s.selector(), "values": s.values}))
        .collect()
}

fn alert(rule: &AlertRule, labels: &[(String, String)]) -> Value {
    let mut l: BTreeMap<String, String> = labels.iter().cloned().collect();
    l.extend(rule.labels.clone());
    json!({ "exp_labels": l })
}

/// Minutes before a rule's expression can be true at all: the longest
/// `offset` it compares a series with (no sample exists that far back at the
/// start of the input series).
fn warmup(expr: &str) -> u64 {
    expr.split("offset ")
        .skip(1)
        .map(|rest| {
            minutes(
                rest.split(|c: char| !c.is_ascii_alphanumeric())
                    .next()
                    .unwrap(),
            )
        })
        .max()
        .unwrap_or(0)
}

/// The promtool test groups of one case.
fn test_groups(rule: &AlertRule, case: &Case) -> Vec<Value> {
    let hold = minutes(rule.for_.as_deref().expect("built-in rules have a for"));
    let hold = hold + warmup(&rule.expr);
    let fire_at = format!("{}m", hold + 5);
    let expected: Vec<Value> = case.alerts.iter().map(|l| alert(rule, l)).collect();
    vec![
        json!({
            "name": format!("{} fires", rule.alert),
            "interval": "1m",
            "input_series": input(&case.firing),
            "alert_rule_test": [
                {"eval_time": format!("{}m", hold - 1), "alertname": rule.alert, "exp_alerts": []},
                {"eval_time": fire_at, "alertname": rule.alert, "exp_alerts": expected},
            ],
        }),
        json!({
            "name": format!("{} stays quiet on healthy series", rule.alert),
            "interval": "1m",
            "input_series": input(&case.healthy),
            "alert_rule_test": [
                {"eval_time": fire_at, "alertname": rule.alert, "exp_alerts": []},
            ],
        }),
    ]
}

/// The rendered rule file of the full stack, annotations removed.
fn rule_file_without_annotations() -> String {
    let file = RuleFile {
        groups: all_groups(&full_stack(), &Capabilities::current()),
    };
    let mut v: Value = serde_yaml_ng::from_str(&to_yaml(&file)).unwrap();
    for group in v["groups"].as_array_mut().unwrap() {
        for rule in group["rules"].as_array_mut().unwrap() {
            rule.as_object_mut().unwrap().remove("annotations");
        }
    }
    serde_yaml_ng::to_string(&v).unwrap()
}

/// Runs promtool on the test groups; (success, output).
fn promtool_test(promtool: &std::path::Path, groups: Vec<Value>) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        rule_file_without_annotations(),
    )
    .unwrap();
    let tests = json!({
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": groups,
    });
    let path = dir.path().join("tests.yml");
    std::fs::write(&path, serde_yaml_ng::to_string(&tests).unwrap()).unwrap();
    common::run(promtool, &["test", "rules", path.to_str().unwrap()])
}

#[test]
fn every_builtin_rule_has_cases_on_catalogue_series() {
    let stack = full_stack();
    let rules = builtin_group(&stack, &Capabilities::current())
        .expect("built-in rules")
        .rules;
    let names: Vec<&str> = rules.iter().map(|r| r.alert.as_str()).collect();
    assert_eq!(names, builtin_rule_names(), "the full stack has every rule");
    let max = stack.spec.collector.autoscaling.max_replicas as usize;
    let cases = cases(max);
    for name in &names {
        assert!(
            cases.iter().any(|c| c.rule == *name),
            "built-in rule {name} has no promtool test case: add one to tests/rule_tests.rs"
        );
    }
    for c in &cases {
        let rule = rules
            .iter()
            .find(|r| r.alert == c.rule)
            .unwrap_or_else(|| panic!("case for unknown rule {}", c.rule));
        // The firing and the healthy series both include series the rule's
        // expression selects; the others are context a healthy collector has.
        let selected = common::names::check(&rule.expr);
        assert!(
            selected.problems.is_empty(),
            "{}: {:?}",
            c.rule,
            selected.problems
        );
        for (what, input) in [("firing", &c.firing), ("healthy", &c.healthy)] {
            assert!(
                input.iter().any(|s| selected.series.contains(&s.name)),
                "{}: no {what} series is selected by {}",
                c.rule,
                rule.expr
            );
        }
    }
    let at_max = rules
        .iter()
        .find(|r| r.alert == "CollectorAtMaxReplicas")
        .unwrap();
    assert!(
        at_max.expr.ends_with(&format!(">= {max}")),
        "{}",
        at_max.expr
    );
}

#[test]
fn promtool_runs_every_builtin_rule_on_catalogue_series() {
    let Some(promtool) = common::tool("promtool") else {
        return;
    };
    let stack = full_stack();
    let rules = builtin_group(&stack, &Capabilities::current())
        .expect("built-in rules")
        .rules;
    let cases = cases(stack.spec.collector.autoscaling.max_replicas as usize);
    let mut groups = Vec::new();
    for rule in &rules {
        let case = cases
            .iter()
            .find(|c| c.rule == rule.alert)
            .unwrap_or_else(|| panic!("built-in rule {} has no promtool test case", rule.alert));
        groups.extend(test_groups(rule, case));
    }
    assert_eq!(groups.len(), 2 * builtin_rule_names().len());
    assert_eq!(warmup("a - a offset 15m >= 2 and b offset 1h"), 60);
    assert_eq!(warmup("up == 0"), 0);
    let (ok, out) = promtool_test(&promtool, groups);
    assert!(ok, "promtool test rules failed:\n{out}");
    assert!(out.contains("SUCCESS"), "{out}");

    // The rule does not fire on the names before the fix (no `_total`), so the
    // same expectation fails: promtool really evaluates.
    let rule = rules
        .iter()
        .find(|r| r.alert == "CollectorRefusingData")
        .unwrap();
    let mut case = cases.into_iter().find(|c| c.rule == rule.alert).unwrap();
    for s in &mut case.firing {
        s.name = s.name.trim_end_matches("_total").to_string();
    }
    let (ok, out) = promtool_test(&promtool, test_groups(rule, &case));
    assert!(
        !ok,
        "CollectorRefusingData fired on names without _total:\n{out}"
    );
    assert!(out.contains("CollectorRefusingData fires"), "{out}");
}

/// The rules follow what runs, not the spec alone: an install without
/// cluster-wide collection runs no node agent, so `StackComponentDown` does not
/// wait for its pods and `KubernetesVolumeNearlyFull` (its data) is left out, as
/// it is when the agent collects no kubelet stats; a
/// stack that discovers nothing gets no `ScrapeTargetDown`.
#[test]
fn rules_follow_what_the_stack_runs_and_discovers() {
    let expr = |stack: &sextant::model::ValidatedStack, caps: &Capabilities, name: &str| {
        builtin_group(stack, caps)
            .expect("built-in rules")
            .rules
            .into_iter()
            .find(|r| r.alert == name)
            .map(|r| r.expr)
    };
    let full = full_stack();
    let cluster = Capabilities::current();
    let namespaced = Capabilities::current().with_cluster_roles(None);
    let down = expr(&full, &cluster, "StackComponentDown").unwrap();
    assert!(down.contains(r#"up{job="node-agent"}"#), "{down}");
    let down = expr(&full, &namespaced, "StackComponentDown").unwrap();
    assert!(!down.contains("node-agent"), "{down}");
    assert!(expr(&full, &cluster, "KubernetesVolumeNearlyFull").is_some());
    assert!(expr(&full, &namespaced, "KubernetesVolumeNearlyFull").is_none());

    let no_stats = sextant::validate::validate(
        &common::with_spec("nodeAgent: {kubeletMetrics: {enabled: false}}"),
        &sextant::validate::Dereferenced::offline(),
    )
    .unwrap();
    assert!(expr(&no_stats, &cluster, "KubernetesVolumeNearlyFull").is_none());

    // The cluster's state: only where the cluster collector runs and reports it.
    let state_rules = [
        "KubernetesPodCrashLooping",
        "KubernetesContainerOomKilled",
        "KubernetesNodeNotReady",
    ];
    let no_state = sextant::validate::validate(
        &common::with_spec("clusterCollector: {state: {enabled: false}}"),
        &sextant::validate::Dereferenced::offline(),
    )
    .unwrap();
    for rule in state_rules {
        assert!(expr(&full, &cluster, rule).is_some(), "{rule}");
        assert!(expr(&full, &namespaced, rule).is_none(), "{rule}");
        assert!(expr(&no_state, &cluster, rule).is_none(), "{rule}");
    }
    let down = expr(&full, &cluster, "StackComponentDown").unwrap();
    assert!(down.contains(r#"up{job="cluster-collector"}"#), "{down}");
    let down = expr(&full, &namespaced, "StackComponentDown").unwrap();
    assert!(!down.contains("cluster-collector"), "{down}");

    assert!(expr(&full, &cluster, "ScrapeTargetDown").is_some());
    let quiet = sextant::validate::validate(
        &common::with_spec("prometheus: {discovery: {annotations: false}}"),
        &sextant::validate::Dereferenced::offline(),
    )
    .unwrap();
    assert!(expr(&quiet, &cluster, "ScrapeTargetDown").is_none());
    let monitors = sextant::validate::validate(
        &common::with_spec(
            "prometheus: {discovery: {annotations: false}, monitorSelector: {matchLabels: {team: a}}}",
        ),
        &sextant::validate::Dereferenced::offline(),
    )
    .unwrap();
    assert!(expr(&monitors, &cluster, "ScrapeTargetDown").is_some());
}
