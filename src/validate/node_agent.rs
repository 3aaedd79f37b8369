//! The node agent's fields: it needs the collector it forwards to, its
//! tolerations must be ones the API server takes, its priority class a valid
//! name, its excluded namespaces namespace names and its kubelet interval a
//! duration the kubelet can serve.

use std::time::Duration;

use k8s_openapi::api::core::v1::Toleration;

use super::Validator;
use super::syntax::{is_dns_label, is_dns_subdomain, is_label_key};
use crate::api::ObservabilityStackSpec;

/// The kubelet's container statistics come from cAdvisor, which refreshes them
/// every `--housekeeping-interval` (10s by default): reading `/stats/summary` more
/// often returns the same numbers.
const MIN_KUBELET_INTERVAL: Duration = Duration::from_secs(10);
/// `spec.nodeAgent.kubeletMetrics.interval`'s default.
const DEFAULT_KUBELET_INTERVAL: Duration = Duration::from_secs(30);

/// Effects a taint (and so a toleration) may have; empty matches every effect
/// (k8s.io/api core/v1 `TaintEffect`).
const EFFECTS: [&str; 4] = ["", "NoSchedule", "PreferNoSchedule", "NoExecute"];

/// Whether the agent would send anything: logs with Loki, or metrics with
/// Prometheus.
fn collects_something(spec: &ObservabilityStackSpec) -> bool {
    let agent = &spec.node_agent;
    let logs = agent.logs.enabled && spec.loki.enabled;
    let metrics =
        (agent.kubelet_metrics.enabled || agent.host_metrics.enabled) && spec.prometheus.enabled;
    logs || metrics
}

/// Whether the agent runs: as `spec.nodeAgent.enabled` says, else whenever the
/// collector runs and there is something to collect. An explicit `true` that
/// cannot work is an error (`Validator::node_agent`), not silently off.
pub(super) fn agent_enabled(spec: &ObservabilityStackSpec) -> bool {
    spec.node_agent
        .enabled
        .unwrap_or_else(|| spec.collector.enabled && collects_something(spec))
}

impl Validator {
    /// Checks the node agent's fields; returns its kubelet interval (the default's
    /// when the agent is off).
    pub(super) fn node_agent(&mut self, spec: &ObservabilityStackSpec) -> Duration {
        let agent = &spec.node_agent;
        if !agent_enabled(spec) {
            return DEFAULT_KUBELET_INTERVAL;
        }
        if !collects_something(spec) {
            self.err(
                "spec.nodeAgent.enabled",
                "the node agent would collect nothing: it needs logs with loki enabled, or kubeletMetrics or hostMetrics with prometheus enabled",
            );
        }
        if !spec.collector.enabled {
            self.err(
                "spec.nodeAgent.enabled",
                "needs spec.collector.enabled: the node agent sends what it collects through the collector",
            );
        }
        if let Some(class) = &agent.priority_class_name
            && !is_dns_subdomain(class)
        {
            self.err(
                "spec.nodeAgent.priorityClassName",
                "must be a PriorityClass name (a DNS subdomain: lower case letters, digits, '-' and '.')",
            );
        }
        for (i, t) in agent.tolerations.iter().flatten().enumerate() {
            self.toleration(&format!("spec.nodeAgent.tolerations[{i}]"), t);
        }
        for (i, ns) in agent.logs.exclude_namespaces.iter().enumerate() {
            if !is_dns_label(ns) {
                self.err(
                    format!("spec.nodeAgent.logs.excludeNamespaces[{i}]"),
                    "must be a namespace name (a DNS label: lower case letters, digits and '-')",
                );
            }
        }
        let path = "spec.nodeAgent.kubeletMetrics.interval";
        let before = self.errors.len();
        let interval = self.positive_duration(path, &agent.kubelet_metrics.interval);
        if self.errors.len() == before && interval < MIN_KUBELET_INTERVAL {
            self.err(
                path,
                "must be at least 10s: the kubelet refreshes its statistics every 10s",
            );
        }
        interval
    }

    /// The API server's own rules for a toleration (k8s.io/kubernetes
    /// `pkg/apis/core/validation` `ValidateTolerations`): a known operator and
    /// effect, no value with `Exists`, a key unless `Exists`, and
    /// `tolerationSeconds` only with `NoExecute`.
    pub(super) fn toleration(&mut self, path: &str, t: &Toleration) {
        let key = t.key.as_deref().unwrap_or("");
        if !key.is_empty() && !is_label_key(key) {
            self.err(
                format!("{path}.key"),
                "must be a label key (an optional DNS subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.')",
            );
        }
        match t.operator.as_deref().unwrap_or("Equal") {
            "Exists" => {
                if t.value.as_deref().is_some_and(|v| !v.is_empty()) {
                    self.err(
                        format!("{path}.value"),
                        "must be empty when operator is Exists",
                    );
                }
            }
            "Equal" => {
                if key.is_empty() {
                    self.err(
                        format!("{path}.key"),
                        "must be set unless operator is Exists (an empty key with Exists tolerates every taint)",
                    );
                }
            }
            other => self.err(
                format!("{path}.operator"),
                format!("must be Exists or Equal (is {other:?})"),
            ),
        }
        let effect = t.effect.as_deref().unwrap_or("");
        if !EFFECTS.contains(&effect) {
            self.err(
                format!("{path}.effect"),
                format!(
                    "must be NoSchedule, PreferNoSchedule or NoExecute, or empty for all (is {effect:?})"
                ),
            );
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            self.err(
                format!("{path}.tolerationSeconds"),
                "may only be set with effect NoExecute",
            );
        }
    }
}
