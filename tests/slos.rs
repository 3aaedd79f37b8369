//! `spec.slos` as built: each SLO's recording group lands in Prometheus's rule
//! file and its alert group among Grafana's rules, and Prometheus 3.5.3's own
//! rule engine (`promtool test rules`, recording and alert rules in one run at
//! the groups' 1m interval) shows the SRE workbook's timing: a full outage pages
//! within minutes, a 2x burn opens a ticket after about a day and never pages, a
//! 0.5x burn fires nothing and leaves half the budget, a latency regression of
//! span metrics pages. Each run is shown to fail on a wrong expectation.
//!
//! What this does not prove: Grafana's own evaluation of the alert rules (they
//! are evaluated here by Prometheus; Grafana reads the same recorded series one
//! evaluation later at most), nor the annotations (removed before promtool,
//! which compares them exactly).

mod common;

use common::names::check;
use serde_json::{Value, json};
use sextant::builtin::slos;
use sextant::model::{Capabilities, ValidatedStack};
use sextant::render::prometheus::RuleFile;
use sextant::validate::{Dereferenced, validate};

const SPEC: &str = "retention: {metrics: 30d}
slos:
  - name: agent-tasks
    description: 99.5% of the planner's tasks succeed
    target: 0.995
    window: 30d
    labels: {team: agents}
    sli: {agentTasks: {service: planner}}
  - name: api-latency
    target: 0.99
    window: 28d
    sli: {spans: {service: api, latencyThreshold: 2.048s}}
  - name: model-calls
    target: 0.999
    window: 7d
    sli: {genaiOperations: {model: gpt-4o}}
  - name: checkout
    target: 0.999
    window: 30d
    sli:
      ratio:
        bad: 'http_requests_total{job=\"checkout\", code=~\"5..\"}'
        total: 'http_requests_total{job=\"checkout\"}'
  - name: api-errors
    target: 0.999
    window: 30d
    sli: {spans: {service: api, spanName: POST /tasks}}";

fn stack() -> ValidatedStack {
    validate(&common::with_spec(SPEC), &Dereferenced::offline()).unwrap()
}

/// The rendered recording rule file (from Prometheus's ConfigMap) and the SLO
/// alert groups as a Prometheus rule file, annotations removed.
fn rule_files() -> (String, String) {
    let stack = stack();
    let recording = common::promtool::recording_rules(&stack);
    let mut groups = slos::alert_groups(&stack);
    for g in &mut groups {
        for r in &mut g.rules {
            r.annotations.clear();
        }
    }
    let alerts = sextant::render::to_yaml(&RuleFile { groups });
    (recording, alerts)
}

/// The rendered rule files with only the groups of the SLOs named: promtool
/// evaluates every group at every step, and the 30d averages of five SLOs
/// over days of input take minutes.
fn rule_files_of(slos: &[&str]) -> [(&'static str, String); 2] {
    let (recording, alerts) = rule_files();
    let keep = |text: &str| {
        let mut file: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).unwrap();
        let groups = file["groups"].as_sequence_mut().unwrap();
        groups.retain(|g| {
            slos.iter()
                .any(|s| g["name"].as_str() == Some(&format!("sextant-slo-{s}")))
        });
        assert_eq!(groups.len(), slos.len(), "{slos:?} in\n{text}");
        serde_yaml_ng::to_string(&file).unwrap()
    };
    [
        ("recording.yml", keep(&recording)),
        ("alerts.yml", keep(&alerts)),
    ]
}

/// Passes over the rule files of the SLOs named, and fails once `wrong` is
/// applied to its expectations.
fn proves(slos: &[&str], group: Value, wrong: impl Fn(&mut Value)) {
    common::promtool::proves(&rule_files_of(slos), group, wrong);
}

fn alert(name: &str, at: &str, firing: &[Value]) -> Value {
    json!({"eval_time": at, "alertname": name, "exp_alerts": firing})
}

fn agent_labels(severity: &str) -> Value {
    json!({"exp_labels": {"severity": severity, "slo": "agent-tasks", "team": "agents"}})
}

