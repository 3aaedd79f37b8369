//! `spec.slos`: what makes an SLO's rules meaningless or refused, checked
//! before anything is written: a target outside (0, 1), a window that does not
//! parse, is outside 7d to 90d or longer than Prometheus keeps metrics, an SLI
//! with no field or two, ratio selectors that are not plain series selectors
//! (sextant takes `rate` of each), a latency threshold that is not a bucket of
//! Tempo's span-metrics histogram, shorthands whose data the stack does not
//! collect, and label names Prometheus refuses or sextant sets itself.

use std::collections::BTreeSet;
use std::time::Duration;

use promql_parser::parser::Expr;

use super::Validator;
use super::syntax::{is_dns_label, is_label_name, one_line};
use crate::api::{ObservabilityStackSpec, RatioSli, Slo};
use crate::builtin::slos::{MAX_WINDOW, MIN_WINDOW, SPAN_LATENCY_BUCKETS, latency_bucket};
use crate::units::{format_go_duration, parse_duration};

/// Labels sextant sets on every SLO rule.
const RESERVED_LABELS: [&str; 3] = ["slo", "window", "severity"];

impl Validator {
    pub(super) fn slos(&mut self, spec: &ObservabilityStackSpec, metrics_retention: Duration) {
        if spec.slos.is_empty() {
            return;
        }
        if !spec.prometheus.enabled {
            self.err(
                "spec.slos",
                "needs Prometheus, which records the SLOs' error ratios: enable spec.prometheus",
            );
        }
        let mut names = BTreeSet::new();
        for (i, slo) in spec.slos.iter().enumerate() {
            let p = format!("spec.slos[{i}]");
            if !is_dns_label(&slo.name) {
                self.err(
                    format!("{p}.name"),
                    "must be 1 to 63 lower case letters, digits and '-', starting and ending with a letter or digit",
                );
            }
            self.unique(
                &mut names,
                format!("{p}.name"),
                &slo.name,
                " among the SLOs",
            );
            if !(slo.target.is_finite() && slo.target > 0.0 && slo.target < 1.0) {
                self.err(
                    format!("{p}.target"),
                    "must be above 0 and below 1, such as 0.995 (99.5% of events good)",
                );
            }
            self.slo_window(&p, slo, metrics_retention);
            self.sli(&p, slo, spec);
            for k in slo.labels.keys() {
                if !is_label_name(k) || k.starts_with("__") {
                    self.err(
                        format!("{p}.labels"),
                        format!("{k:?} is not a label name (letters, digits and '_', not starting with a digit or '__')"),
                    );
                } else if RESERVED_LABELS.contains(&k.as_str()) {
                    self.err(
                        format!("{p}.labels"),
                        format!("{k:?} is set by sextant on every SLO rule; use another name"),
                    );
                }
            }
        }
    }

    fn slo_window(&mut self, p: &str, slo: &Slo, metrics_retention: Duration) {
        let path = format!("{p}.window");
        let w = match parse_duration(&slo.window) {
            Ok(w) => w,
            Err(e) => return self.err(path, e),
        };
        if w < MIN_WINDOW || w > MAX_WINDOW {
            self.err(
                path,
                "must be from 7d to 90d: shorter windows page on noise, longer ones are not kept by a single Prometheus",
            );
        } else if !w.as_secs().is_multiple_of(60) || w.subsec_nanos() != 0 {
            self.err(
                path,
                "must be a whole number of minutes, such as 28d or 30d",
            );
        } else if w > metrics_retention {
            self.err(
                path,
                format!(
                    "is longer than Prometheus keeps metrics ({}): raise spec.retention.metrics (or spec.prometheus.retention.time) to at least the window",
                    format_go_duration(metrics_retention)
                ),
            );
        }
    }

