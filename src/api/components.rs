//! Specs of the collector, Prometheus, Tempo and Loki components.
//!
//! Every component has `enabled`, `image`, `replicas` and `resources`; the rest is
//! what that component needs. Defaults for images live in `crate::model::images`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{BYTE_SIZE_PATTERN, DURATION_PATTERN, QUANTITY_PATTERN};

fn yes() -> bool {
    true
}

/// The OpenTelemetry Collector: OTLP gRPC (4317) and HTTP (4318) in, fanned out to
/// Prometheus, Loki and Tempo.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CollectorSpec {
    /// Run this component. Disabling it deletes its children.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// Container image. Unset: the version pinned by this sextant release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// Replicas when autoscaling is disabled. Ignored while autoscaling is enabled:
    /// the HorizontalPodAutoscaler owns the replica count then.
    #[serde(default = "default_collector_replicas")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: i32,

    /// Horizontal autoscaling of the collector Deployment.
    #[serde(default)]
    pub autoscaling: AutoscalingSpec,

    /// Trace sampling at the collector.
    #[serde(default)]
    pub sampling: SamplingSpec,

    /// Resource attributes upserted on every span, metric and log that passes the
    /// collector, e.g. `deployment.environment: production`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resource_attributes: BTreeMap<String, String>,

    /// CPU and memory. The collector's memory_limiter is derived from the memory limit.
    /// Unset: requests 200m/256Mi, limits 1/512Mi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Scheduling and metadata of the pods; replaces `spec.pod` field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<super::PodOverrides>,

    /// Changes to the rendered config file, merged into it as a JSON merge
    /// patch (RFC 7386): maps merge key by key, `null` deletes a key, any other
    /// value (a list too) replaces what is there. For what sextant does not
    /// model; the condition `ConfigOverridden` names every component with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::free_form_object")]
    pub config_overrides: Option<serde_json::Value>,

    /// Arguments appended to the container's command line, such as
    /// `--log.level=debug`. A flag sextant sets itself is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub extra_args: Vec<String>,

    /// TLS on the OTLP receivers (ports 4317 and 4318), and optionally client
    /// certificates (mutual TLS). A renewed certificate is picked up without a
    /// restart. The node agents' port (4319) stays plain, inside the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<OtlpTls>,

    /// Bearer-token authentication on the OTLP receivers (ports 4317 and 4318):
    /// every request must carry `Authorization: Bearer <token>` with one of the
    /// tokens of a Secret key, one per line. A changed Secret is picked up
    /// without a restart, so tokens rotate by adding the new one, moving the
    /// clients, then removing the old. Send tokens only over TLS (`tls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<OtlpAuth>,

    /// A second Service, `<stack>-collector-external`, exposing the OTLP ports
    /// (4317, 4318) outside the cluster through a load balancer or node ports.
    /// The condition `IngestSecured` turns False while it is set without both
    /// `tls` and `auth`; with NetworkPolicies on, the collector then admits
    /// OTLP from every source, not only `spec.networkPolicies.otlpFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_service: Option<ExternalService>,

    /// Annotations of the collector's ServiceAccount, for workload identity of
    /// what it exports to (`spec.export[].sigv4`): `eks.amazonaws.com/role-arn`
    /// for IRSA, `iam.gke.io/gcp-service-account`, `azure.workload.identity/client-id`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_account_annotations: BTreeMap<String, String>,
}

/// How the collector's OTLP ports are exposed outside the cluster.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalService {
    /// The Service type. Default `LoadBalancer`.
    #[serde(default, rename = "type")]
    pub type_: ExternalServiceType,

    /// Annotations of the Service, such as a cloud's load-balancer settings
    /// (`service.beta.kubernetes.io/aws-load-balancer-scheme: internal`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,

    /// The client networks a load balancer admits, as CIDRs such as
    /// `203.0.113.0/24`. Unset: every address. Honoured by the cloud's load
    /// balancer, not by the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub load_balancer_source_ranges: Vec<String>,

    /// The load-balancer implementation (`loadBalancerClass`). Unset: the
    /// cluster's default. Only with `type: LoadBalancer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_class: Option<String>,

    /// `Local` keeps the clients' source addresses and sends only to
    /// collectors on the receiving node; `Cluster` (the default) spreads over
    /// every collector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_traffic_policy: Option<TrafficPolicy>,
}

