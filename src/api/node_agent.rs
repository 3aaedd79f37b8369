//! The spec of the node agent: an OpenTelemetry Collector on every node that
//! tails the pods' logs and reads the kubelet's resource metrics.

use k8s_openapi::api::core::v1::{ResourceRequirements, Toleration};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DURATION_PATTERN;

fn yes() -> bool {
    true
}

/// The node agent: an OpenTelemetry Collector DaemonSet (contrib image) that
/// sends every pod's stdout/stderr to Loki and the kubelet's node, pod, container
/// and volume metrics to Prometheus, each with the pod's Kubernetes metadata,
/// through the stack's collector. It needs the cluster-wide read access the Helm
/// chart's `<release>-node-agent` ClusterRole grants and read-only hostPath mounts
/// of the node's log directory, so its namespace must allow Pod Security
/// "privileged" (docs/node-agent.md says why and which controls it exempts).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NodeAgentSpec {
    /// Run the agent on every node. Unset: on whenever the collector runs and
    /// there is something to collect (Loki for logs, Prometheus for metrics) and
    /// the install grants cluster-wide collection (else it does not run, and
    /// `NodeAgentReady` says why); `true` with the collector disabled is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,

    /// Container image. Unset: the collector image pinned by this sextant release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// CPU and memory of each agent pod; its memory_limiter is derived from the
    /// memory limit. Unset: requests 100m/128Mi, limits 500m/512Mi.
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

    /// The taints the agent tolerates. Unset: every taint (`operator: Exists`),
    /// so it also runs on tainted nodes such as GPU nodes; `[]`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,

    /// PriorityClass of the agent pods, e.g. `system-node-critical`, so that they
    /// are not the first evicted from a full node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub priority_class_name: Option<String>,

    /// Pod logs from `/var/log/pods`.
    #[serde(default)]
    pub logs: AgentLogsSpec,

    /// Node, pod, container and volume metrics from the kubelet.
    #[serde(default)]
    pub kubelet_metrics: KubeletMetricsSpec,

    /// CPU, memory, disk, filesystem and network metrics of the node itself, read
    /// from the host's `/proc` and `/sys` (a read-only mount of the host's root).
    #[serde(default)]
    pub host_metrics: HostMetricsSpec,
}

/// Pod log collection.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentLogsSpec {
    /// Tail every container's log file on the node (CRI-O, containerd and Docker
    /// formats), with the read position kept on the node so that a restarted agent
    /// neither sends a line twice nor skips one.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// Namespaces whose pods' logs are not collected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_namespaces: Vec<String>,
}

impl Default for AgentLogsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            exclude_namespaces: Vec::new(),
        }
    }
}

/// Kubelet resource metrics (`/stats/summary`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeletMetricsSpec {
    /// Read the kubelet's node, pod, container and volume statistics.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// How often, as a duration of at least 10s.
    #[serde(default = "default_kubelet_interval")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub interval: String,

    /// Skip verifying the kubelet's serving certificate. On by default because most
    /// kubelets serve a self-signed certificate (kubeadm's default); turn it off on
    /// clusters whose kubelets have certificates signed by the cluster CA
    /// (`serverTLSBootstrap`).
    #[serde(default = "yes")]
    pub insecure_skip_verify: bool,
}

impl Default for KubeletMetricsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: default_kubelet_interval(),
            insecure_skip_verify: true,
        }
    }
}

fn default_kubelet_interval() -> String {
    "30s".into()
}

/// Host metrics.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HostMetricsSpec {
    /// Read the node's own CPU, memory, disk, filesystem and network statistics.
    #[serde(default)]
    pub enabled: bool,
}
