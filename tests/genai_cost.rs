//! `spec.genai` as built: the price table becomes the recording group
//! `sextant-genai-cost` in Prometheus's rule file and the daily budget an alert
//! among Grafana's rules. Prometheus 3.5.3's rule engine (`promtool test
//! rules`) shows known token counts times known prices give the expected
//! dollars, that the first matching price wins (a model priced exactly is not
//! priced again by a glob below it), that a price for one provider leaves the
//! same model at another provider unpriced, and that the budget alert fires
//! once the last 24 hours cost more than the budget, not before. Each run is
//! shown to fail on a wrong expectation.
//!
//! What this does not prove: that applications report `gen_ai.client.token.usage`
//! (the GenAI semantic conventions are "development" stability), nor Grafana's
//! own evaluation of the budget alert.

mod common;

use common::names::check;
use serde_json::{Value, json};
use sextant::builtin::cost;
use sextant::model::{Capabilities, ValidatedStack};
use sextant::render::prometheus::RuleFile;
use sextant::validate::{Dereferenced, validate};

const SPEC: &str = "genai:
  dailyBudgetUsd: 10
  pricing:
    - {model: gpt-4o-mini, inputUsdPerMillionTokens: 0.15, outputUsdPerMillionTokens: 0.6}
    - {model: 'gpt-4o*', provider: openai, inputUsdPerMillionTokens: 2.5, outputUsdPerMillionTokens: 10}
    - {model: 'claude-*', inputUsdPerMillionTokens: 3, outputUsdPerMillionTokens: 15}";

fn stack() -> ValidatedStack {
    validate(&common::with_spec(SPEC), &Dereferenced::offline()).unwrap()
}

