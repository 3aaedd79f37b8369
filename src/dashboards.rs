//! The built-in Grafana dashboards, kept as JSON under `dashboards/` and embedded
//! in the binary.

use crate::api::BuiltinDashboard;

/// The JSON model of a built-in dashboard.
pub fn builtin_json(d: BuiltinDashboard) -> &'static str {
    match d {
        BuiltinDashboard::StackHealth => include_str!("../dashboards/stack-health.json"),
        BuiltinDashboard::ServiceOverview => include_str!("../dashboards/service-overview.json"),
        BuiltinDashboard::AgentFleet => include_str!("../dashboards/agent-fleet.json"),
        BuiltinDashboard::LogsOverview => include_str!("../dashboards/logs-overview.json"),
    }
}
