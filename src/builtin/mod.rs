//! The content sextant ships with every stack: the built-in Grafana dashboards
//! (`dashboards`), the built-in alert rules about the stack itself (`rules`), the
//! rules `spec.slos` becomes (`slos`), the cost rules of `spec.genai`
//! (`cost`), and the index of the runbooks under docs/runbooks/.
//!
//! Each piece says which components it needs, so a stack gets only what can work
//! with what it runs.

pub mod cost;
pub mod dashboards;
pub mod rules;
pub mod slos;

/// Where the runbooks live; `<base><RuleName>.md`.
pub const RUNBOOK_BASE: &str = "https://github.com/sextant-dev/sextant/blob/main/docs/runbooks/";

/// The runbook of a built-in rule.
pub fn runbook_url(rule: &str) -> String {
    format!("{RUNBOOK_BASE}{rule}.md")
}
