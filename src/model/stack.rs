//! The validated, fully resolved stack: what `crate::validate` produces and every
//! later step reads. Per component its image, replicas, resources and volume are
//! resolved once here, so builders never re-read the raw spec with fallbacks of
//! their own; what the spec references (dashboards in ConfigMaps, Secret values)
//! is already checked and in place.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::component::Component;
use super::names;
use crate::api::ObservabilityStackSpec;

/// A component as the stack runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// The component runs (`spec.<name>.enabled`).
    pub enabled: bool,
    /// The image: the user's, or the one this release pins.
    pub image: String,
    /// Replicas as the spec asks (for the collector: when not autoscaled).
    pub replicas: i32,
    /// The user's resources, or the component's defaults.
    pub resources: ResourceRequirements,
    /// The data volume of a component that keeps one.
    pub volume: Option<VolumeSize>,
    /// Scheduling and metadata of its pods: `spec.pod` with the component's own
    /// `pod` over it (`crate::build` applies it to the pod template).
    pub pod: crate::api::PodOverrides,
}

/// The size of a data volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeSize {
    /// As written in the spec (the claim template carries it unchanged).
    pub quantity: String,
    /// In bytes.
    pub bytes: u128,
}

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

/// The sizes of `spec.loki.limits`, in bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LokiLimitBytes {
    pub ingestion_rate: u64,
    pub ingestion_burst: u64,
    pub per_stream_rate: u64,
    pub per_stream_burst: u64,
}

/// The sizes of `spec.tempo.limits`, in bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TempoLimitBytes {
    pub ingestion_rate: u64,
    pub ingestion_burst: u64,
    pub max_trace_size: u64,
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

/// One dashboard file to provision.
#[derive(Clone, Debug, PartialEq)]
pub struct DashboardFile {
    /// ConfigMap key, unique in the stack.
    pub key: String,
    /// Grafana folder (a directory under the dashboards path).
    pub folder: String,
    /// The dashboard JSON.
    pub json: String,
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
    /// The spec as written (with schema defaults applied by serde), for the
    /// settings that need no resolving.
    pub spec: ObservabilityStackSpec,
    /// Every component, resolved, in [`Component::ALL`] order.
    pub components: [Resolved; Component::COUNT],
    /// The collector container's memory limit in bytes (its memory_limiter and
    /// GOMEMLIMIT derive from it).
    pub collector_memory_limit: u128,
    /// The node agent container's memory limit in bytes.
    pub node_agent_memory_limit: u128,
    /// The cluster collector container's memory limit in bytes.
    pub cluster_collector_memory_limit: u128,
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
    /// How often the node agent reads the kubelet's (and the host's) statistics.
    pub kubelet_interval: Duration,
    /// How often the cluster collector reports the cluster's state.
    pub cluster_state_interval: Duration,
    /// Loki per-stream retention.
    pub loki_streams: Vec<StreamRule>,
    /// Loki's ingestion limits, sizes in bytes.
    pub loki_limits: LokiLimitBytes,
    /// Tempo's ingestion limits, sizes in bytes.
    pub tempo_limits: TempoLimitBytes,
    /// Inline dashboards.
    pub inline_dashboards: Vec<Dashboard>,
    /// Dashboards from the ConfigMaps the stack selects that passed the checks
    /// (none for `sextant render`, which reads no cluster).
    pub config_map_dashboards: Vec<DashboardFile>,
    /// One line per ConfigMap dashboard left out, and why.
    pub skipped_dashboards: Vec<String>,
    /// The values of the Secret keys contact points reference (empty for
    /// `sextant render`, which then renders a placeholder in their place).
    pub contact_point_secrets: SecretValues,
    /// One line per referenced Secret or key that is missing or unusable, naming
    /// the field that references it (never a value), with the component whose
    /// condition reports it (Grafana's or the collector's).
    pub missing_secrets: Vec<(crate::model::Component, String)>,
    /// Per component, a digest of the Secret values its pods read only when they
    /// start (environment variables, credential files read once): in the pod
    /// template's hash, so that a rotated value restarts them. Empty for
    /// `sextant render`, which reads no Secret.
    pub restart_secrets: BTreeMap<crate::model::Component, String>,
    /// The prometheus-operator monitors the stack selects, as the controller read
    /// them (`None`: none read); `crate::build::prometheus::monitors` translates them.
    pub monitors: Option<crate::model::MonitorsRead>,
    /// The Thanos parts of Prometheus in replicas (`prometheus_ha`), resolved.
    pub thanos: Thanos,
}

