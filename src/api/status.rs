//! The status the operator reports: conditions, per-component replicas, endpoints.
//!
//! Condition types and reasons are constants here so that every writer and every
//! test spells them the same way.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of an ObservabilityStack.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ObservabilityStackStatus {
    /// The generation of the spec that was last validated and applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Standard conditions: Ready, Reconciled, and one `<Component>Ready` per component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// Ready/desired collector replicas, for `kubectl get obs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collectors: Option<String>,

    /// Per-component workload state.
    #[serde(default)]
    pub components: ComponentsStatus,

    /// Where to send telemetry and where to look at it, as in-cluster addresses.
    #[serde(default)]
    pub endpoints: Endpoints,

    /// The SLOs of `spec.slos` and the rules they became.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub slos: Vec<SloStatus>,

    /// The last probe of the stack's data paths (`spec.probe`), summed up by
    /// the `DataFlowing` condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_flow: Option<DataFlowStatus>,
}

/// What the last probe found, path by path.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataFlowStatus {
    /// Since when the probes find what `paths` say: the send time of the
    /// first probe that found it, kept while later probes find the same (so a
    /// stack whose result does not change costs no status write).
    pub since: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
    /// One entry per path the stack has: `metrics`, `logs`, `traces`, `links`.
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["signal"]))]
    pub paths: Vec<DataPathStatus>,
}

/// One path of the probe.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataPathStatus {
    /// `metrics`, `logs`, `traces` or `links`.
    pub signal: String,
    /// `ProbeSucceeded` or why not (`CollectorUnreachable`, `CollectorRejected`,
    /// `NotQueryable`, `NotIngested`, `NotChecked`).
    pub reason: String,
    /// What was seen.
    pub message: String,
    /// From sending to finding it back, such as `2.4s` (on success only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
}

/// One SLO and the rules sextant made of it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SloStatus {
    /// The SLO's name.
    pub name: String,
    /// Its target and window, such as `0.995 over 28d`.
    pub objective: String,
    /// The rule group, named alike in Prometheus (recording rules) and in
    /// Grafana (alerts, folder `sextant`).
    pub rule_group: String,
    /// The burn-rate alerts: the page, then the ticket.
    pub alerts: Vec<String>,
    /// The PromQL of the error budget left, to paste into Explore.
    pub budget_query: String,
}

/// Workload state of every component; a disabled component is absent.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ComponentsStatus {
    /// The collector Deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector: Option<ComponentStatus>,
    /// The node agent DaemonSet: `replicas` is the number of nodes it should run
    /// on, `readyReplicas` those where it is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_agent: Option<ComponentStatus>,
    /// The cluster collector Deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_collector: Option<ComponentStatus>,
    /// The Prometheus StatefulSet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<ComponentStatus>,
    /// The Tempo StatefulSet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tempo: Option<ComponentStatus>,
    /// The Loki StatefulSet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loki: Option<ComponentStatus>,
    /// The Grafana Deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana: Option<ComponentStatus>,
}

/// Replica counts and image of one component's workload.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    /// Desired replicas (for the collector under autoscaling: the HPA's choice).
    pub replicas: i32,
    /// Replicas whose pods are ready.
    pub ready_replicas: i32,
    /// The image the workload runs.
    pub image: String,
}

/// In-cluster endpoints of the stack.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// OTLP over gRPC, `host:4317`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp_grpc: Option<String>,
    /// OTLP over HTTP, `http://host:4318`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp_http: Option<String>,
    /// Grafana's web UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana: Option<String>,
    /// Prometheus's HTTP API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<String>,
    /// Loki's HTTP API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loki: Option<String>,
    /// Tempo's HTTP API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tempo: Option<String>,
}

/// Condition types.
pub mod condition {
    /// Every enabled component is available.
    pub const READY: &str = "Ready";
    /// The current generation was validated and applied.
    pub const RECONCILED: &str = "Reconciled";
    /// The collector Deployment is available.
    pub const COLLECTOR_READY: &str = "CollectorReady";
    /// The node agent DaemonSet runs and is ready on every node it should run on.
    pub const NODE_AGENT_READY: &str = "NodeAgentReady";
    /// The cluster collector Deployment is available.
    pub const CLUSTER_COLLECTOR_READY: &str = "ClusterCollectorReady";
    /// The Prometheus StatefulSet is available.
    pub const PROMETHEUS_READY: &str = "PrometheusReady";
    /// The Tempo StatefulSet is available.
    pub const TEMPO_READY: &str = "TempoReady";
    /// The Loki StatefulSet is available.
    pub const LOKI_READY: &str = "LokiReady";
    /// The Grafana Deployment is available.
    pub const GRAFANA_READY: &str = "GrafanaReady";
    /// Every prometheus-operator monitor the stack selects became scrape jobs
    /// (False lists those that could not be translated). Not part of Ready.
    pub const MONITORS_TRANSLATED: &str = "MonitorsTranslated";
    /// OTLP ingest reachable from outside the cluster
    /// (`spec.collector.externalService`) has both TLS and authentication
    /// (False names what is missing). Not part of Ready.
    pub const INGEST_SECURED: &str = "IngestSecured";
    /// A component's rendered config or arguments are changed by its
    /// `configOverrides` or `extraArgs` (True names them). Not part of Ready.
    pub const CONFIG_OVERRIDDEN: &str = "ConfigOverridden";
    /// The operator's probe sent a span, a log record and a metric point to the
    /// collector and found each back in its backend, with the links between
    /// them (`status.dataFlow` has each path). Not part of Ready.
    pub const DATA_FLOWING: &str = "DataFlowing";
}