/// Counter values `per_min` a minute for `mins` minutes from `start`, in
/// promtool's expanding notation, and the value reached.
fn grow(start: u64, per_min: u64, mins: u64) -> (String, u64) {
    (format!("{start}+{per_min}x{mins}"), start + per_min * mins)
}

/// Tasks of the planner: a day all good at `good + bad` a minute, then `then`
/// minutes at `good`/`bad` a minute.
fn tasks(good: u64, bad: u64, then: u64) -> Value {
    let (day, reached) = grow(0, good + bad, 1440);
    let success = format!("{day} {}", grow(reached + good, good, then - 1).0);
    let failure = format!("0x1440 {}", grow(bad, bad, then - 1).0);
    json!([
        {"series": "agent_tasks_total{service_name=\"planner\", outcome=\"success\"}", "values": success},
        {"series": "agent_tasks_total{service_name=\"planner\", outcome=\"failure\"}", "values": failure},
    ])
}

#[test]
fn promtool_accepts_the_rule_files() {
    let (recording, alerts) = rule_files();
    common::promtool::check(&[("recording.yml", recording), ("alerts.yml", alerts)]);
}

#[test]
fn an_outage_pages_within_minutes() {
    // From 1d on every task fails: the 5m ratio is over 14.4 x 0.005 at once,
    // the 1h ratio once more than 4.32 minutes of the hour failed.
    let group = json!({
        "interval": "1m",
        "input_series": tasks(0, 60, 60),
        "alert_rule_test": [
            alert("ErrorBudgetBurn_agent_tasks_page", "1d3m", &[]),
            alert("ErrorBudgetBurn_agent_tasks_page", "1d6m", &[agent_labels("critical")]),
            alert("ErrorBudgetBurn_agent_tasks_page", "1d50m", &[agent_labels("critical")]),
            // The ticket's 1d window has not seen 3x yet.
            alert("ErrorBudgetBurn_agent_tasks_ticket", "1d6m", &[]),
        ],
    });
    proves(&["agent-tasks"], group, |g| {
        g["alert_rule_test"][0]["exp_alerts"] = json!([agent_labels("critical")]);
    });
}

#[test]
fn a_2x_burn_opens_a_ticket_after_a_day_and_never_pages() {
    // 1% of tasks fail from 1d on: twice what 0.5% allows. The 3d/6h pair at 1x
    // fires once the errors of the data held (1d good, then T) pass 0.5%:
    // 0.01 T / (1d + T) > 0.005 when T > 1d.
    let group = json!({
        "interval": "1m",
        "input_series": tasks(99, 1, 25 * 60 + 10),
        "alert_rule_test": [
            alert("ErrorBudgetBurn_agent_tasks_ticket", "1d23h", &[]),
            alert("ErrorBudgetBurn_agent_tasks_ticket", "2d1h", &[agent_labels("warning")]),
            alert("ErrorBudgetBurn_agent_tasks_page", "1d1h", &[]),
            alert("ErrorBudgetBurn_agent_tasks_page", "2d1h", &[]),
        ],
    });
    proves(&["agent-tasks"], group, |g| {
        g["alert_rule_test"][0]["exp_alerts"] = json!([agent_labels("warning")]);
    });
}