/// Kubernetes Service types that reach outside the cluster.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExternalServiceType {
    /// A cloud or bare-metal load balancer in front of node ports.
    #[default]
    LoadBalancer,
    /// A port on every node.
    NodePort,
}

impl ExternalServiceType {
    /// The value of `spec.type` of the Service.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoadBalancer => "LoadBalancer",
            Self::NodePort => "NodePort",
        }
    }
}

/// A Service's `externalTrafficPolicy`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrafficPolicy {
    /// Spread over every endpoint; the source address is the node's.
    Cluster,
    /// Only endpoints on the receiving node; the source address is kept.
    Local,
}

impl TrafficPolicy {
    /// The value Kubernetes reads.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cluster => "Cluster",
            Self::Local => "Local",
        }
    }
}

impl Default for CollectorSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            image: None,
            replicas: default_collector_replicas(),
            autoscaling: AutoscalingSpec::default(),
            sampling: SamplingSpec::default(),
            resource_attributes: BTreeMap::new(),
            resources: None,
            pod: None,
            config_overrides: None,
            extra_args: Vec::new(),
            tls: None,
            auth: None,
            external_service: None,
            service_account_annotations: BTreeMap::new(),
        }
    }
}

fn default_collector_replicas() -> i32 {
    2
}

/// The Secret key of the tokens OTLP clients must present.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OtlpAuth {
    /// The Secret, in the stack's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,

    /// Its key holding the tokens, one per line. Default `tokens`.
    #[serde(default = "default_tokens_key")]
    pub key: String,
}

fn default_tokens_key() -> String {
    "tokens".into()
}

/// TLS for OTLP ingest, from Secrets in the stack's namespace.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OtlpTls {
    /// A Secret of type kubernetes.io/tls (`tls.crt`, `tls.key`), such as the
    /// one a cert-manager Certificate fills.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,

    /// A Secret whose `ca.crt` holds the CAs that sign client certificates:
    /// with it every OTLP client must present a certificate they signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca_secret_name: Option<String>,
    /// Have cert-manager issue `secretName` (and renew it): sextant creates a
    /// cert-manager.io/v1 Certificate `<stack>-collector-tls`, where those
    /// CRDs are installed. Unset: the Secret is provided some other way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateRequest>,
}

/// What cert-manager is asked to issue for the collector.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequest {
    /// The Issuer or ClusterIssuer that signs it.
    pub issuer_ref: IssuerRef,

    /// Host names besides the collector Service's own
    /// (`<stack>-collector`, `.<ns>`, `.<ns>.svc`), such as the external
    /// Service's load-balancer name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub dns_names: Vec<String>,

    /// How long a certificate is valid, a Go duration such as `2160h`.
    /// Unset: cert-manager's default (90 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,

    /// How long before expiry it is renewed, such as `360h`. Unset:
    /// cert-manager's default (a third of the duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<String>,
}

/// A cert-manager issuer (`ObjectReference` of cert-manager.io/v1).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRef {
    /// Its name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,

    /// `Issuer` (in the stack's namespace) or `ClusterIssuer`. Default `Issuer`.
    #[serde(default)]
    pub kind: IssuerKind,

    /// Its API group, for external issuers. Default `cert-manager.io`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// The kinds of cert-manager issuer.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IssuerKind {
    /// An Issuer in the stack's namespace.
    #[default]
    Issuer,
    /// A cluster-wide ClusterIssuer.
    ClusterIssuer,
}

impl IssuerKind {
    /// The kind as cert-manager reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issuer => "Issuer",
            Self::ClusterIssuer => "ClusterIssuer",
        }
    }
}

/// HorizontalPodAutoscaler settings (autoscaling/v2) for the collector.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.maxReplicas >= self.minReplicas").message("maxReplicas must be >= minReplicas").field_path(".maxReplicas")
)]
pub struct AutoscalingSpec {
    /// Create a HorizontalPodAutoscaler for the collector.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// Fewest replicas the autoscaler keeps.
    #[serde(default = "default_min_replicas")]
    #[schemars(range(min = 1, max = 100))]
    pub min_replicas: i32,

