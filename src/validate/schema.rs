//! The rules of the CRD schema (string lengths, key syntax, numeric ranges, label
//! selectors, resource quantities), enforced again for files checked without an
//! API server and for API servers older than 1.25, which skip CEL rules.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::Validator;
use super::syntax::{is_dns_label, is_label_key, is_label_value};
use crate::api::ObservabilityStackSpec;
use crate::units::{parse_cpu_millis, parse_quantity_bytes};

/// Largest inline dashboard, as the CRD schema allows.
const MAX_INLINE_DASHBOARD: usize = 262_144;

impl Validator {
    /// String rules of the schema (non-empty, lengths, key syntax) and the label
    /// selector, for files checked without an API server; a Secret key also becomes
    /// a file name in the Grafana pod, so it must be a plain ConfigMap/Secret key.
    pub(super) fn schema_rules(&mut self, spec: &ObservabilityStackSpec) {
        let images = [
            ("spec.collector.image", &spec.collector.image),
            ("spec.nodeAgent.image", &spec.node_agent.image),
            ("spec.clusterCollector.image", &spec.cluster_collector.image),
            ("spec.prometheus.image", &spec.prometheus.image),
            ("spec.prometheus.query.image", &spec.prometheus.query.image),
            ("spec.tempo.image", &spec.tempo.image),
            ("spec.loki.image", &spec.loki.image),
            ("spec.grafana.image", &spec.grafana.image),
            (
                "spec.storage.storageClassName",
                &spec.storage.storage_class_name,
            ),
        ];
        for (path, value) in images {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                self.err(path, "must not be empty (leave it out for the default)");
            }
        }
        for (i, s) in spec.loki.retention.streams.iter().enumerate() {
            if !(0..=1000).contains(&s.priority) {
                self.err(
                    format!("spec.loki.retention.streams[{i}].priority"),
                    format!("must be from 0 to 1000 (is {})", s.priority),
                );
            }
        }
        let g = &spec.grafana;
        if let Some(c) = &g.admin_credentials {
            self.secret_key("spec.grafana.adminCredentials.userKey", &c.user_key);
            self.secret_key("spec.grafana.adminCredentials.passwordKey", &c.password_key);
        }
        for (i, c) in g.alerting.contact_points.iter().enumerate() {
            let path = format!("spec.grafana.alerting.contactPoints[{i}]");
            if !is_dns_label(&c.name) {
                self.err(
                    format!("{path}.name"),
                    "must hold only lower case letters, digits and '-' (at most 63)",
                );
            }
            if let Some(r) = &c.secret_ref {
                self.secret_key(&format!("{path}.secretRef.key"), &r.key);
            }
        }
        for (i, grp) in g.alerting.rule_groups.iter().enumerate() {
            let path = format!("spec.grafana.alerting.ruleGroups[{i}]");
            if grp.name.trim().is_empty() || grp.name.len() > 190 {
                self.err(format!("{path}.name"), "must be 1 to 190 characters");
            }
            for (j, r) in grp.rules.iter().enumerate() {
                if r.alert.len() > 190 {
                    self.err(
                        format!("{path}.rules[{j}].alert"),
                        "must be at most 190 characters",
                    );
                }
            }
        }
        for (i, d) in g.dashboards.inline.iter().enumerate() {
            let path = format!("spec.grafana.dashboards.inline[{i}]");
            if d.json.len() > MAX_INLINE_DASHBOARD {
                self.err(
                    format!("{path}.json"),
                    format!(
                        "must be at most {MAX_INLINE_DASHBOARD} bytes (is {}): put large dashboards in a ConfigMap selected by configMapSelector",
                        d.json.len()
                    ),
                );
            }
        }
        if let Some(sel) = &g.dashboards.config_map_selector {
            self.label_selector("spec.grafana.dashboards.configMapSelector", sel);
        }
    }

    pub(super) fn secret_key(&mut self, path: &str, key: &str) {
        let ok = !key.is_empty()
            && key.len() <= 253
            && key != "."
            && key != ".."
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        if !ok {
            self.err(
                path,
                "must be a Secret key: letters, digits, '-', '_' and '.', not '.' or '..'",
            );
        }
    }

    pub(super) fn label_selector(&mut self, path: &str, sel: &LabelSelector) {
        for (k, v) in sel.match_labels.iter().flatten() {
            if !is_label_key(k) {
                self.err(
                    format!("{path}.matchLabels"),
                    format!("{k:?} is not a valid label key"),
                );
            }
            if !is_label_value(v) {
                self.err(
                    format!("{path}.matchLabels"),
                    format!("{v:?} (for {k:?}) is not a valid label value"),
                );
            }
        }
        for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
            let at = format!("{path}.matchExpressions[{i}]");
            if !is_label_key(&e.key) {
                self.err(
                    format!("{at}.key"),
                    format!("{:?} is not a valid label key", e.key),
                );
            }
            let values = e.values.as_deref().unwrap_or_default();
            match e.operator.as_str() {
                "In" | "NotIn" if values.is_empty() => self.err(
                    format!("{at}.values"),
                    format!("{} needs at least one value", e.operator),
                ),
                "Exists" | "DoesNotExist" if !values.is_empty() => self.err(
                    format!("{at}.values"),
                    format!("{} takes no values", e.operator),
                ),
                "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
                other => self.err(
                    format!("{at}.operator"),
                    format!("{other:?} is not one of In, NotIn, Exists, DoesNotExist"),
                ),
            }
            for v in values {
                if !is_label_value(v) {
                    self.err(
                        format!("{at}.values"),
                        format!("{v:?} is not a valid label value"),
                    );
                }
            }
        }
    }

    /// The numeric ranges of the schema, for files checked without an API server.
    pub(super) fn ranges(&mut self, spec: &ObservabilityStackSpec) {
        let a = &spec.collector.autoscaling;
        let checks = [
            (
                "spec.collector.replicas",
                Some(spec.collector.replicas),
                0,
                100,
            ),
            (
                "spec.collector.autoscaling.minReplicas",
                Some(a.min_replicas),
                1,
                100,
            ),
            (
                "spec.collector.autoscaling.maxReplicas",
                Some(a.max_replicas),
                1,
                100,
            ),
            (
                "spec.collector.autoscaling.targetCPUUtilizationPercentage",
                a.target_cpu_utilization_percentage,
                1,
                100,
            ),
            (
                "spec.collector.autoscaling.targetMemoryUtilizationPercentage",
                a.target_memory_utilization_percentage,
                1,
                100,
            ),
            (
                "spec.prometheus.replicas",
                Some(spec.prometheus.replicas),
                0,
                3,
            ),
            (
                "spec.prometheus.query.replicas",
                Some(spec.prometheus.query.replicas),
                1,
                10,
            ),
            ("spec.tempo.replicas", Some(spec.tempo.replicas), 0, 100),
            ("spec.loki.replicas", Some(spec.loki.replicas), 0, 100),
            ("spec.grafana.replicas", Some(spec.grafana.replicas), 0, 1),
        ];
        for (path, value, min, max) in checks {
            if let Some(v) = value
                && !(min..=max).contains(&v)
            {
                self.err(path, format!("must be from {min} to {max} (is {v})"));
            }
        }
    }

    pub(super) fn autoscaling(&mut self, spec: &ObservabilityStackSpec) {
        let a = &spec.collector.autoscaling;
        if a.max_replicas < a.min_replicas {
            self.err(
                "spec.collector.autoscaling.maxReplicas",
                format!("must be >= minReplicas ({})", a.min_replicas),
            );
        }
    }

    pub(super) fn resources(&mut self, path: &str, resources: Option<&ResourceRequirements>) {
        let Some(r) = resources else { return };
        let empty = BTreeMap::new();
        let requests = r.requests.as_ref().unwrap_or(&empty);
        let limits = r.limits.as_ref().unwrap_or(&empty);
        for (kind, map) in [("requests", requests), ("limits", limits)] {
            for (res, q) in map {
                let parsed = match res.as_str() {
                    "cpu" => parse_cpu_millis(&q.0),
                    "memory" | "ephemeral-storage" => parse_quantity_bytes(&q.0),
                    _ => continue,
                };
                if let Err(e) = parsed {
                    self.err(format!("{path}.{kind}.{res}"), e);
                }
            }
        }
        for (res, limit) in limits {
            let Some(request) = requests.get(res) else {
                continue;
            };
            let (req, lim) = match res.as_str() {
                "cpu" => (parse_cpu_millis(&request.0), parse_cpu_millis(&limit.0)),
                "memory" | "ephemeral-storage" => (
                    parse_quantity_bytes(&request.0),
                    parse_quantity_bytes(&limit.0),
                ),
                _ => continue,
            };
            if let (Ok(req), Ok(lim)) = (req, lim)
                && req > lim
            {
                self.err(
                    format!("{path}.requests.{res}"),
                    format!("must be <= limits.{res} ({})", limit.0),
                );
            }
        }
    }
}
