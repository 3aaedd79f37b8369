//! The root of the CRD: `ObservabilityStackSpec`, stack-wide retention and storage.
//!
//! Per-component specs live in `components.rs` and `grafana.rs`.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    ClusterCollectorSpec, CollectorSpec, DURATION_PATTERN, GrafanaSpec, LokiSpec, NodeAgentSpec,
    ObservabilityStackStatus, PrometheusSpec, TempoSpec,
};

/// The longest stack name: `<name>-prometheus` must leave room for the StatefulSet
/// controller's `-<10 char revision hash>` within a 63-character label value.
pub const MAX_STACK_NAME_LEN: usize = 40;

/// An ObservabilityStack is one complete, wired-together observability stack: an
/// OpenTelemetry Collector (OTLP in), Prometheus, Tempo and Loki with persistent storage
/// and retention, and Grafana with linked datasources, dashboards and alert rules.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "observability.sextant.dev",
    version = "v1alpha1",
    kind = "ObservabilityStack",
    plural = "observabilitystacks",
    shortname = "obs",
    shortname = "obstack",
    category = "sextant",
    namespaced,
    status = "ObservabilityStackStatus",
    cel,
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Collectors",
        type_ = "string",
        description = "Ready/desired collector replicas",
        json_path = ".status.collectors"
    ),
    printcolumn(
        name = "Data",
        type_ = "string",
        description = "Whether telemetry sent to the stack is found back (the DataFlowing condition)",
        json_path = ".status.conditions[?(@.type==\"DataFlowing\")].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')").message(
        "metadata.name: must start with a lower case letter and hold only lower case letters, digits and '-'"
    ),
    validation = Rule::new("self.metadata.name.size() <= 40").message(
        "metadata.name: must be at most 40 characters, so that every child name fits a 63-character DNS label"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ObservabilityStackSpec {
    /// Scheduling and metadata of every component's pods: node selector,
    /// tolerations, affinity, spread, priority class, annotations, labels, image
    /// pull Secrets, extra environment. A component's own `pod` replaces it
    /// field by field. The node agent, which runs on every node, takes none of
    /// its placement (node selector, affinity, spread) nor its tolerations and
    /// priority class: set those in `spec.nodeAgent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<super::PodOverrides>,

    /// A registry that mirrors the pinned images, such as
    /// `registry.example.com/mirror`: every image sextant pins is pulled from
    /// there under the same path (`<registry>/otel/opentelemetry-collector-contrib:0.159.0`).
    /// An image set in a component's `image` is used as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub image_registry: Option<String>,

    /// A NetworkPolicy per component that admits only the traffic the stack
    /// needs (docs/network-policies.md). On by default.
    #[serde(default)]
    pub network_policies: NetworkPoliciesSpec,

    /// Default retention per signal. A component's own `retention` overrides it.
    #[serde(default)]
    pub retention: RetentionDefaults,

    /// Persistent storage shared by Prometheus, Tempo and Loki.
    #[serde(default)]
    pub storage: StorageSpec,

    /// The OpenTelemetry Collector that receives OTLP from applications.
    #[serde(default)]
    pub collector: CollectorSpec,

    /// The node agent: pod logs and kubelet metrics from every node, sent through
    /// the collector.
    #[serde(default)]
    pub node_agent: NodeAgentSpec,

    /// The cluster collector: node, workload and pod state and the Kubernetes
    /// events of the whole cluster, sent through the collector.
    #[serde(default)]
    pub cluster_collector: ClusterCollectorSpec,

    /// Prometheus: metrics storage, OTLP and remote-write receiver, self-monitoring.
    #[serde(default)]
    pub prometheus: PrometheusSpec,

    /// Tempo: trace storage, with a metrics-generator that writes span metrics to Prometheus.
    #[serde(default)]
    pub tempo: TempoSpec,

    /// Loki: log storage with per-stream retention and native OTLP ingestion.
    #[serde(default)]
    pub loki: LokiSpec,

    /// Grafana with provisioned datasources, dashboards and alert rules.
    #[serde(default)]
    pub grafana: GrafanaSpec,

    /// Stores outside the stack the collector also sends to: Prometheus remote
    /// write and OTLP, with credentials from Secrets (docs/export.md). A signal
    /// whose backend is disabled can still be exported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub export: Vec<super::ExportDestination>,

    /// Service level objectives: each becomes recording rules in Prometheus,
    /// multi-window burn-rate alerts in Grafana, and is shown on the
    /// `Sextant / SLOs` dashboard (docs/slos.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub slos: Vec<super::Slo>,

    /// What the agent fleet's GenAI model calls cost: a price table and a
    /// daily budget (docs/genai-cost.md).
    #[serde(default, skip_serializing_if = "is_default")]
    pub genai: super::GenAiSpec,

    /// The stack's self-check: synthetic telemetry sent through the
    /// collector and found back in every backend, reported as the
    /// `DataFlowing` condition (docs/data-flowing.md). On by default.
    #[serde(default, skip_serializing_if = "is_default")]
    pub probe: super::ProbeSpec,

    /// Stop changing the stack's children: while true the operator applies,
    /// prunes and reverts nothing (hand edits stay, for debugging an incident),
    /// and `Reconciled` is False with reason `Paused`. Deleting a paused stack
    /// still cleans up what it owns. Set back to false (or remove) to resume:
    /// the next reconcile applies the spec again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
}

/// The stack's NetworkPolicies (ingress only; egress stays open).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPoliciesSpec {
    /// Render one NetworkPolicy per component. They take effect where the
    /// cluster's network plugin enforces NetworkPolicies and change nothing
    /// elsewhere.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// The namespaces whose pods may send OTLP to the collector (ports 4317 and
    /// 4318), by their labels. Unset: every namespace of the cluster (not
    /// clients outside it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp_from: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
}

impl Default for NetworkPoliciesSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            otlp_from: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// Default retention for each signal, as Prometheus-style durations (`15d`, `168h`, `1w`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RetentionDefaults {
    /// How long metrics are kept in Prometheus unless `prometheus.retention.time` is set.
    #[serde(default = "default_metrics_retention")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub metrics: String,

    /// How long logs are kept in Loki unless `loki.retention.period` is set.
    #[serde(default = "default_signal_retention")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub logs: String,

    /// How long traces are kept in Tempo unless `tempo.retention.period` is set.
    #[serde(default = "default_signal_retention")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub traces: String,
}

impl Default for RetentionDefaults {
    fn default() -> Self {
        Self {
            metrics: default_metrics_retention(),
            logs: default_signal_retention(),
            traces: default_signal_retention(),
        }
    }
}

fn default_metrics_retention() -> String {
    "15d".into()
}

fn default_signal_retention() -> String {
    "7d".into()
}

/// Persistent storage settings for the StatefulSets (Prometheus, Tempo, Loki).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// StorageClass of every PersistentVolumeClaim. Unset: the cluster's default class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub storage_class_name: Option<String>,

    /// What happens to the PersistentVolumeClaims when the stack is deleted.
    /// `Retain` (default) keeps them, so a stack re-created with the same name
    /// re-attaches to its data; `Delete` removes them with the stack.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Object storage for Loki and Tempo (S3, GCS or Azure Blob). Unset: they keep
    /// their data on their volumes, one instance each (docs/object-storage.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_store: Option<super::ObjectStoreSpec>,
}

/// Whether PersistentVolumeClaims outlive their stack.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Keep the claims (and the data) after the stack is deleted.
    #[default]
    Retain,
    /// Delete the claims together with the stack.
    Delete,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}
