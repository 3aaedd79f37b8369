//! The validate step: an `ObservabilityStack` in, a `ValidatedStack` or every field
//! error at once out.
//!
//! Pure: no Kubernetes client, no I/O. It enforces again every CEL rule of the CRD
//! (the API server enforces those only on Kubernetes >= 1.25) and the rules a schema
//! cannot express: units that parse, PromQL and LogQL that parse, dashboard JSON,
//! unique names. Each error names the field path and the rule it broke.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use kube::{Resource, ResourceExt};
use promql_parser::parser::{self, Expr};

use crate::api::{
    AlertingSpec, ContactPointType, MAX_STACK_NAME_LEN, ObservabilityStack, ObservabilityStackSpec,
    SmtpSpec,
};
use crate::build::rules::{BUILTIN_GROUP, builtin_rule_names};
use crate::limits;
use crate::units::{parse_byte_size, parse_cpu_millis, parse_duration, parse_quantity_bytes};

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

/// A Loki per-stream retention rule that passed validation.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamRule {
    /// The LogQL stream selector, as written.
    pub selector: String,
    /// How long matching streams are kept.
    pub period: Duration,
    /// Higher wins.
    pub priority: i32,
}

/// An inline dashboard whose JSON parsed and has a title.
#[derive(Clone, Debug, PartialEq)]
pub struct Dashboard {
    /// File name stem.
    pub name: String,
    /// Grafana folder.
    pub folder: String,
    /// The dashboard model.
    pub model: serde_json::Value,
}

/// A stack that passed validation, with every unit parsed and every default resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedStack {
    /// Name of the stack: every child name starts with it.
    pub name: String,
    /// Namespace of the stack and of every child.
    pub namespace: String,
    /// The controller ownerReference children carry; absent when the object has no
    /// uid yet (as in `sextant render` of a file).
    pub owner: Option<OwnerReference>,
    /// The spec as written (with schema defaults applied by serde).
    pub spec: ObservabilityStackSpec,
    /// Effective metrics retention.
    pub metrics_retention: Duration,
    /// Effective log retention.
    pub logs_retention: Duration,
    /// Effective trace retention.
    pub traces_retention: Duration,
    /// Prometheus's TSDB size limit in bytes.
    pub prometheus_retention_bytes: u128,
    /// Prometheus's scrape interval.
    pub scrape_interval: Duration,
    /// Loki per-stream retention.
    pub loki_streams: Vec<StreamRule>,
    /// Inline dashboards.
    pub inline_dashboards: Vec<Dashboard>,
    /// Dashboards read from ConfigMaps the stack selects (filled by the
    /// controller, which reads the cluster; empty for `sextant render`).
    pub config_map_dashboards: Vec<crate::build::grafana::DashboardFile>,
    /// The values of the Secret keys contact points reference (filled by the
    /// controller, which reads the cluster; empty for `sextant render`, which then
    /// renders a placeholder in their place).
    pub contact_point_secrets: SecretValues,
}

/// Secret values by (Secret name, key). `Debug` prints the names and keys only, so
/// a value never reaches a log line through a `?` field.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretValues(BTreeMap<(String, String), String>);

impl SecretValues {
    /// Records the value of one key of one Secret.
    pub fn insert(&mut self, secret: &str, key: &str, value: String) {
        self.0.insert((secret.to_string(), key.to_string()), value);
    }

    /// The value of one key of one Secret, when it was read.
    pub fn get(&self, secret: &str, key: &str) -> Option<&str> {
        self.0
            .get(&(secret.to_string(), key.to_string()))
            .map(String::as_str)
    }

    /// Whether no value is known.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.0.keys().map(|(s, k)| format!("{s}/{k}: <redacted>")))
            .finish()
    }
}