/// The rendered recording rule file and the budget alert group as a
/// Prometheus rule file, annotations removed (promtool compares them exactly).
fn rule_files() -> [(&'static str, String); 2] {
    let stack = stack();
    let mut group = cost::alert_group(&stack).unwrap();
    for r in &mut group.rules {
        r.annotations.clear();
    }
    let alerts = sextant::render::to_yaml(&RuleFile {
        groups: vec![group],
    });
    [
        ("recording.yml", common::promtool::recording_rules(&stack)),
        ("alerts.yml", alerts),
    ]
}

/// Passes, and fails once `wrong` is applied.
fn proves(group: Value, wrong: impl Fn(&mut Value)) {
    common::promtool::proves(&rule_files(), group, wrong);
}

/// The token counter of one model, `per_min` tokens a minute for `mins` minutes.
fn tokens(provider: &str, model: &str, kind: &str, per_min: u64, mins: u64) -> Value {
    json!({
        "series": format!(
            "gen_ai_client_token_usage_sum{{service_name=\"planner\", k8s_namespace_name=\"agents\", gen_ai_provider_name=\"{provider}\", gen_ai_request_model=\"{model}\", gen_ai_token_type=\"{kind}\"}}"
        ),
        "values": format!("0+{per_min}x{mins}"),
    })
}

/// Four priced series, one at a provider the price does not cover, one model
/// without a price.
fn fleet(mins: u64) -> Value {
    json!([
        tokens("openai", "gpt-4o", "input", 1000, mins),
        tokens("openai", "gpt-4o", "output", 500, mins),
        tokens("openai", "gpt-4o-mini", "input", 6000, mins),
        tokens("openai", "gpt-4o-mini", "output", 600, mins),
        tokens("azure.ai.openai", "gpt-4o", "input", 1000, mins),
        tokens("local", "llama-3", "input", 1000, mins),
    ])
}

fn cost_sample(model: &str, kind: &str, micro_usd_per_hour: u64) -> Value {
    json!({
        "labels": format!("{{service_name=\"planner\", k8s_namespace_name=\"agents\", gen_ai_provider_name=\"openai\", gen_ai_request_model=\"{model}\", gen_ai_token_type=\"{kind}\"}}"),
        "value": micro_usd_per_hour,
    })
}

#[test]
fn promtool_accepts_the_rule_files() {
    common::promtool::check(&rule_files());
}

#[test]
fn token_counts_times_prices_are_the_recorded_dollars() {
    // In micro-dollars per hour, rounded: 1000 input tokens a minute of gpt-4o
    // at $2.5 per million are 60,000 an hour, $0.15; 500 output at $10, $0.30;
    // 6000 input of gpt-4o-mini at $0.15, $0.054 (not $0.90 at gpt-4o's
    // glob price below it); 600 output at $0.60, $0.0216. gpt-4o at Azure and
    // llama-3 have no price and no cost.
    let group = json!({
        "interval": "1m",
        "input_series": fleet(60),
        "promql_expr_test": [{
            "expr": format!("round({} * 3600 * 1e6)", cost::COST),
            "eval_time": "30m",
            "exp_samples": [
                cost_sample("gpt-4o", "input", 150_000),
                cost_sample("gpt-4o", "output", 300_000),
                cost_sample("gpt-4o-mini", "input", 54_000),
                cost_sample("gpt-4o-mini", "output", 21_600),
            ],
        }, {
            // The dashboard's cost per hour.
            "expr": format!("round(sum({}) * 3600 * 1e6)", cost::COST),
            "eval_time": "30m",
            "exp_samples": [{"labels": "{}", "value": 525_600}],
        }],
    });
    proves(group, |g| {
        g["promql_expr_test"][0]["exp_samples"][2]["value"] = json!(900_000);
    });
}

#[test]
fn the_budget_alert_fires_once_a_day_costs_more_than_the_budget() {
    // $0.5256 an hour: $10 are spent after 19.03 hours.
    let group = json!({
        "interval": "1m",
        "input_series": fleet(21 * 60),
        "alert_rule_test": [
            {"eval_time": "18h", "alertname": cost::BUDGET_ALERT, "exp_alerts": []},
            {"eval_time": "20h", "alertname": cost::BUDGET_ALERT,
             "exp_alerts": [{"exp_labels": {"severity": "warning"}}]},
        ],
        "promql_expr_test": [{
            "expr": format!("round({} * 100)", cost::spent_last_day_expr()),
            "eval_time": "10h",
            // 10 hours at $0.5256 are $5.256; the first minutes count less
            // (a 5m rate divides the increase it has seen by 5 minutes until
            // it holds 5 minutes of samples): $5.24.
            "exp_samples": [{"labels": "{}", "value": 524}],
        }],
    });
    proves(group, |g| {
        g["alert_rule_test"][0]["exp_alerts"] = json!([{"exp_labels": {"severity": "warning"}}]);
    });
}

#[test]
fn the_cost_reads_series_the_programs_expose() {
    let group = cost::recording_group(&stack()).unwrap();
    let report = check(&group.rules[0].expr);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.series.contains("gen_ai_client_token_usage_sum"));
    // The recorded series carries the labels the catalogue lists for it.
    let recorded = sextant::catalogue::family_of(cost::COST).unwrap();
    for label in cost::BY.split(", ") {
        assert!(recorded.labels_of(cost::COST).contains(&label), "{label}");
    }
    let budget = cost::alert_group(&stack()).unwrap();
    assert!(check(&budget.rules[0].expr).problems.is_empty());
    insta::assert_snapshot!(
        "genai-cost-rules",
        format!(
            "{}---\n{}",
            rule_files()[0].1,
            sextant::render::to_yaml(&RuleFile {
                groups: vec![budget]
            })
        )
    );
}

#[test]
fn without_prices_or_prometheus_nothing_is_rendered() {
    let plain = validate(&common::with_spec("{}"), &Dereferenced::offline()).unwrap();
    assert!(cost::recording_group(&plain).is_none());
    assert!(cost::alert_group(&plain).is_none());
    let with = stack();
    let mut without = with.clone();
    without.components[sextant::model::Component::Prometheus.index()].enabled = false;
    assert!(cost::recording_group(&without).is_none());
    assert!(cost::alert_group(&without).is_none());
    // Grafana gets the budget alert with the rest; the agent-fleet dashboard
    // gains its cost panels only with prices.
    let all = sextant::builtin::rules::all_groups(&with, &Capabilities::current());
    assert!(all.iter().any(|g| g.name == cost::BUDGET_GROUP));
    let fleet = |s: &ValidatedStack| {
        sextant::build::grafana::dashboard_files(s, &Capabilities::current())
            .into_iter()
            .find(|f| f.key == "builtin-agent-fleet.json")
            .unwrap()
            .json
    };
    assert!(fleet(&with).contains(cost::COST));
    assert!(!fleet(&plain).contains(cost::COST));
    assert!(fleet(&plain).contains("gen_ai_client_token_usage"));
}
