//! `spec.probe`: the stack's self-check. The operator sends one span, one log
//! record and one metric point to the stack's collector on an interval and
//! finds each back through Tempo, Loki and Prometheus; the result is the
//! `DataFlowing` condition (docs/data-flowing.md). `crate::controller::probe`
//! runs it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DURATION_PATTERN;

/// How often and how patiently the operator checks that telemetry sent to the
/// stack arrives and can be found. Every field is optional; the defaults are
/// written here, not stored, so a stack without `probe` stays as written.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSpec {
    /// Run the probe. Default: true. False: `DataFlowing` is Unknown with
    /// reason `ProbeDisabled` and nothing is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,

    /// Time between the starts of two probes, from 1m to 24h. Default: 5m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub interval: Option<String>,

    /// How long one probe waits for its data to be found in every backend,
    /// from 10s to 10m and shorter than `interval`. Default: 1m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub timeout: Option<String>,
}

impl ProbeSpec {
    /// The default interval.
    pub const DEFAULT_INTERVAL: &'static str = "5m";
    /// The default timeout.
    pub const DEFAULT_TIMEOUT: &'static str = "1m";

    /// Whether the probe runs.
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}
