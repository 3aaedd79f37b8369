//! What `spec.genai` becomes: the recording group `sextant-genai-cost` (the
//! cost rate of the GenAI token usage the applications report, by service,
//! provider, model and token type, from the price table) and, with a daily
//! budget, the alert group `sextant-genai-budget`.
//!
//! The tokens are the `gen_ai.client.token.usage` histogram of the
//! OpenTelemetry GenAI semantic conventions (model/gen-ai/gen-ai-client-metrics.yaml,
//! `gen_ai.token.type` `input` or `output`, registry.yaml; read in stored
//! copies), which Prometheus 3.5's OTLP ingestion stores as
//! `gen_ai_client_token_usage_sum` (see `crate::catalogue`). The conventions
//! count no cached tokens in that metric, so no cached-token price can be
//! applied to it.

use std::collections::BTreeMap;

use super::slos::promql_string;
use crate::api::{AlertRule, ModelPrice, RecordingRule, RecordingRuleGroup, RuleGroup};
use crate::model::{Component, ValidatedStack};

/// The recording group's name; users may not take it.
pub const COST_GROUP: &str = "sextant-genai-cost";
/// The budget alert group's name; users may not take it.
pub const BUDGET_GROUP: &str = "sextant-genai-budget";
/// The recorded cost: US dollars per second over 5 minutes.
pub const COST: &str = "sextant:genai_cost_usd:rate5m";
/// The budget alert.
pub const BUDGET_ALERT: &str = "GenAiCostOverBudget";
/// How often the cost is recorded. The budget alert sums one sample a
/// minute, so this must stay one minute.
pub const INTERVAL: &str = "1m";
/// Where the budget alert's runbook is.
pub const RUNBOOK_URL: &str = "https://github.com/sextant-dev/sextant/blob/main/docs/genai-cost.md#when-the-budget-alert-fires";
/// Seconds per evaluation, which turn a recorded rate into dollars spent.
const INTERVAL_SECONDS: u32 = 60;

/// The labels the cost keeps: who called (`service.name`, the agent, and its
/// namespace), whom, which model, and which kind of token.
pub const BY: &str = "service_name, k8s_namespace_name, gen_ai_provider_name, gen_ai_request_model, gen_ai_token_type";

/// A Prometheus (RE2, fully anchored) regex matching a glob: `*` any
/// characters, `?` one, everything else literally.
pub fn glob_regex(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len() * 2);
    for c in glob.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c if "\\.+()|[]{}^$".contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// One price's term for one token type: the priced token rate times the
/// price per token.
fn term(p: &ModelPrice, token_type: &str, usd_per_million: f64) -> String {
    let mut matchers = vec![
        format!("gen_ai_token_type={}", promql_string(token_type)),
        format!(
            "gen_ai_request_model=~{}",
            promql_string(&glob_regex(&p.model))
        ),
    ];
    if let Some(provider) = &p.provider {
        matchers.push(format!(
            "gen_ai_provider_name=~{}",
            promql_string(&glob_regex(provider))
        ));
    }
    format!(
        "sum by ({BY}) (rate(gen_ai_client_token_usage_sum{{{}}}[5m])) * {usd_per_million} / 1000000",
        matchers.join(", "),
    )
}

/// The cost expression: every price's terms joined by `or`, so a series a
/// price above already priced (same service, provider, model and token type)
/// is not priced again: the first matching price wins.
pub fn cost_expr(prices: &[ModelPrice]) -> Option<String> {
    let terms: Vec<String> = prices
        .iter()
        .flat_map(|p| {
            [
                term(p, "input", p.input_usd_per_million_tokens),
                term(p, "output", p.output_usd_per_million_tokens),
            ]
        })
        .map(|t| format!("({t})"))
        .collect();
    (!terms.is_empty()).then(|| terms.join("\nor\n"))
}

/// Whether the cost is recorded: the stack has prices, and Prometheus.
pub fn rendered(stack: &ValidatedStack) -> bool {
    stack.enabled(Component::Prometheus) && !stack.spec.genai.pricing.is_empty()
}

/// The recording group, or none without prices or Prometheus.
pub fn recording_group(stack: &ValidatedStack) -> Option<RecordingRuleGroup> {
    if !rendered(stack) {
        return None;
    }
    let expr = cost_expr(&stack.spec.genai.pricing)?;
    Some(RecordingRuleGroup {
        name: COST_GROUP.into(),
        interval: Some(INTERVAL.into()),
        rules: vec![RecordingRule {
            record: COST.into(),
            expr,
            labels: BTreeMap::new(),
        }],
    })
}

/// The dollars spent over the last 24 hours: the recorded rate of each minute
/// times its 60 seconds, summed.
pub fn spent_last_day_expr() -> String {
    format!("sum(sum_over_time({COST}[1d])) * {INTERVAL_SECONDS}")
}

/// The budget alert group, or none without a budget, prices or Prometheus.
pub fn alert_group(stack: &ValidatedStack) -> Option<RuleGroup> {
    let budget = stack.spec.genai.daily_budget_usd?;
    if !rendered(stack) {
        return None;
    }
    Some(RuleGroup {
        name: BUDGET_GROUP.into(),
        interval: INTERVAL.into(),
        rules: vec![AlertRule {
            alert: BUDGET_ALERT.into(),
            expr: format!("{} > {budget}", spent_last_day_expr()),
            for_: None,
            labels: BTreeMap::from([("severity".into(), "warning".into())]),
            annotations: BTreeMap::from([
                (
                    "summary".into(),
                    "GenAI model calls cost more than the daily budget".into(),
                ),
                (
                    "description".into(),
                    format!(
                        "The priced model calls of the last 24 hours cost {{{{ $value | printf \"%.2f\" }}}} USD, over the budget of {budget} USD (spec.genai.dailyBudgetUsd)."
                    ),
                ),
                ("runbook_url".into(), RUNBOOK_URL.into()),
            ]),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_become_anchored_literals() {
        assert_eq!(glob_regex("gpt-4o*"), "gpt-4o.*");
        assert_eq!(glob_regex("claude-3.5-sonnet"), "claude-3\\.5-sonnet");
        assert_eq!(glob_regex("a?c"), "a.c");
        assert_eq!(glob_regex("x(1)+[y]"), "x\\(1\\)\\+\\[y\\]");
    }
}
