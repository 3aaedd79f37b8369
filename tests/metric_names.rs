//! Every metric a shipped query names is one a pinned program produces.
//!
//! The queries are the built-in alert rules (full stack: every component,
//! autoscaling on), the sample stacks' own rules, every PromQL query and
//! Prometheus variable of the built-in dashboards (Grafana variables at sample
//! values), the Tempo service-map filters (applied to the metrics Grafana's Tempo
//! datasource queries), and the ```promql blocks of the runbooks. Each is checked
//! against `sextant::catalogue` with `common::names`: unknown metric names,
//! `__name__` regex alternatives that name no real series, label names a series
//! does not carry (in matchers, `by`/`without`, `on`, `group_left`, `le` of
//! `histogram_quantile`, `label_values`), and `job` values that are not scrape
//! jobs. The labels the catalogue says Prometheus adds on the way in are checked
//! against the rendered `prometheus.yml` and `tempo.yaml`, and the collector's
//! naming options against the rendered collector config. Each check is shown to
//! fail on a known-bad query.
//!
//! What this does not prove: that the catalogue matches upstream beyond what its
//! sources say (Grafana names were not verified at v12.4.12, Loki was read at
//! v3.7.6, the contrib sampler metric was not tag-verified; nothing here runs the
//! programs), that label values other than `job` exist, or anything about
//! LogQL/TraceQL queries.

mod common;

use std::collections::BTreeSet;

use common::names::{Report, check, check_filter, check_label_values, expand};
use common::queries::{
    Lang, dashboards, fenced_blocks, full_stack, label_values_args, queries, read_runbook,
    substitute, variable_values, variables,
};
use serde_json::Value;
use sextant::builtin::rules::{builtin_group, builtin_rule_names};
use sextant::catalogue::{self, OTLP_LABELS, POD_SCRAPE_LABELS, Program, SELF_SCRAPE_LABELS};
use sextant::model::Capabilities;
use sextant::render::{otelcol, prometheus, tempo, to_yaml};

/// The series Grafana's Tempo datasource queries for the service map, its filter
/// added to each (public/app/plugins/datasource/tempo/graphTransform.ts of
/// grafana/grafana: `serviceMapMetrics`; stored version, not verified at v12.4.12).
const SERVICE_MAP: &[&str] = &[
    "traces_service_graph_request_server_seconds_sum",
    "traces_service_graph_request_total",
    "traces_service_graph_request_failed_total",
    "traces_service_graph_request_server_seconds_bucket",
];

/// One checked query: where it is, its text, and the result.
struct Checked {
    place: String,
    query: String,
    report: Report,
}

/// Every shipped query, checked.
fn checked() -> Vec<Checked> {
    let mut out = Vec::new();
    let mut push = |place: String, query: String, report: Report| {
        out.push(Checked {
            place,
            query,
            report,
        })
    };
    for rule in builtin_group(&full_stack(), &Capabilities::current())
        .expect("built-in rules")
        .rules
    {
        push(
            format!("rule {}", rule.alert),
            rule.expr.clone(),
            check(&rule.expr),
        );
    }
    for (name, stack) in common::samples() {
        for group in &stack.spec.grafana.alerting.rule_groups {
            for rule in &group.rules {
                push(
                    format!("sample {name} rule {}", rule.alert),
                    rule.expr.clone(),
                    check(&rule.expr),
                );
            }
        }
    }
    for (name, dash) in dashboards() {
        let values = variable_values(&dash, false);
        for q in queries(&dash) {
            let place = format!("dashboard {name} {}", q.place);
            let text = substitute(&q.text, &values).unwrap_or_else(|e| panic!("{place}: {e}"));
            match q.lang {
                Lang::PromQL => push(place, text.clone(), check(&text)),
                // Service-map filters; variables' selectors are checked below.
                Lang::PromSelector if q.place.starts_with("panel") => {
                    push(place, text.clone(), check_filter(&text, SERVICE_MAP))
                }
                _ => {}
            }
        }
        for v in variables(&dash) {
            if v["type"] != "query" || v["datasource"]["type"] != "prometheus" {
                continue;
            }
            let q = &v["query"];
            let text = q.as_str().or(q["query"].as_str()).unwrap_or("");
            let text = substitute(text, &values).unwrap();
            let place = format!("dashboard {name} variable {}", v["name"]);
            match label_values_args(&text) {
                Some((Some(selector), label)) => {
                    push(place, text.clone(), check_label_values(&selector, &label))
                }
                Some((None, label)) => push(
                    place,
                    text.clone(),
                    check_label_values(&format!("{{{label}=~\".+\"}}"), &label),
                ),
                None => push(place, text.clone(), check(&text)),
            }
        }
    }
    for rule in builtin_rule_names() {
        for q in fenced_blocks(&read_runbook(rule).unwrap(), "promql") {
            push(format!("runbook {rule}"), q.clone(), check(&q));
        }
    }
    out
}

