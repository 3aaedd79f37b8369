//! The cluster collector's configuration: the state of nodes, workloads, pods
//! and containers (`k8s_cluster` receiver) and the Kubernetes events
//! (`k8s_objects` receiver), both run only while this pod holds the stack's
//! Lease (`k8s_leader_elector` extension), sent over OTLP to the stack's
//! collector.
//!
//! Schema: opentelemetry-collector-contrib at the version pinned in
//! `crate::model::images::COLLECTOR`. Its release manifest at that tag
//! (open-telemetry/opentelemetry-collector-releases v0.159.0,
//! `distributions/otelcol-contrib/manifest.yaml`) lists
//! `extension/k8sleaderelector`, `receiver/k8sclusterreceiver` and
//! `receiver/k8sobjectsreceiver`. The contrib repository is too large to fetch
//! here, so these were read in stored copies, not at v0.159.0 (commits in
//! docs/research/cluster-collector.md): `receiver/k8sclusterreceiver`
//! (`config.go`, `README.md`, `metadata.yaml`: `node_conditions_to_report` gives
//! one gauge `k8s.node.condition_<type>` per condition, 1 true, 0 false, -1
//! unknown; the resource attribute `k8s.container.status.last_terminated_reason`
//! is off by default), `receiver/k8sobjectsreceiver` (`config.schema.yaml`; type
//! `k8s_objects` since its rename in `.chloggen/codeboten_k8sobjects-k8s_objects.yaml`,
//! `k8sobjects` a deprecated alias; a watched object's log record has the body
//! `{type, object}` and the resource attribute `k8s.namespace.name`) and
//! `extension/k8sleaderelector` (`config.schema.yaml`, `factory.go`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::otelcol::{
    AttributeAction, Batch, Endpoint, ForwarderService, MemoryLimiter, ResourceProcessor,
    TO_GATEWAY, ToGateway, batch, health_check, memory_limiter, pipeline, telemetry, to_gateway,
};
use crate::model::{Capabilities, Component, EVENTS_SERVICE, ValidatedStack, child_name};
use crate::units::format_go_duration;

/// The node conditions reported, each as `k8s.node.condition_<snake case>`.
pub const NODE_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The whole config file.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Config {
    extensions: Extensions,
    receivers: Receivers,
    processors: Processors,
    exporters: ToGateway,
    service: ForwarderService,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Extensions {
    health_check: Endpoint,
    k8s_leader_elector: LeaderElector,
}

/// The Lease one pod at a time holds; the receivers start when it is won and
/// stop when it is lost.
#[derive(Serialize, Debug, Clone, PartialEq)]
struct LeaderElector {
    auth_type: &'static str,
    lease_name: String,
    lease_namespace: String,
    lease_duration: &'static str,
    renew_deadline: &'static str,
    retry_period: &'static str,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Receivers {
    #[serde(skip_serializing_if = "Option::is_none")]
    k8s_cluster: Option<K8sCluster>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k8s_objects: Option<K8sObjects>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct K8sCluster {
    auth_type: &'static str,
    collection_interval: String,
    node_conditions_to_report: Vec<&'static str>,
    k8s_leader_elector: &'static str,
    resource_attributes: BTreeMap<&'static str, Toggle>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Toggle {
    enabled: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct K8sObjects {
    auth_type: &'static str,
    k8s_leader_elector: &'static str,
    objects: Vec<WatchedObject>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct WatchedObject {
    name: &'static str,
    group: &'static str,
    mode: &'static str,
    /// A deleted event (its TTL ran out, an hour by default) is no news.
    exclude_watch_type: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field_selector: Option<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Processors {
    memory_limiter: MemoryLimiter,
    #[serde(rename = "resource/events", skip_serializing_if = "Option::is_none")]
    events_resource: Option<ResourceProcessor>,
    batch: Batch,
}

/// The Lease's name: one per stack, in the stack's namespace.
pub fn lease_name(stack: &ValidatedStack) -> String {
    child_name(&stack.name, Component::ClusterCollector, None)
}

/// Renders the cluster collector's config. `memory_limit_bytes` is its
/// container's limit.
pub fn render(stack: &ValidatedStack, caps: &Capabilities, memory_limit_bytes: u128) -> Config {
    let spec = &stack.spec.cluster_collector;
    let state = caps.cluster_state(stack);
    let events = caps.cluster_events(stack);
    let elector = "k8s_leader_elector";

    let k8s_cluster = state.then(|| K8sCluster {
        auth_type: "serviceAccount",
        collection_interval: format_go_duration(stack.cluster_state_interval),
        node_conditions_to_report: NODE_CONDITIONS.to_vec(),
        k8s_leader_elector: elector,
        // Why a container last stopped (`OOMKilled`, `Error`), on every container
        // series: what `KubernetesContainerOomKilled` reads.
        resource_attributes: BTreeMap::from([(
            "k8s.container.status.last_terminated_reason",
            Toggle { enabled: true },
        )]),
    });
    let field_selector = (!spec.events.exclude_namespaces.is_empty()).then(|| {
        spec.events
            .exclude_namespaces
            .iter()
            .map(|ns| format!("metadata.namespace!={ns}"))
            .collect::<Vec<_>>()
            .join(",")
    });
    let k8s_objects = events.then(|| K8sObjects {
        auth_type: "serviceAccount",
        k8s_leader_elector: elector,
        objects: vec![WatchedObject {
            name: "events",
            group: "events.k8s.io",
            mode: "watch",
            exclude_watch_type: vec!["DELETED"],
            field_selector,
        }],
    });

    let exporter = [TO_GATEWAY];
    let mut pipelines = BTreeMap::new();
    if state {
        pipelines.insert(
            "metrics",
            pipeline(&["k8s_cluster"], &["memory_limiter", "batch"], &exporter),
        );
    }
    if events {
        pipelines.insert(
            "logs",
            pipeline(
                &["k8s_objects"],
                &["memory_limiter", "resource/events", "batch"],
                &exporter,
            ),
        );
    }

    Config {
        extensions: Extensions {
            health_check: health_check(),
            k8s_leader_elector: LeaderElector {
                auth_type: "serviceAccount",
                lease_name: lease_name(stack),
                lease_namespace: stack.namespace.clone(),
                lease_duration: "15s",
                renew_deadline: "10s",
                retry_period: "2s",
            },
        },
        receivers: Receivers {
            k8s_cluster,
            k8s_objects,
        },
        processors: Processors {
            memory_limiter: memory_limiter(memory_limit_bytes),
            events_resource: events.then(|| ResourceProcessor {
                attributes: vec![AttributeAction {
                    key: "service.name".into(),
                    value: EVENTS_SERVICE.into(),
                    action: "insert".into(),
                }],
            }),
            batch: batch(),
        },
        exporters: to_gateway(stack, None),
        service: ForwarderService {
            extensions: vec!["health_check", elector],
            telemetry: telemetry(),
            pipelines,
        },
    }
}
