//! The validate step: an `ObservabilityStack` and what it references in, a
//! fully resolved `ValidatedStack` or every field error at once out.
//!
//! Pure: no Kubernetes client, no I/O. What the spec references (dashboard
//! ConfigMaps, Secrets) is read beforehand by the controller into a
//! [`Dereferenced`] value (`sextant render` passes [`Dereferenced::offline`]); this
//! step is the one place that checks it. It enforces again every CEL rule of the
//! CRD (the API server enforces those only on Kubernetes >= 1.25) and the rules a
//! schema cannot express: units that parse, PromQL and LogQL that parse, dashboard
//! JSON, unique names. Each error names the field path and the rule it broke.
//!
//! By concern: `schema` (the CRD's own rules), `storage` (durations, retention,
//! sizes), `grafana` (dashboards, alerting, SMTP), `resolve` (per-component
//! image, replicas, resources, volume), `references` (what the controller read),
//! `node_agent` (tolerations, priority class, intervals of the node agent),
//! `cluster_collector` (what the cluster collector sends, its interval),
//! `object_store` (`spec.storage.objectStore`), `replicas` (Loki and Tempo
//! beyond one), `export` (`spec.export`), `ingestion_limits` (Loki's and
//! Tempo's `limits`),
//! `recording` (Prometheus's recording rules),
//! `pod` (pod overrides and the image registry), `grafana_access` (single
//! sign-on and `grafana.ini` settings),
//! `syntax` (names and keys), `promql` (PromQL and LogQL selectors, parsed once
//! per process).

mod cluster_collector;
mod cost;
mod discovery;
mod export;
mod grafana;
mod grafana_access;
mod ingestion_limits;
mod node_agent;
mod object_store;
mod pod;
pub mod probe;
mod promql;
mod recording;
mod references;
mod replicas;
mod resolve;
mod routing;
mod schema;
mod slo;
mod storage;
mod syntax;

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use kube::{Resource, ResourceExt};

use crate::api::{MAX_STACK_NAME_LEN, ObservabilityStack};
use crate::model::{Component, ValidatedStack};

pub use discovery::monitor_selectors;
pub use grafana_access::{env_name as grafana_env_name, group_role_path};
pub use references::{Dereferenced, MonitorsRead, dashboard_selector, referenced_secret_names};
pub use storage::check_stream_selector;
pub use syntax::{is_dns_label, is_dns_subdomain};

/// Loki's index period: retention is at least, and a multiple of, one day.
const LOKI_DAY: Duration = Duration::from_secs(24 * 3600);
/// The smallest non-zero trace ratio: one trace in a million. The sampler could go
/// lower (2^-56), but a smaller value is far more likely a typo than a plan.
const MIN_TRACE_RATIO: f64 = 0.000_001;
/// Below this the collector's memory_limiter leaves no room to work.
const COLLECTOR_MIN_MEMORY: u128 = 128 << 20;

/// One broken rule: where, and what the rule is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, such as `spec.collector.autoscaling.maxReplicas`.
    pub path: String,
    /// The rule, phrased so that `path: message` reads as a sentence.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every error found in one stack.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(pub Vec<FieldError>);

