//! `spec.genai`: a price table Prometheus can apply and a budget it can
//! alert on: models and providers given, prices that are numbers of dollars
//! (not negative), no price shadowed by an identical one above it, a budget
//! above zero with prices to count it, and Prometheus to record the cost.

use std::collections::BTreeSet;

use super::Validator;
use crate::api::ObservabilityStackSpec;

impl Validator {
    pub(super) fn genai(&mut self, spec: &ObservabilityStackSpec) {
        let g = &spec.genai;
        if (!g.pricing.is_empty() || g.daily_budget_usd.is_some()) && !spec.prometheus.enabled {
            self.err(
                "spec.genai",
                "needs Prometheus, which records the cost: enable spec.prometheus",
            );
        }
        let mut seen = BTreeSet::new();
        for (i, p) in g.pricing.iter().enumerate() {
            let path = format!("spec.genai.pricing[{i}]");
            if p.model.trim().is_empty() {
                self.err(format!("{path}.model"), "must not be empty");
            }
            if p.provider.as_deref().is_some_and(|v| v.trim().is_empty()) {
                self.err(format!("{path}.provider"), "must not be empty when set");
            }
            for (field, v) in [
                ("inputUsdPerMillionTokens", p.input_usd_per_million_tokens),
                ("outputUsdPerMillionTokens", p.output_usd_per_million_tokens),
            ] {
                if !(v.is_finite() && v >= 0.0) {
                    self.err(
                        format!("{path}.{field}"),
                        "must be a number of US dollars, 0 or more, such as 2.5",
                    );
                }
            }
            if !seen.insert((p.provider.as_deref(), p.model.as_str())) {
                self.err(
                    format!("{path}.model"),
                    format!(
                        "{:?} is priced above already (for the same provider): the first matching price wins, so this one would never apply",
                        p.model
                    ),
                );
            }
        }
        if let Some(b) = g.daily_budget_usd {
            if !(b.is_finite() && b > 0.0) {
                self.err(
                    "spec.genai.dailyBudgetUsd",
                    "must be a number of US dollars above 0, such as 100",
                );
            }
            if g.pricing.is_empty() {
                self.err(
                    "spec.genai.dailyBudgetUsd",
                    "needs spec.genai.pricing: without prices there is no cost to compare",
                );
            }
        }
    }
}
