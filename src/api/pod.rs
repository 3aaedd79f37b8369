//! Pod overrides: where and how a component's pods are scheduled and what they
//! carry besides what sextant sets, stack-wide (`spec.pod`) and per component
//! (`spec.<component>.pod`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, Toleration, TopologySpreadConstraint,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Scheduling and metadata of a component's pods. A component's own value of a
/// field replaces the stack-wide one (`spec.pod`); `annotations`, `labels` and
/// `env` are merged, the component's entry winning on the same key. None of it
/// may change what sextant owns: its labels, its annotations, the environment
/// variables it sets, or the pods' security settings.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodOverrides {
    /// Nodes the pods may run on, by node label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,

    /// Taints the pods tolerate. For the node agent use
    /// `spec.nodeAgent.tolerations` (it tolerates every taint by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,

    /// Node and pod affinity and anti-affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// How the pods spread over zones or nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,

    /// PriorityClass of the pods. For the node agent use
    /// `spec.nodeAgent.priorityClassName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub priority_class_name: Option<String>,

    /// Annotations added to the pods (not to the workload).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,

    /// Labels added to the pods (not to the workload's selector).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,

    /// Secrets to pull the images with, from a private registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,

    /// Environment variables added to every container of the pods (`value` or
    /// `valueFrom`), such as a proxy's `HTTPS_PROXY`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
}
