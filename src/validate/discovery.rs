//! Prometheus's scrape discovery of the cluster's workloads
//! (`spec.prometheus.discovery`: its namespaces must be namespace names, each
//! named once) and the selectors of the prometheus-operator monitors it reads
//! (`spec.prometheus.monitorSelector`, `monitorNamespaceSelector`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::Validator;
use super::syntax::is_dns_label;
use crate::api::ObservabilityStackSpec;

const MONITOR_SELECTOR: &str = "spec.prometheus.monitorSelector";
const MONITOR_NAMESPACE_SELECTOR: &str = "spec.prometheus.monitorNamespaceSelector";

/// The selectors of the monitors a stack reads, when Prometheus is enabled, a
/// monitor selector is set and both are valid: the monitor selector, and the
/// namespace selector (`None`: the stack's own namespace). An invalid one reads
/// nothing (the API server would refuse the list); validation reports it.
pub fn monitor_selectors(
    spec: &ObservabilityStackSpec,
) -> Option<(LabelSelector, Option<LabelSelector>)> {
    let p = &spec.prometheus;
    let selector = p.monitor_selector.as_ref()?;
    let mut v = Validator::default();
    v.monitor_selectors(spec);
    (p.enabled && v.errors.is_empty())
        .then(|| (selector.clone(), p.monitor_namespace_selector.clone()))
}

impl Validator {
    /// Checks `spec.prometheus.discovery` (the limits' ranges are the schema's).
    pub(super) fn discovery(&mut self, spec: &ObservabilityStackSpec) {
        let discovery = &spec.prometheus.discovery;
        for (i, ns) in discovery.namespaces.iter().enumerate() {
            let path = format!("spec.prometheus.discovery.namespaces[{i}]");
            if !is_dns_label(ns) {
                self.err(
                    path,
                    "must be a namespace name (a DNS label: lower case letters, digits and '-')",
                );
            } else if discovery.namespaces[..i].contains(ns) {
                self.err(path, format!("namespace {ns:?} is listed twice"));
            }
        }
        self.monitor_selectors(spec);
    }

    fn monitor_selectors(&mut self, spec: &ObservabilityStackSpec) {
        let p = &spec.prometheus;
        if let Some(sel) = &p.monitor_selector {
            self.label_selector(MONITOR_SELECTOR, sel);
        }
        if let Some(sel) = &p.monitor_namespace_selector {
            self.label_selector(MONITOR_NAMESPACE_SELECTOR, sel);
            if p.monitor_selector.is_none() {
                self.err(
                    MONITOR_NAMESPACE_SELECTOR,
                    format!(
                        "selects the namespaces of the monitors {MONITOR_SELECTOR} selects, and that is unset (no monitor is read): set {MONITOR_SELECTOR} too, `{{}}` for every monitor"
                    ),
                );
            }
        }
    }
}
