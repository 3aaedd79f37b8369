//! `spec.genai`: what the GenAI telemetry of an agent fleet costs: a price
//! table by model and provider, and a daily budget. `crate::builtin::cost`
//! turns it into recording rules and an alert.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Costs of the GenAI model calls the stack's applications report.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GenAiSpec {
    /// Prices per million tokens by model, first match wins: each becomes
    /// part of the recording rule `sextant:genai_cost_usd:rate5m`, from the
    /// `gen_ai.client.token.usage` histogram (docs/genai-cost.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 200))]
    pub pricing: Vec<ModelPrice>,

    /// Alert (`GenAiCostOverBudget`, warning) when the priced calls of the
    /// last 24 hours cost more than this many US dollars. Needs `pricing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_budget_usd: Option<f64>,
}

/// The price of one model's tokens, in US dollars per million.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ModelPrice {
    /// The model as applications report it in `gen_ai.request.model`, exact
    /// or a glob (`*` any characters, `?` one), such as `gpt-4o-mini` or
    /// `claude-sonnet-4*`.
    #[schemars(length(min = 1, max = 253))]
    pub model: String,

    /// Only calls to this provider (`gen_ai.provider.name`, exact or a glob),
    /// such as `openai`. Unset: any provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub provider: Option<String>,

    /// US dollars per million input tokens (`gen_ai.token.type` `input`).
    pub input_usd_per_million_tokens: f64,

    /// US dollars per million output tokens (`gen_ai.token.type` `output`).
    pub output_usd_per_million_tokens: f64,
}