/// Condition reasons.
pub mod reason {
    /// Ready=True.
    pub const ALL_COMPONENTS_READY: &str = "AllComponentsReady";
    /// Ready=False.
    pub const COMPONENTS_NOT_READY: &str = "ComponentsNotReady";
    /// Reconciled=True.
    pub const APPLIED: &str = "Applied";
    /// Reconciled=False: the spec failed validation; nothing was changed.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// Reconciled=False: `spec.paused` is true; nothing was changed.
    pub const PAUSED: &str = "Paused";
    /// Reconciled=False: the API server refused or failed a write.
    pub const APPLY_FAILED: &str = "ApplyFailed";
    /// A component's workload is available.
    pub const AVAILABLE: &str = "Available";
    /// A component's workload is rolling out or waiting for pods.
    pub const PROGRESSING: &str = "Progressing";
    /// The component is disabled in the spec.
    pub const DISABLED: &str = "Disabled";
    /// The cluster does not serve an API the component needs.
    pub const API_UNAVAILABLE: &str = "APIUnavailable";
    /// Reconciled=False: a volume size change cannot be carried out.
    pub const VOLUME_RESIZE_BLOCKED: &str = "VolumeResizeBlocked";
    /// A Secret the spec references does not exist.
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    /// The operator was installed without the ClusterRole a component needs (a
    /// namespaced install of the chart): the component does not run, or runs
    /// without what that role would allow.
    pub const NOT_GRANTED: &str = "NotGranted";
    /// MonitorsTranslated=True: `prometheus.monitorSelector` is unset.
    pub const NOT_SELECTED: &str = "NotSelected";
    /// MonitorsTranslated=True: every selected monitor became scrape jobs.
    pub const TRANSLATED: &str = "Translated";
    /// MonitorsTranslated=False: some selected monitors could not be translated.
    pub const UNTRANSLATABLE: &str = "Untranslatable";
    /// IngestSecured=True: OTLP is served only inside the cluster.
    pub const NOT_EXPOSED: &str = "NotExposed";
    /// IngestSecured=True: exposed, with TLS and bearer tokens.
    pub const TLS_AND_AUTH: &str = "TlsAndAuth";
    /// IngestSecured=False: exposed without TLS, without authentication, or
    /// without either.
    pub const EXPOSED_INSECURELY: &str = "ExposedInsecurely";
    /// ConfigOverridden=True: overrides are merged into what sextant renders.
    pub const OVERRIDES_IN_EFFECT: &str = "OverridesInEffect";
    /// ConfigOverridden=False: every config is as sextant renders it.
    pub const NO_OVERRIDES: &str = "NoOverrides";
    /// DataFlowing=True: every path's probe data was found back.
    pub const PROBE_SUCCEEDED: &str = "ProbeSucceeded";
    /// DataFlowing=False: the collector's OTLP/HTTP port could not be reached
    /// (no address, connection refused, timed out).
    pub const COLLECTOR_UNREACHABLE: &str = "CollectorUnreachable";
    /// DataFlowing=False: the collector answered the probe's export with an
    /// error status.
    pub const COLLECTOR_REJECTED: &str = "CollectorRejected";
    /// DataFlowing=False: a backend's query API could not be reached or
    /// answered with an error.
    pub const NOT_QUERYABLE: &str = "NotQueryable";
    /// DataFlowing=False: the collector took the data and the backend
    /// answered, but the data was not found before the probe's timeout.
    pub const NOT_INGESTED: &str = "NotIngested";
    /// DataFlowing=False: Loki or Tempo discarded data in the last 15 minutes
    /// (an ingestion limit, or data they refuse), by their own counters in
    /// Prometheus; the message names what, why, and the limit to raise.
    pub const DATA_DISCARDED: &str = "DataDiscarded";
    /// DataFlowing=False: the collector failed to send to a destination of
    /// `spec.export` in the last 15 minutes, by its own counters in Prometheus;
    /// the message names the exporter.
    pub const EXPORT_FAILING: &str = "ExportFailing";
    /// A path that depends on another that failed (the links need the logs and
    /// the traces) was not checked.
    pub const NOT_CHECKED: &str = "NotChecked";
    /// DataFlowing=Unknown: the first probe has not finished yet.
    pub const PROBE_PENDING: &str = "ProbePending";
    /// DataFlowing=Unknown: `spec.probe.enabled` is false, or the operator
    /// runs with `--probes=false`.
    pub const PROBE_DISABLED: &str = "ProbeDisabled";
    /// DataFlowing=Unknown: the probe cannot send here: the collector is
    /// disabled or wants client certificates, or its token or CA cannot be
    /// read.
    pub const PROBE_NOT_POSSIBLE: &str = "ProbeNotPossible";
}
