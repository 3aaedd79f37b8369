//! The cluster collector's fields: it needs the collector it forwards to and
//! something to send (state with Prometheus, events with Loki), its state
//! interval a duration of at least 10s and its excluded namespaces namespace
//! names.

use std::time::Duration;

use super::Validator;
use super::syntax::is_dns_label;
use crate::api::ObservabilityStackSpec;

/// The shortest state interval: the state comes from watches, and reporting it
/// more often than the kubelet refreshes a pod's status adds series, not news.
const MIN_STATE_INTERVAL: Duration = Duration::from_secs(10);
/// `spec.clusterCollector.state.interval`'s default.
const DEFAULT_STATE_INTERVAL: Duration = Duration::from_secs(30);

/// Whether the cluster collector would send anything: state with Prometheus, or
/// events with Loki.
fn collects_something(spec: &ObservabilityStackSpec) -> bool {
    let c = &spec.cluster_collector;
    (c.state.enabled && spec.prometheus.enabled) || (c.events.enabled && spec.loki.enabled)
}

/// Whether the cluster collector runs: as `spec.clusterCollector.enabled` says,
/// else whenever the collector runs and there is something to collect. An
/// explicit `true` that cannot work is an error, not silently off.
pub(super) fn enabled(spec: &ObservabilityStackSpec) -> bool {
    spec.cluster_collector
        .enabled
        .unwrap_or_else(|| spec.collector.enabled && collects_something(spec))
}

impl Validator {
    /// Checks the cluster collector's fields; returns its state interval (the
    /// default's when it is off).
    pub(super) fn cluster_collector(&mut self, spec: &ObservabilityStackSpec) -> Duration {
        let c = &spec.cluster_collector;
        if !enabled(spec) {
            return DEFAULT_STATE_INTERVAL;
        }
        if !collects_something(spec) {
            self.err(
                "spec.clusterCollector.enabled",
                "the cluster collector would collect nothing: it needs state with prometheus enabled, or events with loki enabled",
            );
        }
        if !spec.collector.enabled {
            self.err(
                "spec.clusterCollector.enabled",
                "needs spec.collector.enabled: the cluster collector sends what it collects through the collector",
            );
        }
        for (i, ns) in c.events.exclude_namespaces.iter().enumerate() {
            if !is_dns_label(ns) {
                self.err(
                    format!("spec.clusterCollector.events.excludeNamespaces[{i}]"),
                    "must be a namespace name (a DNS label: lower case letters, digits and '-')",
                );
            }
        }
        let path = "spec.clusterCollector.state.interval";
        let before = self.errors.len();
        let interval = self.positive_duration(path, &c.state.interval);
        if self.errors.len() == before && interval < MIN_STATE_INTERVAL {
            self.err(path, "must be at least 10s");
        }
        interval
    }
}
