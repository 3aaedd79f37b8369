//! `spec.slos`: service level objectives, each turned into recording rules
//! (Prometheus), multi-window multi-burn-rate alerts (Grafana) and the
//! `Sextant / SLOs` dashboard by `crate::builtin::slos` and
//! `crate::builtin::dashboards`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DURATION_PATTERN;

/// One service level objective: the share of events that must be good over a
/// rolling window, such as 99.5% of agent tasks over 28 days.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Slo {
    /// Name of the SLO, unique in the stack: the `slo` label of every series
    /// and alert it makes.
    #[schemars(
        regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
        length(min = 1, max = 63)
    )]
    pub name: String,

    /// What the SLO promises, in words, shown in its alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,

    /// The share of good events, above 0 and below 1, such as `0.995`. The
    /// error budget is `1 - target`.
    pub target: f64,

    /// The rolling window the target holds over, from 7d to 90d, such as
    /// `28d`. The burn-rate alert windows are the SRE workbook's for 30 days,
    /// scaled by `window / 30d`. Prometheus must keep metrics at least this long.
    #[serde(default = "default_window")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub window: String,

    /// How good and total events are counted: exactly one of its fields.
    pub sli: Sli,

    /// Labels added to the SLO's alerts and recorded series, such as
    /// `team: agents`, for notification routing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

fn default_window() -> String {
    "28d".into()
}

/// The service level indicator: set exactly one field.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Sli {
    /// Counters of one's own: `total` and one of `good` or `bad`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<RatioSli>,

    /// Tempo's span metrics of a service: the share of its spans not in error,
    /// or, with `latencyThreshold`, of those at most that long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spans: Option<SpanSli>,

    /// Agent tasks (`agent_tasks_total`): the share whose `outcome` is not
    /// `failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_tasks: Option<AgentTaskSli>,

    /// GenAI operations (`gen_ai.client.operation.duration`): the share of
    /// model calls without an `error.type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genai_operations: Option<GenAiSli>,
}

/// An SLI from counters: each field is a PromQL series selector of a counter,
/// such as `http_requests_total{job="api"}`; sextant takes `rate` of it over
/// each window and sums it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RatioSli {
    /// The good events, such as `http_requests_total{job="api",code!~"5.."}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub good: Option<String>,

    /// The bad events, such as `http_requests_total{job="api",code=~"5.."}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub bad: Option<String>,

    /// Every event, such as `http_requests_total{job="api"}`.
    #[schemars(length(min = 1, max = 4096))]
    pub total: String,
}

/// The spans of one service, from Tempo's span metrics.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SpanSli {
    /// `service.name` of the service.
    #[schemars(length(min = 1, max = 253))]
    pub service: String,

    /// Only spans of this name (the operation), such as `POST /tasks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub span_name: Option<String>,

    /// Which spans count. Default `server`: the requests the service answers.
    #[serde(default)]
    pub span_kind: SpanKind,

    /// Good spans are those at most this long, such as `2.048s`: one of the
    /// span-metrics histogram's bucket bounds (Tempo's default buckets,
    /// 0.002s doubling up to 16.384s). Unset: good spans are those not in
    /// error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32))]
    pub latency_threshold: Option<String>,
}

/// A span kind, as Tempo's span metrics label it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SpanKind {
    /// `SPAN_KIND_SERVER`.
    #[default]
    Server,
    /// `SPAN_KIND_CLIENT`.
    Client,
    /// `SPAN_KIND_CONSUMER`.
    Consumer,
    /// `SPAN_KIND_PRODUCER`.
    Producer,
    /// `SPAN_KIND_INTERNAL`.
    Internal,
    /// Every kind.
    Any,
}

/// Agent tasks, from `agent_tasks_total` (an OTLP counter `agent.tasks` with
/// an `outcome` attribute; see docs/dashboards-and-alerts.md).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentTaskSli {
    /// Only the tasks of this `service.name`. Unset: every service's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service: Option<String>,
}

/// GenAI model calls, from `gen_ai_client_operation_duration_seconds`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GenAiSli {
    /// Only the calls of this `service.name`. Unset: every service's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service: Option<String>,

    /// Only calls to this model (`gen_ai.request.model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub model: Option<String>,
}
