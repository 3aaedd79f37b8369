//! Prometheus's scrape discovery of the cluster's workloads
//! (`spec.prometheus.discovery`): its namespaces must be namespace names, each
//! named once.

use super::Validator;
use super::syntax::is_dns_label;
use crate::api::ObservabilityStackSpec;

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
    }
}