    /// Most replicas the autoscaler may create.
    #[serde(default = "default_max_replicas")]
    #[schemars(range(min = 1, max = 100))]
    pub max_replicas: i32,

    /// Target average CPU use, in percent of the CPU request. When neither target
    /// is set, 70% CPU is used.
    #[serde(
        default,
        rename = "targetCPUUtilizationPercentage",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percentage: Option<i32>,

    /// Target average memory use, in percent of the memory request.
    #[serde(
        default,
        rename = "targetMemoryUtilizationPercentage",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 1, max = 100))]
    pub target_memory_utilization_percentage: Option<i32>,
}

impl Default for AutoscalingSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            min_replicas: default_min_replicas(),
            max_replicas: default_max_replicas(),
            target_cpu_utilization_percentage: Some(DEFAULT_CPU_TARGET),
            target_memory_utilization_percentage: None,
        }
    }
}

fn default_min_replicas() -> i32 {
    2
}

fn default_max_replicas() -> i32 {
    10
}

/// The CPU target when neither target is set.
pub const DEFAULT_CPU_TARGET: i32 = 70;

/// Head sampling of traces at the collector.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.traceRatio) || self.traceRatio == 0.0 || self.traceRatio >= 0.000001").message("traceRatio must be 0 (keep no trace) or from 0.000001 to 1").field_path(".traceRatio")
)]
pub struct SamplingSpec {
    /// Fraction of traces kept: 1 (all, the default), 0 (none), or from 0.000001
    /// (one in a million) up. Sampling is by trace ID (the collector's
    /// probabilistic sampler in proportional mode), so a trace is kept or dropped
    /// whole, and every collector replica decides the same for a trace.
    #[serde(default = "default_trace_ratio")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub trace_ratio: f64,
}

impl Default for SamplingSpec {
    fn default() -> Self {
        Self {
            trace_ratio: default_trace_ratio(),
        }
    }
}

fn default_trace_ratio() -> f64 {
    1.0
}

/// Size of a component's PersistentVolumeClaim.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSpec {
    /// Requested size of the volume, a Kubernetes quantity such as `50Gi`.
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub size: String,
}

/// Prometheus: metrics storage and query.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusSpec {
    /// Run this component. Disabling it deletes its children (its volume is kept
    /// unless `storage.deletionPolicy` is `Delete`).
    #[serde(default = "yes")]
    pub enabled: bool,

    /// Container image. Unset: the version pinned by this sextant release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// Replicas: 1; 2 or 3 for identical replicas in high availability, each on
    /// its own volume, scraping the same targets and receiving every sample the
    /// collector and Tempo write, read through a Thanos Query that merges them
    /// (`query`; docs/scaling.md); 0 stops it while keeping its volume.
    #[serde(default = "one")]
    #[schemars(range(min = 0, max = 3))]
    pub replicas: i32,

    /// The Thanos sidecar beside each replica and the Thanos Query in front of
    /// them, when `replicas` is more than 1.
    #[serde(default, skip_serializing_if = "PrometheusQuerySpec::is_default")]
    pub query: PrometheusQuerySpec,

    /// Retention of the TSDB.
    #[serde(default)]
    pub retention: PrometheusRetention,

    /// The data volume.
    #[serde(default = "default_prometheus_volume")]
    pub storage: VolumeSpec,

    /// How often Prometheus scrapes the stack's own components.
    #[serde(default = "default_scrape_interval")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub scrape_interval: String,

    /// Scraping the metrics the cluster's own workloads expose.
    #[serde(default)]
    pub discovery: ScrapeDiscoverySpec,

    /// Which prometheus-operator `ServiceMonitor` and `PodMonitor` objects
    /// (monitoring.coreos.com/v1, where those CRDs are installed) become scrape
    /// jobs, by their labels. Unset: none are read; `{}`: every one in the
    /// namespaces of `monitorNamespaceSelector`. Objects sextant cannot
    /// translate are listed in the `MonitorsTranslated` condition
    /// (docs/scrape-discovery.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_selector: Option<LabelSelector>,

    /// The namespaces, by their labels, whose monitors `monitorSelector`
    /// selects. Unset: the stack's own namespace only; `{}`: every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_namespace_selector: Option<LabelSelector>,

    /// Recording rules Prometheus evaluates (a rule file in its config), for
    /// queries dashboards and alerts use often or over long ranges. Alerts stay
    /// in `spec.grafana.alerting`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub recording_rule_groups: Vec<RecordingRuleGroup>,

    /// CPU and memory. Unset: requests 250m/512Mi, limits 2/2Gi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Scheduling and metadata of the pods; replaces `spec.pod` field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<super::PodOverrides>,

    /// Changes to the rendered config file, merged into it as a JSON merge
    /// patch (RFC 7386): maps merge key by key, `null` deletes a key, any other
    /// value (a list too) replaces what is there. For what sextant does not
    /// model; the condition `ConfigOverridden` names every component with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::free_form_object")]
    pub config_overrides: Option<serde_json::Value>,

    /// Arguments appended to the container's command line, such as
    /// `--log.level=debug`. A flag sextant sets itself is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub extra_args: Vec<String>,
}