    fn sli(&mut self, p: &str, slo: &Slo, spec: &ObservabilityStackSpec) {
        let sli = &slo.sli;
        let path = format!("{p}.sli");
        let set = [
            sli.ratio.is_some(),
            sli.spans.is_some(),
            sli.agent_tasks.is_some(),
            sli.genai_operations.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if set != 1 {
            self.err(
                path.clone(),
                format!("must set exactly one of ratio, spans, agentTasks or genaiOperations (sets {set})"),
            );
        }
        if let Some(r) = &sli.ratio {
            self.ratio_sli(&format!("{path}.ratio"), r);
        }
        if let Some(s) = &sli.spans {
            let sp = format!("{path}.spans");
            if !(spec.tempo.enabled && spec.tempo.metrics_generator.enabled) {
                self.err(
                    sp.clone(),
                    "reads Tempo's span metrics: needs spec.tempo.enabled and spec.tempo.metricsGenerator.enabled",
                );
            }
            if s.service.trim().is_empty() {
                self.err(format!("{sp}.service"), "must not be empty");
            }
            if s.span_name.as_deref().is_some_and(|n| n.is_empty()) {
                self.err(format!("{sp}.spanName"), "must not be empty when set");
            }
            if let Some(t) = &s.latency_threshold
                && latency_bucket(t).is_none()
            {
                self.err(
                    format!("{sp}.latencyThreshold"),
                    format!(
                        "must be a bucket bound of Tempo's span-metrics histogram, in seconds: one of {}",
                        SPAN_LATENCY_BUCKETS
                            .iter()
                            .map(|b| format!("{b}s"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        if let Some(a) = &sli.agent_tasks
            && a.service.as_deref().is_some_and(|s| s.trim().is_empty())
        {
            self.err(
                format!("{path}.agentTasks.service"),
                "must not be empty when set",
            );
        }
        if let Some(g) = &sli.genai_operations {
            let gp = format!("{path}.genaiOperations");
            if g.service.as_deref().is_some_and(|s| s.trim().is_empty()) {
                self.err(format!("{gp}.service"), "must not be empty when set");
            }
            if g.model.as_deref().is_some_and(|s| s.trim().is_empty()) {
                self.err(format!("{gp}.model"), "must not be empty when set");
            }
        }
    }

    fn ratio_sli(&mut self, path: &str, r: &RatioSli) {
        match (&r.good, &r.bad) {
            (Some(_), Some(_)) | (None, None) => {
                self.err(path, "must set exactly one of good or bad, with total")
            }
            _ => {}
        }
        let fields = [
            ("good", r.good.as_deref()),
            ("bad", r.bad.as_deref()),
            ("total", Some(r.total.as_str())),
        ];
        for (field, value) in fields {
            if let Some(v) = value
                && let Err(e) = counter_selector(v)
            {
                self.err(format!("{path}.{field}"), e);
            }
        }
    }
}

/// A plain series selector, of which `rate` can be taken: no function, range,
/// offset or `@`.
fn counter_selector(s: &str) -> Result<(), String> {
    let rule = "must be a series selector of a counter, such as http_requests_total{job=\"api\"} (sextant takes rate() of it)";
    match super::promql::parse(s) {
        Err(e) => Err(format!("is not valid PromQL: {}; {rule}", one_line(&e))),
        Ok(Expr::VectorSelector(v)) if v.offset.is_none() && v.at.is_none() => Ok(()),
        Ok(Expr::VectorSelector(_)) => Err(format!("has an offset or @ modifier; {rule}")),
        Ok(_) => Err(rule.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_selectors_are_counters() {
        assert!(counter_selector("http_requests_total{job=\"api\"}").is_ok());
        assert!(counter_selector("{__name__=\"x_total\"}").is_ok());
        assert!(counter_selector("rate(x_total[5m])").is_err());
        assert!(counter_selector("x_total[5m]").is_err());
        assert!(counter_selector("x_total offset 5m").is_err());
        assert!(counter_selector("x_total{").is_err());
        assert!(is_dns_label("agent-tasks"));
        assert!(!is_dns_label("Agent"));
        assert!(!is_dns_label("-a"));
    }
}
