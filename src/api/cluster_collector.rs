//! The spec of the cluster collector: one OpenTelemetry Collector for the whole
//! cluster that reports the state of nodes, workloads and pods, and the
//! Kubernetes events.

use k8s_openapi::api::core::v1::ResourceRequirements;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DURATION_PATTERN;

fn yes() -> bool {
    true
}

/// The cluster collector: a single-replica OpenTelemetry Collector Deployment
/// (contrib image) that sends the state of nodes, workloads, pods and containers
/// (`k8s_cluster` receiver) to Prometheus and every Kubernetes event
/// (`k8s_objects` receiver) to Loki, through the stack's collector. Its
/// receivers run only while the pod holds a Lease in the stack's namespace
/// (`k8s_leader_elector`), so a second pod (a rollout, or a node that lost
/// contact) waits instead of reporting the same state and events again. It
/// needs the cluster-wide read access of the Helm chart's
/// `<release>-cluster-collector` ClusterRole (docs/cluster-collector.md).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterCollectorSpec {
    /// Run the cluster collector. Unset: on whenever the collector runs and there
    /// is something to keep (Prometheus for state, Loki for events) and the install
    /// grants cluster-wide collection (else it does not run, and
    /// `ClusterCollectorReady` says why); `true` with the collector disabled is an
    /// error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,

    /// Container image. Unset: the collector image pinned by this sextant release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// CPU and memory of the pod; its memory_limiter is derived from the memory
    /// limit. Unset: requests 100m/256Mi, limits 500m/512Mi.
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

    /// Node, workload, pod and container state, as metrics.
    #[serde(default)]
    pub state: ClusterStateSpec,

    /// Kubernetes events, as log lines.
    #[serde(default)]
    pub events: ClusterEventsSpec,
}

/// Cluster state metrics.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStateSpec {
    /// Report node conditions, pod phases, container restarts and their last
    /// termination reason, requests and limits, and the desired and available
    /// replicas of Deployments, StatefulSets, DaemonSets and Jobs.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// How often, as a duration of at least 10s (the state is read from watches;
    /// this is how often it is reported).
    #[serde(default = "default_state_interval")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub interval: String,
}

impl Default for ClusterStateSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: default_state_interval(),
        }
    }
}

fn default_state_interval() -> String {
    "30s".into()
}

/// Kubernetes events.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterEventsSpec {
    /// Send every Kubernetes event (`events.k8s.io/v1`), as it happens, to Loki.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// Namespaces whose events are not sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_namespaces: Vec<String>,
}

impl Default for ClusterEventsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            exclude_namespaces: Vec::new(),
        }
    }
}
