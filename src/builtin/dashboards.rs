//! The built-in Grafana dashboards, kept as JSON under `dashboards/` and embedded
//! in the binary, and the form of each that a given stack can fill: a panel that
//! queries a backend the stack does not run, or span metrics that no
//! metrics-generator writes, is left out rather than shipped empty.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use crate::api::BuiltinDashboard;
use crate::catalogue::{self, Program};
use crate::model::uid;

/// The JSON model of a built-in dashboard, whole.
pub fn builtin_json(d: BuiltinDashboard) -> &'static str {
    match d {
        BuiltinDashboard::StackHealth => include_str!("../../dashboards/stack-health.json"),
        BuiltinDashboard::ServiceOverview => include_str!("../../dashboards/service-overview.json"),
        BuiltinDashboard::AgentFleet => include_str!("../../dashboards/agent-fleet.json"),
        BuiltinDashboard::LogsOverview => include_str!("../../dashboards/logs-overview.json"),
        BuiltinDashboard::KubernetesCluster => {
            include_str!("../../dashboards/kubernetes-cluster.json")
        }
        BuiltinDashboard::KubernetesNamespace => {
            include_str!("../../dashboards/kubernetes-namespace.json")
        }
        BuiltinDashboard::KubernetesPodLogs => {
            include_str!("../../dashboards/kubernetes-pod-logs.json")
        }
    }
}

/// The `Sextant / SLOs` dashboard. It comes with `spec.slos`, not with
/// `spec.grafana.dashboards.builtin`: stacks created before it existed hold
/// the older default list (the API server wrote it into them), and would
/// never get it.
pub const SLO_DASHBOARD: &str = include_str!("../../dashboards/slos.json");

/// The file name (without `.json`) of the SLO dashboard.
pub const SLO_DASHBOARD_NAME: &str = "slos";

/// Every dashboard file sextant ships, by name: the built-in ones, then the
/// SLO dashboard.
pub fn all_json() -> Vec<(&'static str, &'static str)> {
    BuiltinDashboard::ALL
        .iter()
        .map(|d| (d.name(), builtin_json(*d)))
        .chain([(SLO_DASHBOARD_NAME, SLO_DASHBOARD)])
        .collect()
}

/// What a stack gives its dashboards to query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Available {
    /// The Prometheus datasource.
    pub prometheus: bool,
    /// The Tempo datasource.
    pub tempo: bool,
    /// The Loki datasource.
    pub loki: bool,
    /// Span metrics and service graphs in Prometheus (Tempo's metrics-generator).
    pub span_metrics: bool,
    /// The kubelet's stats in Prometheus (`Capabilities::kubelet_stats`).
    pub kubelet: bool,
    /// The cluster's state in Prometheus (`Capabilities::cluster_state`).
    pub cluster_state: bool,
    /// The Kubernetes events in Loki (`Capabilities::cluster_events`).
    pub cluster_events: bool,
    /// The SLOs' recorded series in Prometheus (`spec.slos`, `super::slos`).
    pub slos: bool,
    /// The recorded GenAI cost in Prometheus (`spec.genai.pricing`, `super::cost`).
    pub genai_cost: bool,
}

impl Available {
    /// Everything: the form of a dashboard that is its file as it is.
    pub const ALL: Available = Available {
        prometheus: true,
        tempo: true,
        loki: true,
        span_metrics: true,
        kubelet: true,
        cluster_state: true,
        cluster_events: true,
        slos: true,
        genai_cost: true,
    };

    fn datasource(self, uid_: &str) -> bool {
        match uid_ {
            uid::PROMETHEUS => self.prometheus,
            uid::TEMPO => self.tempo,
            uid::LOKI => self.loki,
            // Grafana's own (`-- Grafana --`, `-- Dashboard --`, expressions).
            _ => true,
        }
    }
}

/// The built-in dashboard as a stack with `available` can fill it, or `None` when
/// no panel would be left. Computed once per dashboard and set of backends.
pub fn builtin_for(d: BuiltinDashboard, available: Available) -> Option<Arc<str>> {
    fitted(d.name(), builtin_json(d), available)
}

/// The SLO dashboard as a stack with `available` can fill it (`None` without
/// SLOs).
pub fn slo_dashboard(available: Available) -> Option<Arc<str>> {
    fitted(SLO_DASHBOARD_NAME, SLO_DASHBOARD, available)
}

