//! `spec.prometheus.recordingRuleGroups`: what Prometheus refuses when it
//! loads a rule file (prometheus/prometheus `model/rulefmt/rulefmt.go`
//! `Rule.Validate`, read in stored copies: a valid metric name as `record`,
//! an expression that parses, label names other than `__name__`; unique group
//! names), checked before the file is written, so a bad rule never stops
//! Prometheus at start. `tests/recording_rules.rs` runs promtool 3.5.3 on
//! what is rendered.

use std::collections::BTreeSet;

use super::Validator;
use super::syntax::{is_label_name, one_line};
use crate::api::ObservabilityStackSpec;
use crate::builtin::slos::GROUP_PREFIX;

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

impl Validator {
    pub(super) fn recording_rules(&mut self, spec: &ObservabilityStackSpec) {
        let groups = &spec.prometheus.recording_rule_groups;
        if groups.is_empty() {
            return;
        }
        let base = "spec.prometheus.recordingRuleGroups";
        if !spec.prometheus.enabled {
            self.err(
                base,
                "needs Prometheus, which evaluates them: enable spec.prometheus",
            );
        }
        let mut names = BTreeSet::new();
        for (i, g) in groups.iter().enumerate() {
            let gpath = format!("{base}[{i}]");
            if g.name.trim().is_empty() || g.name.len() > 190 {
                self.err(format!("{gpath}.name"), "must be 1 to 190 characters");
            }
            if g.name == crate::builtin::cost::COST_GROUP {
                self.err(
                    format!("{gpath}.name"),
                    format!("{:?} is reserved for the GenAI cost (spec.genai)", g.name),
                );
            } else if g.name.starts_with(GROUP_PREFIX) {
                self.err(
                    format!("{gpath}.name"),
                    format!("{GROUP_PREFIX:?} starts the SLOs' rule groups (spec.slos); use another name"),
                );
            }
            self.unique(
                &mut names,
                format!("{gpath}.name"),
                &g.name,
                " among the recording rule groups",
            );
            if let Some(interval) = &g.interval {
                self.positive_duration(&format!("{gpath}.interval"), interval);
            }
            if g.rules.is_empty() || g.rules.len() > 200 {
                self.err(format!("{gpath}.rules"), "must hold 1 to 200 rules");
            }
            for (j, r) in g.rules.iter().enumerate() {
                let rpath = format!("{gpath}.rules[{j}]");
                if !is_metric_name(&r.record) || r.record.len() > 190 {
                    self.err(
                        format!("{rpath}.record"),
                        "must be a metric name (letters, digits, '_' and ':', not starting with a digit), such as job:http_requests:rate5m",
                    );
                }
                if let Err(e) = super::promql::parse(&r.expr) {
                    self.err(
                        format!("{rpath}.expr"),
                        format!("is not valid PromQL: {}", one_line(&e)),
                    );
                }
                for k in r.labels.keys() {
                    if !is_label_name(k) || k.starts_with("__") {
                        self.err(
                            format!("{rpath}.labels"),
                            format!("{k:?} is not a label name (letters, digits and '_', not starting with a digit or '__')"),
                        );
                    }
                }
            }
        }
    }
}
