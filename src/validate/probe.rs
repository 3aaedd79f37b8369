//! `spec.probe`: an interval and a timeout the operator can keep: each a
//! duration, the interval from 1m to 24h, the timeout from 10s to 10m and
//! shorter than the interval (a probe never overlaps the next).

use std::time::Duration;

use super::Validator;
use crate::api::{ObservabilityStackSpec, ProbeSpec};
use crate::units::parse_duration;

/// Bounds of `spec.probe.interval`.
pub const INTERVAL: (Duration, Duration) = (Duration::from_secs(60), Duration::from_secs(86_400));
/// Bounds of `spec.probe.timeout`.
pub const TIMEOUT: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(600));

/// The interval and timeout of a valid `spec.probe`, defaults filled in.
pub fn timings(p: &ProbeSpec) -> Option<(Duration, Duration)> {
    let interval = parse_duration(p.interval.as_deref().unwrap_or(ProbeSpec::DEFAULT_INTERVAL));
    let timeout = parse_duration(p.timeout.as_deref().unwrap_or(ProbeSpec::DEFAULT_TIMEOUT));
    Some((interval.ok()?, timeout.ok()?))
}

impl Validator {
    pub(super) fn probe(&mut self, spec: &ObservabilityStackSpec) {
        let p = &spec.probe;
        // Each value as written or its default; `None` when it is refused.
        let mut within = |field: &str,
                          value: Option<&str>,
                          default: &str,
                          bounds: (Duration, Duration),
                          range: &str| {
            let value = value.unwrap_or(default);
            let checked = parse_duration(value).and_then(|d| {
                if d < bounds.0 || d > bounds.1 {
                    Err(format!("{value:?} is out of range: must be from {range}"))
                } else {
                    Ok(d)
                }
            });
            checked
                .map_err(|e| self.err(format!("spec.probe.{field}"), e))
                .ok()
        };
        let interval = within(
            "interval",
            p.interval.as_deref(),
            ProbeSpec::DEFAULT_INTERVAL,
            INTERVAL,
            "1m to 24h",
        );
        let timeout = within(
            "timeout",
            p.timeout.as_deref(),
            ProbeSpec::DEFAULT_TIMEOUT,
            TIMEOUT,
            "10s to 10m",
        );
        if let (Some(i), Some(t)) = (interval, timeout)
            && t >= i
        {
            self.err(
                "spec.probe.timeout",
                format!(
                    "must be shorter than spec.probe.interval ({}): a probe would still wait when the next one starts",
                    p.interval.as_deref().unwrap_or(ProbeSpec::DEFAULT_INTERVAL)
                ),
            );
        }
    }
}
