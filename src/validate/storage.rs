//! Durations, retention periods and storage sizes: units that parse, and the
//! rules Loki's daily index and Prometheus's size-based retention put on them.

use std::time::Duration;

use promql_parser::parser::Expr;

use super::syntax::one_line;
use super::{LOKI_DAY, Validator};
use crate::api::ObservabilityStackSpec;
use crate::model::StreamRule;
use crate::units::{parse_byte_size, parse_duration, parse_quantity_bytes};

impl Validator {
    pub(super) fn duration(&mut self, path: &str, value: &str) -> Duration {
        parse_duration(value).unwrap_or_else(|e| {
            self.err(path, e);
            Duration::ZERO
        })
    }

    pub(super) fn positive_duration(&mut self, path: &str, value: &str) -> Duration {
        let before = self.errors.len();
        let d = self.duration(path, value);
        if self.errors.len() == before && d.is_zero() {
            self.err(path, "must be longer than 0s");
        }
        d
    }

    pub(super) fn retention(&mut self, path: &str, value: &str) -> Duration {
        self.positive_duration(path, value)
    }

    /// Loki applies retention per 24h index table: at least a day, in whole days.
    pub(super) fn loki_period(&mut self, path: &str, period: Duration) {
        let day = LOKI_DAY.as_millis();
        if period.as_millis() < day || !period.as_millis().is_multiple_of(day) {
            self.err(
                path,
                "must be a whole number of days (24h, 48h, 7d...): Loki's compactor retains logs per daily index",
            );
        }
    }

    pub(super) fn quantity(&mut self, path: &str, value: &str) -> u128 {
        match parse_quantity_bytes(value) {
            Ok(0) => {
                self.err(path, "must be larger than 0");
                0
            }
            Ok(b) => b,
            Err(e) => {
                self.err(path, e);
                0
            }
        }
    }

    /// The volume size, and the TSDB size limit (85% of the volume by default).
    pub(super) fn prometheus_storage(
        &mut self,
        spec: &ObservabilityStackSpec,
        volume: u128,
    ) -> u128 {
        match &spec.prometheus.retention.size {
            None => volume / 100 * 85,
            Some(s) => match parse_byte_size(s) {
                Ok(0) => {
                    self.err("spec.prometheus.retention.size", "must be larger than 0");
                    0
                }
                Ok(b) if volume > 0 && b > volume => {
                    self.err(
                        "spec.prometheus.retention.size",
                        format!(
                            "must not exceed spec.prometheus.storage.size ({}), or the volume fills before retention deletes anything",
                            spec.prometheus.storage.size
                        ),
                    );
                    b
                }
                Ok(b) => b,
                Err(e) => {
                    self.err("spec.prometheus.retention.size", e);
                    0
                }
            },
        }
    }

    pub(super) fn loki_streams(&mut self, spec: &ObservabilityStackSpec) -> Vec<StreamRule> {
        let mut out = Vec::new();
        for (i, s) in spec.loki.retention.streams.iter().enumerate() {
            let path = format!("spec.loki.retention.streams[{i}]");
            if let Err(e) = check_stream_selector(&s.selector) {
                self.err(format!("{path}.selector"), e);
            }
            let period = self.positive_duration(&format!("{path}.period"), &s.period);
            if !period.is_zero() {
                self.loki_period(&format!("{path}.period"), period);
            }
            out.push(StreamRule {
                selector: s.selector.clone(),
                period,
                priority: s.priority,
            });
        }
        out
    }
}

/// Checks a LogQL stream selector: label matchers in braces and nothing else. The
/// PromQL parser also enforces Loki's rule that one matcher must not match "".
pub fn check_stream_selector(selector: &str) -> Result<(), String> {
    let trimmed = selector.trim();
    if !trimmed.starts_with('{') {
        return Err("must be a LogQL stream selector such as {namespace=\"dev\"}".into());
    }
    match super::promql::parse(trimmed) {
        Ok(Expr::VectorSelector(vs))
            if vs.name.is_none() && vs.offset.is_none() && vs.at.is_none() =>
        {
            if !vs.matchers.or_matchers.is_empty() {
                return Err("must not use 'or' between matchers".into());
            }
            if vs.matchers.matchers.iter().all(|m| m.is_match("")) {
                return Err(
                    "needs at least one matcher that does not match the empty string".into(),
                );
            }
            Ok(())
        }
        Ok(_) => Err("must be only a stream selector, such as {namespace=\"dev\"}".into()),
        Err(e) => Err(format!("is not a valid stream selector: {}", one_line(&e))),
    }
}