/// The Thanos parts of Prometheus in replicas.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusQuerySpec {
    /// Container image of the sidecar and the Query. Unset: the version pinned
    /// by this sextant release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// Replicas of the Query (stateless; each reads every Prometheus replica).
    #[serde(default = "two")]
    #[schemars(range(min = 1, max = 10))]
    pub replicas: i32,

    /// CPU and memory of each Query pod. Unset: requests 100m/128Mi, limits
    /// 1/1Gi. The sidecars take requests 50m/64Mi, limits 500m/256Mi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

impl Default for PrometheusQuerySpec {
    fn default() -> Self {
        Self {
            image: None,
            replicas: two(),
            resources: None,
        }
    }
}

fn two() -> i32 {
    2
}

impl PrometheusQuerySpec {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl Default for PrometheusSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            image: None,
            replicas: 1,
            query: PrometheusQuerySpec::default(),
            retention: PrometheusRetention::default(),
            storage: default_prometheus_volume(),
            scrape_interval: default_scrape_interval(),
            discovery: ScrapeDiscoverySpec::default(),
            monitor_selector: None,
            monitor_namespace_selector: None,
            recording_rule_groups: Vec::new(),
            resources: None,
            pod: None,
            config_overrides: None,
            extra_args: Vec::new(),
        }
    }
}

/// A group of recording rules, evaluated together in order, as in a Prometheus
/// rule file (which this serializes to).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecordingRuleGroup {
    /// Name of the group, unique in the stack.
    #[schemars(length(min = 1, max = 190))]
    pub name: String,

    /// How often the group is evaluated, such as `1m`. Unset: the scrape
    /// interval (Prometheus's `evaluation_interval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub interval: Option<String>,

    /// The rules, each writing one new series per result.
    #[schemars(length(min = 1, max = 200))]
    pub rules: Vec<RecordingRule>,
}

/// One recording rule: `expr` evaluated and stored as the metric `record`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecordingRule {
    /// The metric name written, by convention `level:metric:operations`, such
    /// as `job:http_requests:rate5m`.
    #[schemars(
        regex(pattern = "^[a-zA-Z_:][a-zA-Z0-9_:]*$"),
        length(min = 1, max = 190)
    )]
    pub record: String,

    /// PromQL expression.
    #[schemars(length(min = 1, max = 65536))]
    pub expr: String,

    /// Labels added to every series written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Which of the cluster's workloads Prometheus finds and scrapes, at the stack's
/// scrape interval (docs/scrape-discovery.md).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScrapeDiscoverySpec {
    /// Scrape every pod, and the endpoints of every Service, annotated
    /// `prometheus.io/scrape: "true"`, on the port, path and scheme of the
    /// `prometheus.io/port`, `prometheus.io/path` and `prometheus.io/scheme`
    /// annotations. Where the install grants no cluster-wide collection, only
    /// pods in the stack's own namespace.
    #[serde(default = "yes")]
    pub annotations: bool,

    /// Look only in these namespaces. Empty: every namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub namespaces: Vec<String>,

    /// Per-target and per-job limits of the discovered jobs: a scrape over a
    /// limit fails (the target is down, `up` is 0) instead of filling the TSDB.
    #[serde(default)]
    pub limits: ScrapeLimits,
}

