//! `spec.loki.limits` and `spec.tempo.limits`: the ingestion limits of the log
//! and trace stores, with defaults for one instance. What goes over a limit is
//! discarded by the store, counted in its own metrics, and raised by the
//! built-in alerts `LokiIngestionErrors`, `TempoIngestionErrors` and
//! `TempoGeneratorSeriesLimited` (docs/limits.md).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::BYTE_SIZE_PATTERN;

/// Loki's ingestion limits (`limits_config`, grafana/loki v3.7.6
/// `pkg/validation/limits.go`). Sizes are base 2 (`MB` and `MiB` are both
/// 1,048,576 bytes, as Loki counts its MB).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LokiLimits {
    /// Bytes per second Loki accepts in all (log lines and structured metadata).
    #[serde(default = "default_loki_rate")]
    #[schemars(regex(pattern = BYTE_SIZE_PATTERN))]
    pub ingestion_rate: String,

    /// Most bytes accepted at once above the rate; at least the largest push
    /// (a collector batch).
    #[serde(default = "default_loki_burst")]
    #[schemars(regex(pattern = BYTE_SIZE_PATTERN))]
    pub ingestion_burst: String,

    /// Most active streams (label sets); with the labels sextant indexes about
    /// one per container.
    #[serde(default = "default_loki_streams")]
    #[schemars(range(min = 1))]
    pub max_streams: u32,

    /// Bytes per second one stream may send.
    #[serde(default = "default_loki_stream_rate")]
    #[schemars(regex(pattern = BYTE_SIZE_PATTERN))]
    pub per_stream_rate: String,

    /// Most bytes one stream may send at once above its rate.
    #[serde(default = "default_loki_stream_burst")]
    #[schemars(regex(pattern = BYTE_SIZE_PATTERN))]
    pub per_stream_burst: String,
}

impl Default for LokiLimits {
    fn default() -> Self {
        Self {
            ingestion_rate: default_loki_rate(),
            ingestion_burst: default_loki_burst(),
            max_streams: default_loki_streams(),
            per_stream_rate: default_loki_stream_rate(),
            per_stream_burst: default_loki_stream_burst(),
        }
    }
}

fn default_loki_rate() -> String {
    "8MiB".into()
}

fn default_loki_burst() -> String {
    "16MiB".into()
}

fn default_loki_streams() -> u32 {
    10_000
}

fn default_loki_stream_rate() -> String {
    "3MiB".into()
}

fn default_loki_stream_burst() -> String {
    "15MiB".into()
}

/// Tempo's ingestion limits (`overrides.defaults`, grafana/tempo v2.10.8
/// `modules/overrides/config.go`). Sizes are base 2.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TempoLimits {
    /// Bytes per second of spans Tempo accepts.
    #[serde(default = "default_tempo_rate")]
    #[schemars(regex(pattern = BYTE_SIZE_PATTERN))]
    pub ingestion_rate: String,

    /// Most bytes accepted at once above the rate.
    #[serde(default = "default_tempo_burst")]
    #[schemars(regex(pattern = BYTE_SIZE_PATTERN))]
    pub ingestion_burst: String,

    /// Most traces open at once (receiving spans).
    #[serde(default = "default_tempo_traces")]
    #[schemars(range(min = 1))]
    pub max_live_traces: u32,

    /// Largest trace; spans of a trace past it are discarded.
    #[serde(default = "default_tempo_trace_size")]
    #[schemars(regex(pattern = BYTE_SIZE_PATTERN))]
    pub max_trace_size: String,

    /// Most series the metrics-generator keeps (span metrics and service
    /// graphs); it creates no new series past it. 0: no limit.
    #[serde(default = "default_generator_series")]
    pub max_generator_series: u32,
}

impl Default for TempoLimits {
    fn default() -> Self {
        Self {
            ingestion_rate: default_tempo_rate(),
            ingestion_burst: default_tempo_burst(),
            max_live_traces: default_tempo_traces(),
            max_trace_size: default_tempo_trace_size(),
            max_generator_series: default_generator_series(),
        }
    }
}

fn default_tempo_rate() -> String {
    "15MiB".into()
}

fn default_tempo_burst() -> String {
    "20MiB".into()
}

fn default_tempo_traces() -> u32 {
    10_000
}

fn default_tempo_trace_size() -> String {
    "5MiB".into()
}

fn default_generator_series() -> u32 {
    100_000
}

/// Whether a limits block is all defaults: such a block is left out when a spec
/// is written, so that the CRD's defaults of `spec.loki` and `spec.tempo` stay
/// those of the previous release.
pub(super) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}