/// The Thanos sidecar and Query of Prometheus in replicas, resolved like a
/// component (`spec.prometheus.query`).
#[derive(Debug, Clone, PartialEq)]
pub struct Thanos {
    /// The image of the sidecar and the Query (mirrored like the others).
    pub image: String,
    /// Replicas of the Query.
    pub query_replicas: i32,
    /// CPU and memory of each Query pod.
    pub query_resources: ResourceRequirements,
    /// CPU and memory of each sidecar.
    pub sidecar_resources: ResourceRequirements,
}

impl ValidatedStack {
    /// A component as the stack runs it.
    pub fn component(&self, c: Component) -> &Resolved {
        &self.components[c.index()]
    }

    /// Whether a component runs.
    pub fn enabled(&self, c: Component) -> bool {
        self.component(c).enabled
    }

    /// Whether Tempo's metrics-generator runs: Tempo runs, the generator is asked
    /// for, and Prometheus is there to receive what it writes.
    pub fn tempo_generator(&self) -> bool {
        self.enabled(Component::Tempo)
            && self.spec.tempo.metrics_generator.enabled
            && self.enabled(Component::Prometheus)
    }

    /// How many pods of a component the stack keeps at least: for an autoscaled
    /// collector the autoscaler's minimum, else the replica count.
    pub fn min_pods(&self, c: Component) -> i32 {
        let autoscaling = &self.spec.collector.autoscaling;
        match c {
            Component::Collector if autoscaling.enabled => autoscaling.min_replicas,
            Component::Collector
            | Component::NodeAgent
            | Component::ClusterCollector
            | Component::Prometheus
            | Component::Tempo
            | Component::Loki
            | Component::Grafana => self.component(c).replicas,
        }
    }

    /// In-cluster DNS name of a component's Service.
    pub fn service_host(&self, c: Component) -> String {
        names::service_host(&self.name, &self.namespace, c)
    }

    /// Whether Loki or Tempo runs as a ring of replicas (more than one, on the
    /// object store: validation refuses more than one on volumes) rather than as
    /// one instance: memberlist, replication and the members Service.
    pub fn clustered(&self, c: Component) -> bool {
        matches!(c, Component::Loki | Component::Tempo)
            && self.enabled(c)
            && self.component(c).replicas > 1
    }

    /// Whether Prometheus runs as identical replicas (more than one) with a
    /// Thanos sidecar each and a Thanos Query in front of them.
    pub fn prometheus_ha(&self) -> bool {
        self.enabled(Component::Prometheus) && self.component(Component::Prometheus).replicas > 1
    }

    /// Where the collector and Tempo's metrics-generator write metrics: each
    /// replica's own Service (`<stack>-prometheus-<i>`, which selects its pod by
    /// the `statefulset.kubernetes.io/pod-name` label) when Prometheus runs in
    /// replicas, so every replica receives every sample; else its one Service.
    pub fn prometheus_write_hosts(&self) -> Vec<(String, String)> {
        if !self.prometheus_ha() {
            return vec![(
                Component::Prometheus.name().to_string(),
                self.service_host(Component::Prometheus),
            )];
        }
        (0..self.component(Component::Prometheus).replicas)
            .map(|i| {
                let name =
                    names::child_name(&self.name, Component::Prometheus, Some(&i.to_string()));
                let host = format!("{name}.{}.svc", self.namespace);
                (format!("{}-{i}", Component::Prometheus.name()), host)
            })
            .collect()
    }

    /// The Prometheus HTTP API that Grafana, the probe and the status read: the
    /// Thanos Query (deduplicating the replicas) when Prometheus runs in
    /// replicas, else Prometheus's Service.
    pub fn prometheus_query_url(&self) -> String {
        if self.prometheus_ha() {
            format!(
                "http://{}.{}.svc:{}",
                names::child_name(&self.name, Component::Prometheus, Some(names::QUERY_SUFFIX)),
                self.namespace,
                names::ports::THANOS_HTTP
            )
        } else {
            format!(
                "http://{}:{}",
                self.service_host(Component::Prometheus),
                names::ports::PROMETHEUS
            )
        }
    }

    /// In-cluster DNS name of the headless Service that lists every pod of a
    /// clustered component, ready or not (memberlist's join address, and Tempo's
    /// query-frontend address for its queriers).
    pub fn members_host(&self, c: Component) -> String {
        format!(
            "{}.{}.svc",
            names::child_name(&self.name, c, Some(names::MEMBERS_SUFFIX)),
            self.namespace
        )
    }
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