fn fitted(name: &'static str, json: &'static str, available: Available) -> Option<Arc<str>> {
    type Cache = Mutex<BTreeMap<(&'static str, Available), Option<Arc<str>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Ok(map) = cache.lock()
        && let Some(found) = map.get(&(name, available))
    {
        return found.clone();
    }
    // A dashboard that loses nothing is its file as it is, byte for byte, so
    // a new kind of panel elsewhere changes no stack's dashboards.
    let made = if available == Available::ALL {
        Some(Arc::from(json))
    } else {
        serde_json::from_str::<Value>(json).ok().and_then(|model| {
            let fitted = fit(model.clone(), available)?;
            Some(if fitted == model {
                Arc::from(json)
            } else {
                Arc::from(serde_json::to_string_pretty(&fitted).unwrap_or_default())
            })
        })
    };
    if let Ok(mut map) = cache.lock() {
        map.insert((name, available), made.clone());
    }
    made
}

/// Every datasource uid named anywhere in `v`.
fn datasource_uids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(ds)) = m.get("datasource")
                && let Some(u) = ds.get("uid").and_then(Value::as_str)
            {
                out.push(u.to_string());
            }
            m.values().for_each(|v| datasource_uids(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| datasource_uids(v, out)),
        _ => {}
    }
}

/// Whether a panel (its JSON as text, and its datasources) can show anything.
fn panel_works(panel: &Value, available: Available, missing_vars: &[String]) -> bool {
    let mut uids = Vec::new();
    datasource_uids(panel, &mut uids);
    let text = panel.to_string();
    let span_metrics = text.contains("traces_spanmetrics")
        || text.contains("traces_service_graph")
        || text.contains("\"serviceMap\"");
    // Any series of the node agent's kubeletstats receiver (the catalogue's
    // `Kubelet` families; label names such as `k8s_pod_name` are not series).
    let reads = |program: Program| {
        catalogue::FAMILIES
            .iter()
            .filter(|f| f.program == program)
            .any(|f| text.contains(f.name))
    };
    // The event stream's selector (`crate::render::cluster_collector` sets it).
    let events = text.contains(&format!(
        "service_name=\\\"{}\\\"",
        crate::model::EVENTS_SERVICE
    ));
    uids.iter().all(|u| available.datasource(u))
        && (available.span_metrics || !span_metrics)
        && (available.kubelet || !reads(Program::Kubelet))
        && (available.cluster_state || !reads(Program::KubernetesState))
        && (available.cluster_events || !events)
        && (available.slos
            || !(text.contains("sextant:slo_") || text.contains(super::slos::ALERT_PREFIX)))
        && (available.genai_cost || !text.contains(super::cost::COST))
        && !missing_vars
            .iter()
            .any(|v| text.contains(&format!("${v}")) || text.contains(&format!("${{{v}")))
}