impl Default for ScrapeDiscoverySpec {
    fn default() -> Self {
        Self {
            annotations: true,
            namespaces: Vec::new(),
            limits: ScrapeLimits::default(),
        }
    }
}

/// Prometheus's scrape limits (`sample_limit`, `label_limit`,
/// `label_name_length_limit`, `label_value_length_limit`, `target_limit`); 0 is
/// no limit.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScrapeLimits {
    /// Most samples one scrape of a target may return after relabelling.
    #[serde(default = "default_sample_limit")]
    pub sample_limit: u32,

    /// Most labels one series may have.
    #[serde(default = "default_label_limit")]
    pub label_limit: u32,

    /// Longest label name, in bytes.
    #[serde(default = "default_label_name_length_limit")]
    pub label_name_length_limit: u32,

    /// Longest label value, in bytes.
    #[serde(default = "default_label_value_length_limit")]
    pub label_value_length_limit: u32,

    /// Most targets one discovered job may have; over it, every target of that
    /// job fails.
    #[serde(default = "default_target_limit")]
    pub target_limit: u32,
}

impl Default for ScrapeLimits {
    fn default() -> Self {
        Self {
            sample_limit: default_sample_limit(),
            label_limit: default_label_limit(),
            label_name_length_limit: default_label_name_length_limit(),
            label_value_length_limit: default_label_value_length_limit(),
            target_limit: default_target_limit(),
        }
    }
}

fn default_sample_limit() -> u32 {
    50_000
}

fn default_label_limit() -> u32 {
    64
}

fn default_label_name_length_limit() -> u32 {
    256
}

fn default_label_value_length_limit() -> u32 {
    4096
}

fn default_target_limit() -> u32 {
    10_000
}

fn one() -> i32 {
    1
}

fn default_prometheus_volume() -> VolumeSpec {
    VolumeSpec {
        size: "50Gi".into(),
    }
}

fn default_scrape_interval() -> String {
    "30s".into()
}

/// Retention of Prometheus's TSDB: whichever limit is reached first applies.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusRetention {
    /// How long samples are kept. Unset: `spec.retention.metrics`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub time: Option<String>,

    /// Most bytes the TSDB may use, such as `45GiB`. Unset: 85% of the volume size,
    /// so Prometheus deletes old blocks before the volume fills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = BYTE_SIZE_PATTERN))]
    pub size: Option<String>,
}

/// Tempo: trace storage, monolithic mode on a local volume.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TempoSpec {
    /// Run this component. Disabling it deletes its children (its volume is kept
    /// unless `storage.deletionPolicy` is `Delete`).
    #[serde(default = "yes")]
    pub enabled: bool,

    /// Container image. Unset: the version pinned by this sextant release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// Replicas: 1 (monolithic), 0 to stop it while keeping its volume, or 3 or
    /// more with `spec.storage.objectStore`: scalable monolithic mode, a ring over
    /// memberlist that keeps each trace on 3 ingesters (docs/scaling.md). More
    /// than 1 on local storage is refused (each replica could read only its own
    /// blocks), as is 2 (a write needs 2 of its 3 copies).
    #[serde(default = "one")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: i32,

    /// Retention of trace blocks.
    #[serde(default)]
    pub retention: PeriodRetention,

    /// The data volume.
    #[serde(default = "default_small_volume")]
    pub storage: VolumeSpec,

    /// Tempo's metrics-generator: service graphs and span metrics written to Prometheus.
    #[serde(default)]
    pub metrics_generator: MetricsGeneratorSpec,

    /// Ingestion limits: what goes over them is discarded and alerted on
    /// (docs/limits.md).
    #[serde(default, skip_serializing_if = "super::limits::is_default")]
    pub limits: super::TempoLimits,

    /// CPU and memory. Unset: requests 200m/512Mi, limits 2/2Gi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Scheduling and metadata of the pods; replaces `spec.pod` field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<super::PodOverrides>,

    /// Changes to the rendered config file, merged into it as a JSON merge
    /// patch (RFC 7386): maps merge key by key, `null` deletes a key, any other
    /// value (a list too) replaces what is there. For what sextant does not
    /// model; the condition `ConfigOverridden` names every component with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::free_form_object")]
    pub config_overrides: Option<serde_json::Value>,

    /// Arguments appended to the container's command line, such as
    /// `--log.level=debug`. A flag sextant sets itself is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub extra_args: Vec<String>,
}