#[test]
fn a_slow_burn_fires_nothing_and_leaves_half_the_budget() {
    // The 7d SLO of model calls (budget 0.1%, longest burn window 16h48m):
    // for a day one call in 2000 fails with an `error.type`, half of what the
    // budget allows.
    let (ok, _) = grow(0, 1999, 1440);
    let (failed, _) = grow(0, 1, 1440);
    let metric = "gen_ai_client_operation_duration_seconds_count";
    let group = json!({
        "interval": "1m",
        "input_series": [
            {"series": format!("{metric}{{gen_ai_request_model=\"gpt-4o\", service_name=\"planner\"}}"), "values": ok},
            {"series": format!("{metric}{{gen_ai_request_model=\"gpt-4o\", service_name=\"planner\", error_type=\"timeout\"}}"), "values": failed},
            // Calls to another model are not this SLO's, however they fail.
            {"series": format!("{metric}{{gen_ai_request_model=\"other\", error_type=\"timeout\"}}"), "values": ok},
        ],
        "alert_rule_test": [
            alert("ErrorBudgetBurn_model_calls_page", "1h", &[]),
            alert("ErrorBudgetBurn_model_calls_page", "1d", &[]),
            alert("ErrorBudgetBurn_model_calls_ticket", "20h", &[]),
            alert("ErrorBudgetBurn_model_calls_ticket", "1d", &[]),
        ],
        "promql_expr_test": [
            {
                "expr": "sextant:slo_error_budget_remaining",
                "eval_time": "1d",
                "exp_samples": [{"labels": "sextant:slo_error_budget_remaining{slo=\"model-calls\"}", "value": 0.5}],
            },
            {
                "expr": "sextant:slo_error_ratio{window=\"16h48m\"}",
                "eval_time": "1d",
                "exp_samples": [{"labels": "sextant:slo_error_ratio{slo=\"model-calls\", window=\"16h48m\"}", "value": 0.0005}],
            },
            {
                "expr": "sextant:slo_objective",
                "eval_time": "1d",
                "exp_samples": [{"labels": "sextant:slo_objective{slo=\"model-calls\"}", "value": 0.999}],
            },
        ],
    });
    proves(&["model-calls"], group, |g| {
        g["promql_expr_test"][0]["exp_samples"][0]["value"] = json!(0.75);
    });
}

#[test]
fn slow_spans_page_the_latency_slo() {
    // 100 server spans of `api` a minute, all under 2.048 s for a day, then
    // none: the 28d SLO's page windows are 56m and 5m.
    let series = "{service=\"api\", span_kind=\"SPAN_KIND_SERVER\"}";
    let bucket = "{service=\"api\", span_kind=\"SPAN_KIND_SERVER\", le=\"2.048\"}";
    let (count, _) = grow(0, 100, 1440 + 60);
    let (day, reached) = grow(0, 100, 1440);
    let group = json!({
        "interval": "1m",
        "input_series": [
            {"series": format!("traces_spanmetrics_latency_count{series}"), "values": count},
            {"series": format!("traces_spanmetrics_latency_bucket{bucket}"), "values": format!("{day} {reached}x59")},
        ],
        "alert_rule_test": [
            alert("ErrorBudgetBurn_api_latency_page", "1d5m", &[]),
            alert("ErrorBudgetBurn_api_latency_page", "1d12m",
                &[json!({"exp_labels": {"severity": "critical", "slo": "api-latency"}})]),
            // The error SLO of the same service counts errors, not slowness.
            alert("ErrorBudgetBurn_api_errors_page", "1d12m", &[]),
        ],
    });
    proves(&["api-latency", "api-errors"], group, |g| {
        g["alert_rule_test"][1]["exp_alerts"] = json!([]);
    });
}

#[test]
fn the_shorthands_read_series_the_programs_expose() {
    // Every windowed error ratio reads raw series only: each must be a
    // catalogue series with the labels it carries.
    let stack = stack();
    let groups = slos::recording_groups(&stack);
    assert_eq!(groups.len(), 5);
    let mut checked = 0;
    for g in groups.iter().filter(|g| g.name != "sextant-slo-checkout") {
        for r in &g.rules {
            if r.expr.contains("sextant:") || r.expr.starts_with("vector(") {
                continue;
            }
            let report = check(&r.expr);
            assert!(
                report.problems.is_empty(),
                "{}: {}\n{:?}",
                g.name,
                r.expr,
                report.problems
            );
            assert!(!report.series.is_empty(), "{} selects nothing", r.expr);
            checked += 1;
        }
    }
    assert!(checked >= 4 * 7, "only {checked} expressions checked");
    // The check is real: a label the span metrics do not carry is found.
    assert!(
        !check("sum(rate(traces_spanmetrics_calls_total{service_name=\"api\"}[5m]))")
            .problems
            .is_empty()
    );
}