/// Leaves out the variables and panels a stack cannot fill, then rows left with
/// nothing under them. `None` when no panel is left.
fn fit(mut model: Value, available: Available) -> Option<Value> {
    let mut missing_vars = Vec::new();
    if let Some(list) = model
        .pointer_mut("/templating/list")
        .and_then(Value::as_array_mut)
    {
        list.retain(|var| {
            let ok = panel_works(var, available, &[]);
            if !ok && let Some(name) = var.get("name").and_then(Value::as_str) {
                missing_vars.push(name.to_string());
            }
            ok
        });
    }
    let panels = model.get_mut("panels")?.as_array_mut()?;
    panels.retain(|p| panel_works(p, available, &missing_vars));
    // A row keeps its place only when a panel follows it before the next row.
    let keep: Vec<bool> = (0..panels.len())
        .map(|i| {
            panels[i]["type"] != "row"
                || panels.get(i + 1).is_some_and(|next| next["type"] != "row")
        })
        .collect();
    let mut it = keep.iter();
    panels.retain(|_| it.next().copied().unwrap_or(true));
    panels.iter().any(|p| p["type"] != "row").then_some(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel_titles(json: &str) -> Vec<String> {
        let v: Value = serde_json::from_str(json).unwrap();
        v["panels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["title"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn everything_available_is_the_file_itself() {
        for d in BuiltinDashboard::ALL {
            assert_eq!(&*builtin_for(d, Available::ALL).unwrap(), builtin_json(d));
        }
    }

    #[test]
    fn panels_without_their_backend_are_left_out() {
        let no_loki = Available {
            loki: false,
            ..Available::ALL
        };
        let all = panel_titles(builtin_json(BuiltinDashboard::StackHealth));
        let fitted = panel_titles(&builtin_for(BuiltinDashboard::StackHealth, no_loki).unwrap());
        assert!(fitted.len() < all.len());
        assert!(
            !fitted.iter().any(|t| t.contains("Log lines")),
            "{fitted:?}"
        );
        assert!(fitted.iter().any(|t| t == "Samples appended"), "{fitted:?}");
        assert!(builtin_for(BuiltinDashboard::LogsOverview, no_loki).is_none());
        let text = builtin_for(BuiltinDashboard::StackHealth, no_loki).unwrap();
        assert!(!text.contains(uid::LOKI));
    }

    #[test]
    fn kubelet_panels_need_the_node_agent() {
        let no_agent = Available {
            kubelet: false,
            ..Available::ALL
        };
        // The namespace variable comes from the kubelet's stats.
        assert!(builtin_for(BuiltinDashboard::KubernetesNamespace, no_agent).is_none());
        let fitted = panel_titles(&builtin_for(BuiltinDashboard::StackHealth, no_agent).unwrap());
        assert!(
            !fitted.iter().any(|t| t.contains("pod volumes")),
            "{fitted:?}"
        );
        assert!(fitted.iter().any(|t| t == "Samples appended"), "{fitted:?}");
        let all = panel_titles(builtin_json(BuiltinDashboard::StackHealth));
        assert!(all.iter().any(|t| t.contains("pod volumes")), "{all:?}");
    }

    #[test]
    fn cluster_state_panels_need_the_cluster_collector() {
        let no_state = Available {
            cluster_state: false,
            ..Available::ALL
        };
        let all = panel_titles(builtin_json(BuiltinDashboard::StackHealth));
        let fitted = panel_titles(&builtin_for(BuiltinDashboard::StackHealth, no_state).unwrap());
        for title in ["Containers crash-looping", "Nodes not ready"] {
            assert!(all.iter().any(|t| t == title), "{all:?}");
            assert!(!fitted.iter().any(|t| t == title), "{fitted:?}");
        }
        // Its row goes with its panels.
        assert!(!fitted.iter().any(|t| t == "Cluster"), "{fitted:?}");
        assert!(fitted.iter().any(|t| t == "Samples appended"), "{fitted:?}");
        assert!(builtin_for(BuiltinDashboard::KubernetesCluster, no_state).is_none());
        // Requests, limits and restarts leave the namespace dashboard; the
        // kubelet's panels stay.
        let fitted =
            panel_titles(&builtin_for(BuiltinDashboard::KubernetesNamespace, no_state).unwrap());
        assert!(fitted.iter().any(|t| t == "CPU by pod"), "{fitted:?}");
        assert!(
            !fitted
                .iter()
                .any(|t| t.contains("against limit") || t.contains("Restarts")),
            "{fitted:?}"
        );
        // Without the events in Loki the cluster dashboard loses its events.
        let no_events = Available {
            cluster_events: false,
            ..Available::ALL
        };
        let fitted =
            panel_titles(&builtin_for(BuiltinDashboard::KubernetesCluster, no_events).unwrap());
        assert!(!fitted.iter().any(|t| t.contains("vents")), "{fitted:?}");
        assert!(fitted.iter().any(|t| t == "Nodes not ready"), "{fitted:?}");
    }

    #[test]
    fn span_metric_panels_need_the_metrics_generator() {
        let no_generator = Available {
            span_metrics: false,
            ..Available::ALL
        };
        // service-overview lists its services from span metrics: nothing is left.
        assert!(builtin_for(BuiltinDashboard::ServiceOverview, no_generator).is_none());
        let all = panel_titles(builtin_json(BuiltinDashboard::AgentFleet));
        let d = builtin_for(BuiltinDashboard::AgentFleet, no_generator).unwrap();
        assert!(!d.contains("traces_spanmetrics") && !d.contains("serviceMap"));
        let fitted = panel_titles(&d);
        assert!(fitted.len() < all.len(), "{fitted:?}");
        // Its GenAI metric panels stay.
        assert!(d.contains("gen_ai_client_token_usage"));
    }

    #[test]
    fn panels_using_a_variable_of_a_missing_backend_go_with_it() {
        let no_prometheus = Available {
            prometheus: false,
            span_metrics: false,
            ..Available::ALL
        };
        // Every service-overview panel filters by $service, a Prometheus variable.
        assert!(builtin_for(BuiltinDashboard::ServiceOverview, no_prometheus).is_none());
        // logs-overview takes its variables from Loki.
        assert!(builtin_for(BuiltinDashboard::LogsOverview, no_prometheus).is_some());
    }
}
