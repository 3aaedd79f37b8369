//! The `k8s_attributes` processor of both collectors: which Kubernetes metadata
//! every span, metric and log gets, and how a signal is matched to its pod.
//!
//! Schema: contrib `processor/k8sattributesprocessor` (README.md and
//! `processor.go`, read in stored copies, not at v0.159.0: the contrib repository
//! is too large to fetch here; `k8s_attributes` is its name since the rename the
//! OpenTelemetry Helm chart's UPGRADING.md records at 0.162 of the chart, the old
//! `k8sattributes` being a deprecated alias). The processor only fills attributes
//! a signal does not carry yet (`setResourceAttribute` in `processor.go`), so the
//! gateway never overwrites what the node agent found.

use serde::Serialize;

/// The environment variable holding the node's name in the agent pod (downward
/// API `spec.nodeName`).
pub const NODE_NAME_ENV: &str = "K8S_NODE_NAME";

/// The processor's config.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct K8sAttributes {
    auth_type: &'static str,
    passthrough: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<Filter>,
    extract: Extract,
    pod_association: Vec<Association>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Filter {
    node_from_env_var: &'static str,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Extract {
    metadata: Vec<&'static str>,
    /// The Deployment's name is cut from the ReplicaSet's (`<deployment>-<hash>`)
    /// instead of watching ReplicaSets and Deployments: the ClusterRole needs only
    /// pods and namespaces.
    deployment_name_from_replicaset: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Association {
    sources: Vec<Source>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Source {
    from: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'static str>,
}

/// What both collectors add. Each comes from the pod object or its owner
/// references, which the `<prefix>-k8s-metadata` ClusterRole lets them watch;
/// the workload names are Loki's default OTLP index labels (grafana/loki v3.7.6
/// `pkg/loghttp/push/otlp_config.go`) and promoted to Prometheus labels
/// (`crate::render::prometheus`).
const METADATA: [&str; 8] = [
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.pod.uid",
    "k8s.node.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.job.name",
];

fn attribute(name: &'static str) -> Association {
    Association {
        sources: vec![Source {
            from: "resource_attribute",
            name: Some(name),
        }],
    }
}

fn extract() -> Extract {
    Extract {
        metadata: METADATA.to_vec(),
        deployment_name_from_replicaset: true,
    }
}

/// The gateway's: OTLP that applications push is matched to its pod by a
/// `k8s.pod.ip` or `k8s.pod.uid` it carries, else by the sender's address (the
/// processor sits before any batching, which would lose the address).
pub fn gateway() -> K8sAttributes {
    K8sAttributes {
        auth_type: "serviceAccount",
        passthrough: false,
        filter: None,
        extract: extract(),
        pod_association: vec![
            attribute("k8s.pod.ip"),
            attribute("k8s.pod.uid"),
            Association {
                sources: vec![Source {
                    from: "connection",
                    name: None,
                }],
            },
        ],
    }
}

/// The node agent's: only the pods of its own node are watched; logs carry the
/// pod's uid (the container parser reads it from the file path) and kubelet
/// metrics carry it too. Never by connection: the agent's receivers read files
/// and the kubelet, and a node's own metrics belong to no pod.
pub fn node_agent() -> K8sAttributes {
    K8sAttributes {
        auth_type: "serviceAccount",
        passthrough: false,
        filter: Some(Filter {
            node_from_env_var: NODE_NAME_ENV,
        }),
        extract: extract(),
        pod_association: vec![attribute("k8s.pod.uid")],
    }
}