#[test]
fn windows_labels_and_names_as_rendered() {
    let stack = stack();
    let rec = slos::recording_groups(&stack);
    let windows = |name: &str| -> Vec<String> {
        rec.iter()
            .find(|g| g.name == format!("sextant-slo-{name}"))
            .unwrap()
            .rules
            .iter()
            .filter(|r| r.record == slos::ERROR_RATIO)
            .map(|r| r.labels["window"].clone())
            .collect()
    };
    assert_eq!(
        windows("agent-tasks"),
        ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
    );
    assert_eq!(
        windows("api-latency"),
        [
            "5m", "28m", "56m", "1h52m", "5h36m", "22h24m", "2d19h12m", "28d"
        ]
    );
    // 7d: the 1.2m short page window is raised to 5m.
    assert_eq!(
        windows("model-calls"),
        ["5m", "7m", "14m", "28m", "1h24m", "5h36m", "16h48m", "7d"]
    );
    let alerts = slos::alert_groups(&stack);
    let names: Vec<&str> = alerts
        .iter()
        .flat_map(|g| g.rules.iter().map(|r| r.alert.as_str()))
        .collect();
    assert!(names.contains(&"ErrorBudgetBurn_model_calls_ticket"));
    // Grafana gets the alert groups with the rest.
    let all = sextant::builtin::rules::all_groups(&stack, &Capabilities::current());
    assert!(all.iter().any(|g| g.name == "sextant-slo-checkout"));
    insta::assert_snapshot!(
        "slo-rules",
        format!(
            "{}---\n{}",
            rule_files().0,
            sextant::render::to_yaml(&RuleFile {
                groups: alerts
                    .into_iter()
                    .filter(|g| g.name == "sextant-slo-agent-tasks")
                    .collect()
            })
        )
    );
}

#[test]
fn without_prometheus_nothing_is_rendered() {
    let with = stack();
    let mut without = with.clone();
    without.components[sextant::model::Component::Prometheus.index()].enabled = false;
    assert!(slos::recording_groups(&without).is_empty());
    assert!(slos::alert_groups(&without).is_empty());
    assert_eq!(slos::recording_groups(&with).len(), 5);
}

#[test]
fn the_status_names_each_slo_and_its_rules() {
    let stack = stack();
    let listed = sextant::controller::status::slos(&stack);
    assert_eq!(listed.len(), 5);
    let tasks = &listed[0];
    assert_eq!(tasks.name, "agent-tasks");
    assert_eq!(tasks.objective, "0.995 over 30d");
    assert_eq!(tasks.rule_group, "sextant-slo-agent-tasks");
    assert_eq!(
        tasks.alerts,
        [
            "ErrorBudgetBurn_agent_tasks_page",
            "ErrorBudgetBurn_agent_tasks_ticket"
        ]
    );
    assert_eq!(
        tasks.budget_query,
        "sextant:slo_error_budget_remaining{slo=\"agent-tasks\"}"
    );
    // The names are those of the rendered groups and alerts.
    let alerts = slos::alert_groups(&stack);
    let recording = slos::recording_groups(&stack);
    for (s, (a, r)) in listed.iter().zip(alerts.iter().zip(&recording)) {
        assert_eq!(s.rule_group, a.name);
        assert_eq!(s.rule_group, r.name);
        let names: Vec<&str> = a.rules.iter().map(|r| r.alert.as_str()).collect();
        assert_eq!(s.alerts, names);
        assert!(check(&s.budget_query).problems.is_empty());
    }
    let mut without = stack.clone();
    without.components[sextant::model::Component::Prometheus.index()].enabled = false;
    assert!(sextant::controller::status::slos(&without).is_empty());
}

#[test]
fn the_api_reference_examples_are_valid_stacks() {
    let text = std::fs::read_to_string(common::root().join("docs/api-examples.md")).unwrap();
    let blocks = common::queries::fenced_blocks(&text, "yaml");
    assert!(blocks.len() >= 2, "{} yaml blocks", blocks.len());
    for block in &blocks {
        let stack = common::stack(block);
        let valid = validate(&stack, &Dereferenced::offline())
            .unwrap_or_else(|e| panic!("docs/api-examples.md:\n{block}\n{e}"));
        assert!(!slos::recording_groups(&valid).is_empty(), "{block}");
    }
    // And docs/api.md carries them.
    let api = std::fs::read_to_string(common::root().join("docs/api.md")).unwrap();
    assert!(api.contains(blocks[0].as_str()));
}