fn problems(all: &[Checked]) -> Vec<String> {
    all.iter()
        .flat_map(|c| {
            c.report
                .problems
                .iter()
                .map(move |p| format!("{}: {}\n    query: {}", c.place, p, c.query))
        })
        .collect()
}

#[test]
fn every_shipped_query_names_series_a_pinned_program_produces() {
    let all = checked();
    let count = |prefix: &str| all.iter().filter(|c| c.place.starts_with(prefix)).count();
    assert_eq!(count("rule "), builtin_rule_names().len());
    assert!(
        count("dashboard ") > 60,
        "only {} dashboard queries",
        count("dashboard ")
    );
    assert!(
        count("runbook ") >= 14,
        "only {} runbook queries",
        count("runbook ")
    );
    assert!(
        count("sample ") >= 2,
        "only {} sample rules",
        count("sample ")
    );
    let p = problems(&all);
    assert!(
        p.is_empty(),
        "{} problem(s) against sextant::catalogue:\n{}",
        p.len(),
        p.join("\n")
    );
    // Every query selects something.
    for c in &all {
        assert!(
            !c.report.series.is_empty(),
            "{}: selects no series: {}",
            c.place,
            c.query
        );
    }
}

/// The programs the shipped queries read from: all five, OTLP applications,
/// the kubelet's stats from the node agent, the cluster's state from the
/// cluster collector, and sextant's own SLO recording rules.
#[test]
fn shipped_queries_cover_every_pinned_program() {
    let selected: BTreeSet<String> = checked()
        .into_iter()
        .flat_map(|c| c.report.series)
        .collect();
    let programs: BTreeSet<Program> = selected
        .iter()
        .filter_map(|s| catalogue::family_of(s))
        .map(|f| f.program)
        .collect();
    assert_eq!(programs.len(), 9, "{programs:?}");
}

fn problems_of(r: Report) -> String {
    r.problems.join("\n")
}