/// Validates a stack; on failure returns every error found, not just the first.
pub fn validate(stack: &ObservabilityStack) -> Result<ValidatedStack, ValidationErrors> {
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

    let prometheus_retention_bytes = v.prometheus_storage(spec);
    let scrape_interval = v.positive_duration(
        "spec.prometheus.scrapeInterval",
        &spec.prometheus.scrape_interval,
    );
    v.quantity("spec.tempo.storage.size", &spec.tempo.storage.size);
    v.quantity("spec.loki.storage.size", &spec.loki.storage.size);

    v.autoscaling(spec);
    v.ranges(spec);
    if spec.collector.enabled
        && !(spec.prometheus.enabled || spec.tempo.enabled || spec.loki.enabled)
    {
        v.err(
            "spec.collector.enabled",
            "the collector needs at least one of prometheus, tempo or loki enabled",
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
    v.resources(
        "spec.collector.resources",
        spec.collector.resources.as_ref(),
    );
    if let Some(limit) = spec
        .collector
        .resources
        .as_ref()
        .and_then(|r| r.limits.as_ref())
        .and_then(|l| l.get("memory"))
        .and_then(|q| parse_quantity_bytes(&q.0).ok())
        && limit < COLLECTOR_MIN_MEMORY
    {
        v.err(
            "spec.collector.resources.limits.memory",
            "must be at least 128Mi: the memory_limiter is derived from it",
        );
    }
    v.resources(
        "spec.prometheus.resources",
        spec.prometheus.resources.as_ref(),
    );
    v.resources("spec.tempo.resources", spec.tempo.resources.as_ref());
    v.resources("spec.loki.resources", spec.loki.resources.as_ref());
    v.resources("spec.grafana.resources", spec.grafana.resources.as_ref());

    v.schema_rules(spec);
    let loki_streams = v.loki_streams(spec);
    let inline_dashboards = v.dashboards(spec);
    v.alerting(&spec.grafana.alerting, spec.grafana.smtp.as_ref());
    if let Some(smtp) = &spec.grafana.smtp {
        v.smtp(smtp);
    }
    if let Some(creds) = &spec.grafana.admin_credentials
        && !is_dns_subdomain(&creds.secret_name)
    {
        v.err(
            "spec.grafana.adminCredentials.secretName",
            "must be a DNS subdomain name (lower case letters, digits, '-' and '.')",
        );
    }

    if !v.errors.is_empty() {
        return Err(ValidationErrors(v.errors));
    }
    Ok(ValidatedStack {
        owner: stack.controller_owner_ref(&()),
        name,
        namespace,
        spec: spec.clone(),
        metrics_retention,
        logs_retention,
        traces_retention,
        prometheus_retention_bytes,
        scrape_interval,
        loki_streams,
        inline_dashboards,
        config_map_dashboards: Vec::new(),
        contact_point_secrets: SecretValues::default(),
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

    fn duration(&mut self, path: &str, value: &str) -> Duration {
        parse_duration(value).unwrap_or_else(|e| {
            self.err(path, e);
            Duration::ZERO
        })
    }

    fn positive_duration(&mut self, path: &str, value: &str) -> Duration {
        let before = self.errors.len();
        let d = self.duration(path, value);
        if self.errors.len() == before && d.is_zero() {
            self.err(path, "must be longer than 0s");
        }
        d
    }

    fn retention(&mut self, path: &str, value: &str) -> Duration {
        self.positive_duration(path, value)
    }

    /// Loki applies retention per 24h index table: at least a day, in whole days.
    fn loki_period(&mut self, path: &str, period: Duration) {
        let day = LOKI_DAY.as_millis();
        if period.as_millis() < day || !period.as_millis().is_multiple_of(day) {
            self.err(
                path,
                "must be a whole number of days (24h, 48h, 7d...): Loki's compactor retains logs per daily index",
            );
        }
    }

    fn quantity(&mut self, path: &str, value: &str) -> u128 {
        match parse_quantity_bytes(value) {
            Ok(0) => {
                self.err(path, "must be larger than 0");
                0
            }
            Ok(b) => b,
            Err(e) => {
                self.err(path, e);
                0
            }
        }
    }

    /// The volume size, and the TSDB size limit (85% of the volume by default).
    fn prometheus_storage(&mut self, spec: &ObservabilityStackSpec) -> u128 {
        let volume = self.quantity(
            "spec.prometheus.storage.size",
            &spec.prometheus.storage.size,
        );
        match &spec.prometheus.retention.size {
            None => volume / 100 * 85,
            Some(s) => match parse_byte_size(s) {
                Ok(0) => {
                    self.err("spec.prometheus.retention.size", "must be larger than 0");
                    0
                }
                Ok(b) if volume > 0 && b > volume => {
                    self.err(
                        "spec.prometheus.retention.size",
                        format!(
                            "must not exceed spec.prometheus.storage.size ({}), or the volume fills before retention deletes anything",
                            spec.prometheus.storage.size
                        ),
                    );
                    b
                }
                Ok(b) => b,
                Err(e) => {
                    self.err("spec.prometheus.retention.size", e);
                    0
                }
            },
        }
    }

    /// String rules of the schema (non-empty, lengths, key syntax) and the label
    /// selector, for files checked without an API server; a Secret key also becomes
    /// a file name in the Grafana pod, so it must be a plain ConfigMap/Secret key.
    fn schema_rules(&mut self, spec: &ObservabilityStackSpec) {
        let images = [
            ("spec.collector.image", &spec.collector.image),
            ("spec.prometheus.image", &spec.prometheus.image),
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

    fn secret_key(&mut self, path: &str, key: &str) {
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

    fn label_selector(&mut self, path: &str, sel: &LabelSelector) {
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
    fn ranges(&mut self, spec: &ObservabilityStackSpec) {
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
                1,
            ),
            ("spec.tempo.replicas", Some(spec.tempo.replicas), 0, 1),
            ("spec.loki.replicas", Some(spec.loki.replicas), 0, 1),
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

    fn autoscaling(&mut self, spec: &ObservabilityStackSpec) {
        let a = &spec.collector.autoscaling;
        if a.max_replicas < a.min_replicas {
            self.err(
                "spec.collector.autoscaling.maxReplicas",
                format!("must be >= minReplicas ({})", a.min_replicas),
            );
        }
    }

    fn resources(&mut self, path: &str, resources: Option<&ResourceRequirements>) {
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

    fn loki_streams(&mut self, spec: &ObservabilityStackSpec) -> Vec<StreamRule> {
        let mut out = Vec::new();
        for (i, s) in spec.loki.retention.streams.iter().enumerate() {
            let path = format!("spec.loki.retention.streams[{i}]");
            if let Err(e) = check_stream_selector(&s.selector) {
                self.err(format!("{path}.selector"), e);
            }
            let period = self.positive_duration(&format!("{path}.period"), &s.period);
            if !period.is_zero() {
                self.loki_period(&format!("{path}.period"), period);
            }
            out.push(StreamRule {
                selector: s.selector.clone(),
                period,
                priority: s.priority,
            });
        }
        out
    }

    fn dashboards(&mut self, spec: &ObservabilityStackSpec) -> Vec<Dashboard> {
        let d = &spec.grafana.dashboards;
        let mut seen_builtin = BTreeSet::new();
        for b in &d.builtin {
            if !seen_builtin.insert(*b) {
                self.err(
                    "spec.grafana.dashboards.builtin",
                    format!("{:?} is listed twice", b.name()),
                );
            }
        }
        let mut names = BTreeSet::new();
        let mut titles = BTreeSet::new();
        let mut out = Vec::new();
        for (i, dash) in d.inline.iter().enumerate() {
            let path = format!("spec.grafana.dashboards.inline[{i}]");
            if !names.insert(dash.name.as_str()) {
                self.err(
                    format!("{path}.name"),
                    format!("{:?} is not unique", dash.name),
                );
            }
            if !is_dns_label(&dash.name) {
                self.err(
                    format!("{path}.name"),
                    "must hold only lower case letters, digits and '-'",
                );
            }
            let model: serde_json::Value = match serde_json::from_str(&dash.json) {
                Ok(m) => m,
                Err(e) => {
                    self.err(format!("{path}.json"), format!("is not valid JSON: {e}"));
                    continue;
                }
            };
            let folder = dash
                .folder
                .clone()
                .unwrap_or_else(|| crate::render::grafana::FOLDER.into());
            if let Some(problem) = limits::folder_problem(&folder) {
                self.err(format!("{path}.folder"), problem);
            }
            if let Some(problem) = limits::dashboard_problem(&model) {
                self.err(format!("{path}.json"), problem);
                if !model.is_object() {
                    continue;
                }
            } else if let Some(t) = model.get("title").and_then(|t| t.as_str())
                && !titles.insert((folder.clone(), t.to_string()))
            {
                self.err(
                    format!("{path}.json"),
                    format!("title {t:?} is used by another dashboard in folder {folder:?}"),
                );
            }
            out.push(Dashboard {
                name: dash.name.clone(),
                folder,
                model,
            });
        }
        out
    }

    fn smtp(&mut self, smtp: &SmtpSpec) {
        let p = "spec.grafana.smtp";
        match smtp.host.rsplit_once(':') {
            Some((host, port))
                if !host.is_empty()
                    && !host.contains(['$', ' '])
                    && port.parse::<u16>().is_ok_and(|p| p > 0) => {}
            _ => self.err(
                format!("{p}.host"),
                "must be host:port with a port from 1 to 65535, such as smtp.example.com:587",
            ),
        }
        match smtp.from_address.split_once('@') {
            Some((user, domain))
                if !user.is_empty()
                    && !domain.is_empty()
                    && !smtp.from_address.contains(['$', ' ']) => {}
            _ => self.err(
                format!("{p}.fromAddress"),
                format!("{:?} is not an e-mail address", smtp.from_address),
            ),
        }
        // Grafana expands `${...}` in every setting, environment overrides included
        // (grafana `pkg/setting/expanders.go`): plain settings must not hold a `$`.
        for (field, value) in [("fromName", &smtp.from_name), ("user", &smtp.user)] {
            if value.as_deref().is_some_and(|v| v.contains('$')) {
                self.err(
                    format!("{p}.{field}"),
                    "must not contain '$' (Grafana would expand it as a variable)",
                );
            }
        }
        if let Some(r) = &smtp.password_secret_ref {
            if !is_dns_subdomain(&r.name) {
                self.err(
                    format!("{p}.passwordSecretRef.name"),
                    "must be a DNS subdomain name",
                );
            }
            self.secret_key(&format!("{p}.passwordSecretRef.key"), &r.key);
            if smtp.user.is_none() {
                self.err(
                    format!("{p}.user"),
                    "must be set with passwordSecretRef: Grafana logs in only with a user",
                );
            }
        }
    }

    fn alerting(&mut self, a: &AlertingSpec, smtp: Option<&SmtpSpec>) {
        let mut groups = BTreeSet::new();
        for (gi, g) in a.rule_groups.iter().enumerate() {
            let gpath = format!("spec.grafana.alerting.ruleGroups[{gi}]");
            if g.name == BUILTIN_GROUP {
                self.err(
                    format!("{gpath}.name"),
                    format!("{BUILTIN_GROUP:?} is reserved for the built-in rules"),
                );
            }
            if !groups.insert(g.name.as_str()) {
                self.err(
                    format!("{gpath}.name"),
                    format!("{:?} is not unique", g.name),
                );
            }
            let before = self.errors.len();
            self.positive_duration(&format!("{gpath}.interval"), &g.interval);
            if self.errors.len() == before
                && let Some(problem) = limits::rule_group_interval_problem(&g.interval)
            {
                self.err(format!("{gpath}.interval"), problem);
            }
            if g.rules.is_empty() {
                self.err(format!("{gpath}.rules"), "must hold at least one rule");
            }
            let mut alerts = BTreeSet::new();
            for (ri, r) in g.rules.iter().enumerate() {
                let rpath = format!("{gpath}.rules[{ri}]");
                if !alerts.insert(r.alert.as_str()) {
                    self.err(
                        format!("{rpath}.alert"),
                        format!("{:?} is not unique in group {:?}", r.alert, g.name),
                    );
                }
                if !is_label_name(&r.alert) {
                    self.err(
                        format!("{rpath}.alert"),
                        "must match [a-zA-Z_][a-zA-Z0-9_]*",
                    );
                }
                if let Err(e) = parser::parse(&r.expr) {
                    self.err(
                        format!("{rpath}.expr"),
                        format!("is not valid PromQL: {}", one_line(&e)),
                    );
                }
                if let Some(f) = &r.for_ {
                    self.duration(&format!("{rpath}.for"), f);
                }
                for key in r.labels.keys().chain(r.annotations.keys()) {
                    if !is_label_name(key) {
                        self.err(
                            rpath.clone(),
                            format!(
                                "label or annotation name {key:?} must match [a-zA-Z_][a-zA-Z0-9_]*"
                            ),
                        );
                    }
                }
            }
        }
        let known = builtin_rule_names();
        for name in &a.builtin_rules.disabled {
            if !known.contains(&name.as_str()) {
                self.err(
                    "spec.grafana.alerting.builtinRules.disabled",
                    format!(
                        "{name:?} is not a built-in rule (known: {})",
                        known.join(", ")
                    ),
                );
            }
        }
        let mut points = BTreeSet::new();
        for (i, c) in a.contact_points.iter().enumerate() {
            let path = format!("spec.grafana.alerting.contactPoints[{i}]");
            if !points.insert(c.name.as_str()) {
                self.err(
                    format!("{path}.name"),
                    format!("{:?} is not unique", c.name),
                );
            }
            match c.type_ {
                ContactPointType::Email if c.addresses.is_empty() => {
                    self.err(format!("{path}.addresses"), "email needs at least one address")
                }
                ContactPointType::Email => {
                    for addr in &c.addresses {
                        if !addr.contains('@') {
                            self.err(format!("{path}.addresses"), format!("{addr:?} is not an e-mail address"));
                        }
                    }
                }
                _ if c.secret_ref.is_none() => self.err(
                    format!("{path}.secretRef"),
                    "slack, webhook and pagerduty need secretRef (the URL or key is read from a Secret)",
                ),
                _ => {}
            }
            if let Some(r) = &c.secret_ref
                && !is_dns_subdomain(&r.name)
            {
                self.err(
                    format!("{path}.secretRef.name"),
                    "must be a DNS subdomain name",
                );
            }
        }
        if a.contact_points
            .iter()
            .any(|c| c.type_ == ContactPointType::Email)
            && smtp.is_none()
        {
            let i = a
                .contact_points
                .iter()
                .position(|c| c.type_ == ContactPointType::Email)
                .unwrap_or_default();
            self.err(
                format!("spec.grafana.alerting.contactPoints[{i}].type"),
                "email contact points need spec.grafana.smtp: Grafana cannot deliver e-mail without an SMTP server",
            );
        }
        if let Some(d) = &a.default_contact_point
            && !points.contains(d.as_str())
        {
            self.err(
                "spec.grafana.alerting.defaultContactPoint",
                format!("{d:?} names no contact point in contactPoints"),
            );
        }
    }
}

/// Checks a LogQL stream selector: label matchers in braces and nothing else. The
/// PromQL parser also enforces Loki's rule that one matcher must not match "".
pub fn check_stream_selector(selector: &str) -> Result<(), String> {
    let trimmed = selector.trim();
    if !trimmed.starts_with('{') {
        return Err("must be a LogQL stream selector such as {namespace=\"dev\"}".into());
    }
    match parser::parse(trimmed) {
        Ok(Expr::VectorSelector(vs))
            if vs.name.is_none() && vs.offset.is_none() && vs.at.is_none() =>
        {
            if !vs.matchers.or_matchers.is_empty() {
                return Err("must not use 'or' between matchers".into());
            }
            if vs.matchers.matchers.iter().all(|m| m.is_match("")) {
                return Err(
                    "needs at least one matcher that does not match the empty string".into(),
                );
            }
            Ok(())
        }
        Ok(_) => Err("must be only a stream selector, such as {namespace=\"dev\"}".into()),
        Err(e) => Err(format!("is not a valid stream selector: {}", one_line(&e))),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Largest inline dashboard, as the CRD schema allows.
const MAX_INLINE_DASHBOARD: usize = 262_144;

/// A label value: at most 63 characters, alphanumeric at both ends, `-_.` inside.
fn is_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
}

/// A label key: an optional DNS-subdomain prefix and '/', then a name like a value.
fn is_label_key(k: &str) -> bool {
    let (prefix, name) = match k.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    prefix.is_none_or(|p| !p.is_empty() && is_dns_subdomain(p))
        && !name.is_empty()
        && is_label_value(name)
}

/// An RFC 1123 DNS label: at most 63 lower case alphanumerics or '-', starting and
/// ending alphanumeric.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// An RFC 1123 DNS subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}