/// Validates a stack against what it references; on failure returns every
/// error found, not just the first.
pub fn validate(
    stack: &ObservabilityStack,
    refs: &Dereferenced,
) -> Result<ValidatedStack, ValidationErrors> {
    let mut v = Validator::default();
    let name = stack.name_any();
    v.check_name(&name);
    let namespace = stack.namespace().unwrap_or_else(|| "default".into());
    let spec = &stack.spec;

    let metrics = v.retention("spec.retention.metrics", &spec.retention.metrics);
    let logs = v.retention("spec.retention.logs", &spec.retention.logs);
    let traces = v.retention("spec.retention.traces", &spec.retention.traces);

    let metrics_retention = match &spec.prometheus.retention.time {
        Some(t) => v.retention("spec.prometheus.retention.time", t),
        None => metrics,
    };
    let traces_retention = match &spec.tempo.retention.period {
        Some(t) => v.retention("spec.tempo.retention.period", t),
        None => traces,
    };
    let (logs_path, logs_retention) = match &spec.loki.retention.period {
        Some(t) => (
            "spec.loki.retention.period",
            v.retention("spec.loki.retention.period", t),
        ),
        None => ("spec.retention.logs", logs),
    };
    if spec.loki.enabled && !logs_retention.is_zero() {
        v.loki_period(logs_path, logs_retention);
    }

    let components = v.resolve(spec);
    let prometheus_volume = components[Component::Prometheus.index()]
        .volume
        .as_ref()
        .map_or(0, |vol| vol.bytes);
    let prometheus_retention_bytes = v.prometheus_storage(spec, prometheus_volume);
    let scrape_interval = v.positive_duration(
        "spec.prometheus.scrapeInterval",
        &spec.prometheus.scrape_interval,
    );

    v.autoscaling(spec);
    v.ranges(spec);
    if spec.collector.enabled
        && !(spec.prometheus.enabled || spec.tempo.enabled || spec.loki.enabled)
        && spec.export.is_empty()
    {
        v.err(
            "spec.collector.enabled",
            "the collector needs at least one of prometheus, tempo or loki enabled, or a destination in spec.export",
        );
    }
    let ratio = spec.collector.sampling.trace_ratio;
    if !(ratio.is_finite() && (0.0..=1.0).contains(&ratio)) {
        v.err(
            "spec.collector.sampling.traceRatio",
            "must be a number from 0 to 1",
        );
    } else if ratio > 0.0 && ratio < MIN_TRACE_RATIO {
        v.err(
            "spec.collector.sampling.traceRatio",
            "must be 0 (keep no trace) or from 0.000001 to 1",
        );
    }
    for key in spec.collector.resource_attributes.keys() {
        if key.trim().is_empty() {
            v.err(
                "spec.collector.resourceAttributes",
                "keys must not be empty",
            );
        }
    }
    v.schema_rules(spec);
    let kubelet_interval = v.node_agent(spec);
    let cluster_state_interval = v.cluster_collector(spec);
    v.pods(spec);
    v.otlp_tls(spec);
    v.object_store(spec);
    v.replicas(spec);
    v.export(spec);
    v.discovery(spec);
    let loki_streams = v.loki_streams(spec);
    let (loki_limits, tempo_limits) = v.ingestion_limits(spec);
    let inline_dashboards = v.dashboards(spec);
    v.alerting(&spec.grafana.alerting, spec.grafana.smtp.as_ref());
    v.routing(&spec.grafana.alerting);
    if let Some(smtp) = &spec.grafana.smtp {
        v.smtp(smtp);
    }
    if let Some(i) = &spec.grafana.ingress {
        v.grafana_ingress(i);
    }
    v.recording_rules(spec);
    v.slos(spec, metrics_retention);
    v.genai(spec);
    v.probe(spec);
    v.grafana_http_route(spec);
    v.grafana_oauth(spec);
    v.grafana_settings(spec);
    if let Some(creds) = &spec.grafana.admin_credentials
        && !is_dns_subdomain(&creds.secret_name)
    {
        v.err(
            "spec.grafana.adminCredentials.secretName",
            "must be a DNS subdomain name (lower case letters, digits, '-' and '.')",
        );
    }

    let (config_map_dashboards, skipped_dashboards) = references::config_map_dashboards(spec, refs);
    let (contact_point_secrets, missing_secrets, restart_secrets) = references::secrets(spec, refs);

    if !v.errors.is_empty() {
        return Err(ValidationErrors(v.errors));
    }
    let thanos = resolve::thanos(spec);
    let collector_memory_limit = resolve::collector_memory_limit(&components, Component::Collector);
    let node_agent_memory_limit =
        resolve::collector_memory_limit(&components, Component::NodeAgent);
    let cluster_collector_memory_limit =
        resolve::collector_memory_limit(&components, Component::ClusterCollector);
    Ok(ValidatedStack {
        owner: stack.controller_owner_ref(&()),
        name,
        namespace,
        spec: spec.clone(),
        components,
        collector_memory_limit,
        node_agent_memory_limit,
        cluster_collector_memory_limit,
        metrics_retention,
        logs_retention,
        traces_retention,
        prometheus_retention_bytes,
        scrape_interval,
        kubelet_interval,
        cluster_state_interval,
        loki_streams,
        loki_limits,
        tempo_limits,
        inline_dashboards,
        config_map_dashboards,
        skipped_dashboards,
        contact_point_secrets,
        missing_secrets,
        restart_secrets,
        monitors: refs.monitors.clone(),
        thanos,
    })
}

/// Collects errors while the spec is walked.
#[derive(Default)]
struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Records `name` in `seen`; a second one is an error at `path`
    /// (`"x" is not unique`, then `context`, such as ` in group "g"`).
    fn unique<'a>(
        &mut self,
        seen: &mut BTreeSet<&'a str>,
        path: String,
        name: &'a str,
        context: &str,
    ) {
        if !seen.insert(name) {
            self.err(path, format!("{name:?} is not unique{context}"));
        }
    }

    fn check_name(&mut self, name: &str) {
        if name.len() > MAX_STACK_NAME_LEN {
            self.err(
                "metadata.name",
                format!(
                    "must be at most {MAX_STACK_NAME_LEN} characters (is {}), so that every child name fits a 63-character DNS label",
                    name.len()
                ),
            );
        }
        if !is_dns_label(name) || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            self.err(
                "metadata.name",
                "must start with a lower case letter and hold only lower case letters, digits and '-' (child Services need a DNS-1035 label)",
            );
        }
    }
}