#[test]
fn the_checker_flags_unknown_metrics_labels_and_jobs() {
    // The v0.152 regression: the collector's counters lost `_total`.
    let p = problems_of(check("sum(rate(otelcol_receiver_accepted_spans[5m]))"));
    assert!(
        p.contains("otelcol_receiver_accepted_spans is not a series"),
        "{p}"
    );
    let p = problems_of(check(
        r#"sum(rate({__name__="otelcol_exporter_queue_size_total"}[5m]))"#,
    ));
    assert!(
        p.contains("otelcol_exporter_queue_size_total is not"),
        "{p}"
    );
    // A regex alternative naming no real series, and a regex matching nothing.
    let p = problems_of(check(
        r#"sum(rate({__name__=~"otelcol_exporter_sent_(spans|metric_points|logs)_total"}[5m]))"#,
    ));
    assert!(
        p.contains("otelcol_exporter_sent_logs_total (an alternative") && p.lines().count() == 1,
        "{p}"
    );
    let p = problems_of(check(r#"count({__name__=~"otelcol_nope_.+"})"#));
    assert!(p.contains("selects no series"), "{p}");
    // Labels: in a matcher, in `by`, a histogram's `le`, `on`, `label_values`.
    let p = problems_of(check(r#"otelcol_exporter_queue_size{receiver="otlp"}"#));
    assert!(p.contains(r#"has no label "receiver""#), "{p}");
    let p = problems_of(check(
        "sum by (reason) (rate(otelcol_receiver_refused_spans_total[5m]))",
    ));
    assert!(p.contains(r#"label "reason" in sum by"#), "{p}");
    let p = problems_of(check(
        "histogram_quantile(0.9, sum by (le) (rate(traces_spanmetrics_latency_sum[5m])))",
    ));
    assert!(p.contains(r#"label "le" in sum by"#), "{p}");
    let p = problems_of(check(
        "otelcol_exporter_queue_size / on (receiver) otelcol_exporter_queue_capacity",
    ));
    assert!(p.contains(r#"label "receiver" in on"#), "{p}");
    let p = problems_of(check_label_values("target_info", "k8s_namespace"));
    assert!(
        p.contains(r#"label "k8s_namespace" in label_values"#),
        "{p}"
    );
    let p = problems_of(check(r#"count({no_such_label="x"})"#));
    assert!(p.contains("no series of a pinned program carries"), "{p}");
    // Tempo's service graph has client/server, not service_name.
    let p = problems_of(check_filter(r#"{service_name="checkout"}"#, SERVICE_MAP));
    assert_eq!(p.lines().count(), SERVICE_MAP.len(), "{p}");
    // A job no scrape config has.
    let p = problems_of(check(r#"up{job=~"collector|otel-collector"} == 0"#));
    assert!(
        p.contains(r#"job "otel-collector" is not a scrape job"#),
        "{p}"
    );
    let p = problems_of(check(r#"otelcol_process_memory_rss_bytes{job="loki"}"#));
    assert!(p.contains(r#"job "loki""#), "{p}");

    // And passes what is right.
    for ok in [
        r#"sum by (svc) (label_replace(up, "svc", "$1", "job", "(.*)"))"#,
        "sum by (job) (up) or vector(0)",
        "topk(3, sum by (service) (rate(traces_spanmetrics_calls_total[5m])))",
        r#"histogram_quantile(0.9, sum by (le, span_name) (rate(traces_spanmetrics_latency_bucket[5m])))"#,
        r#"count by (service_name) ({service_name=~".+", k8s_namespace_name="ns"})"#,
        "max by (exporter) (otelcol_exporter_queue_size / otelcol_exporter_queue_capacity) > 0.8",
    ] {
        let r = check(ok);
        assert!(r.problems.is_empty(), "{ok}: {:?}", r.problems);
        assert!(!r.series.is_empty(), "{ok}");
    }
    let p = problems_of(check(
        r#"sum by (svc) (label_replace(up, "svc", "$1", "nope", "(.*)"))"#,
    ));
    assert!(p.contains(r#"label "nope" in label_replace"#), "{p}");
    assert_eq!(expand("a_(b|c)_d|e").unwrap(), ["a_b_d", "a_c_d", "e"]);
    assert!(expand("a.*").is_none() && expand("2..|x").is_none());
}

/// The labels the catalogue says Prometheus adds are the ones the rendered
/// configs add, and the collector keeps the suffixes the names assume.
#[test]
fn catalogue_labels_and_names_follow_the_rendered_configs() {
    let stack = full_stack();
    let yaml = |s: String| -> Value { serde_yaml_ng::from_str(&s).unwrap() };
    let prom = yaml(to_yaml(&prometheus::render(
        &stack,
        &sextant::model::Capabilities::current(),
        sextant::build::prometheus_discovery(&stack, &sextant::model::Capabilities::current())
            .as_ref(),
        &[],
    )));
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let mut jobs = BTreeSet::new();
    for job in prom["scrape_configs"].as_array().unwrap() {
        let name = job["job_name"].as_str().unwrap().to_string();
        let mut labels = set(&["job", "instance"]);
        for r in job["relabel_configs"].as_array().into_iter().flatten() {
            if r["action"] == "replace" {
                labels.insert(r["target_label"].as_str().unwrap().to_string());
            }
        }
        for s in job["static_configs"].as_array().into_iter().flatten() {
            labels.extend(s["labels"].as_object().unwrap().keys().cloned());
        }
        // The jobs of the cluster's own annotated workloads carry no metric the
        // catalogue names; the labels they add are theirs.
        if name == prometheus::PODS_JOB || name == prometheus::SERVICES_JOB {
            let mut expected = set(&[
                "job",
                "instance",
                "namespace",
                "pod",
                "node",
                "__scheme__",
                "__metrics_path__",
                "__address__",
            ]);
            if name == prometheus::SERVICES_JOB {
                expected.insert("service".into());
            }
            assert_eq!(labels, expected, "job {name}");
            continue;
        }
        let expected = if name == "prometheus" {
            SELF_SCRAPE_LABELS
        } else {
            POD_SCRAPE_LABELS
        };
        assert_eq!(labels, set(expected), "job {name}");
        jobs.insert(name);
    }
    let catalogue_jobs: BTreeSet<String> = Program::ALL
        .iter()
        .filter_map(|p| p.job())
        .map(String::from)
        .collect();
    assert_eq!(jobs, catalogue_jobs);

    let mut otlp = set(&["job", "instance"]);
    for a in prom["otlp"]["promote_resource_attributes"]
        .as_array()
        .unwrap()
    {
        otlp.insert(a.as_str().unwrap().replace('.', "_"));
    }
    assert_eq!(otlp, set(OTLP_LABELS));
    assert!(
        prom["otlp"]["translation_strategy"].is_null(),
        "the catalogue assumes Prometheus's default UnderscoreEscapingWithSuffixes"
    );

    let tempo = yaml(to_yaml(&tempo::render(&stack)));
    let external: BTreeSet<String> = tempo["metrics_generator"]["registry"]["external_labels"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(external, set(catalogue::TEMPO_GENERATOR_LABELS));

    let col = yaml(to_yaml(&otelcol::render(&stack, 1 << 30, true)));
    let readers = &col["service"]["telemetry"]["metrics"]["readers"];
    let exporter = &readers[0]["pull"]["exporter"]["prometheus"];
    assert_eq!(exporter["without_type_suffix"], false, "{readers}");
    assert_eq!(exporter["without_units"], false, "{readers}");
    assert_eq!(exporter["without_scope_info"], true, "{readers}");
    assert_eq!(readers.as_array().unwrap().len(), 1);
}