impl Default for TempoSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            image: None,
            replicas: 1,
            retention: PeriodRetention::default(),
            storage: default_small_volume(),
            metrics_generator: MetricsGeneratorSpec::default(),
            limits: super::TempoLimits::default(),
            resources: None,
            pod: None,
            config_overrides: None,
            extra_args: Vec::new(),
        }
    }
}

fn default_small_volume() -> VolumeSpec {
    VolumeSpec {
        size: "20Gi".into(),
    }
}

/// A retention period.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PeriodRetention {
    /// How long data is kept. Unset: the stack-wide default for this signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub period: Option<String>,
}

/// Tempo's metrics-generator.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MetricsGeneratorSpec {
    /// Generate service-graph and span metrics (RED per service) into Prometheus.
    /// Needs Prometheus enabled.
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for MetricsGeneratorSpec {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Loki: log storage, single binary on a local volume.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LokiSpec {
    /// Run this component. Disabling it deletes its children (its volume is kept
    /// unless `storage.deletionPolicy` is `Delete`).
    #[serde(default = "yes")]
    pub enabled: bool,

    /// Container image. Unset: the version pinned by this sextant release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// Replicas: 1 (single binary), 0 to stop it while keeping its volume, or 3
    /// or more with `spec.storage.objectStore`: monolithic replicas in a ring over
    /// memberlist with replication factor 3 (docs/scaling.md). More than 1 on
    /// filesystem storage is refused (each replica could read only its own
    /// chunks), as is 2 (a write needs 2 of its 3 copies).
    #[serde(default = "one")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: i32,

    /// Retention, global and per stream, enforced by Loki's compactor.
    #[serde(default)]
    pub retention: LokiRetention,

    /// Ingestion limits: what goes over them is discarded and alerted on
    /// (docs/limits.md).
    #[serde(default, skip_serializing_if = "super::limits::is_default")]
    pub limits: super::LokiLimits,

    /// The data volume.
    #[serde(default = "default_small_volume")]
    pub storage: VolumeSpec,

    /// CPU and memory. Unset: requests 200m/512Mi, limits 2/2Gi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Scheduling and metadata of the pods; replaces `spec.pod` field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<super::PodOverrides>,

    /// Changes to the rendered config file, merged into it as a JSON merge
    /// patch (RFC 7386): maps merge key by key, `null` deletes a key, any other
    /// value (a list too) replaces what is there. For what sextant does not
    /// model; the condition `ConfigOverridden` names every component with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::free_form_object")]
    pub config_overrides: Option<serde_json::Value>,

    /// Arguments appended to the container's command line, such as
    /// `--log.level=debug`. A flag sextant sets itself is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub extra_args: Vec<String>,
}

impl Default for LokiSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            image: None,
            replicas: 1,
            retention: LokiRetention::default(),
            limits: super::LokiLimits::default(),
            storage: default_small_volume(),
            resources: None,
            pod: None,
            config_overrides: None,
            extra_args: Vec::new(),
        }
    }
}

/// Loki retention: a global period and per-stream overrides.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LokiRetention {
    /// How long logs are kept. Unset: `spec.retention.logs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub period: Option<String>,

    /// Per-stream retention: streams matching a selector are kept for its period.
    /// Where several match, the highest priority wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub streams: Vec<StreamRetention>,
}

/// Retention of the log streams a selector matches.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StreamRetention {
    /// A LogQL stream selector, such as `{namespace="dev"}`.
    #[schemars(length(min = 3, max = 1024))]
    pub selector: String,

    /// How long matching streams are kept.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub period: String,

    /// Which rule wins when several selectors match a stream: the highest.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1000))]
    pub priority: i32,
}
