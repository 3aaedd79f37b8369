//! Names, labels, annotations, ports and identifiers that every layer agrees on:
//! how a child is named and labelled, where a component's Service answers, the
//! datasource UIDs dashboards refer to, and the default Grafana folder.

use std::collections::BTreeMap;

use super::component::Component;

/// Pod-template annotation holding the hash of the configuration a pod runs with;
/// a change rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "observability.sextant.dev/config-hash";
/// The `service.name` the cluster collector gives the Kubernetes events' log
/// records: Loki's `service_name` label of the event stream (without it Loki
/// files them under `unknown_service`).
pub const EVENTS_SERVICE: &str = "kubernetes-events";
/// Annotation holding the hash of what sextant last applied to a child.
pub const APPLIED_HASH_ANNOTATION: &str = "observability.sextant.dev/applied-hash";
/// ConfigMap annotation naming the Grafana folder of the dashboards it holds.
pub const FOLDER_ANNOTATION: &str = "observability.sextant.dev/folder";
/// Label on cluster-scoped children (ClusterRoleBindings) naming the stack's
/// namespace: they cannot carry an ownerReference to a namespaced stack, so the
/// namespace and instance labels are how sextant finds them to prune or delete.
pub const STACK_NAMESPACE_LABEL: &str = "observability.sextant.dev/stack-namespace";
/// The Grafana folder of built-in and default dashboards, and of provisioned alert rules.
pub const FOLDER: &str = "sextant";

/// Fixed Grafana datasource UIDs: dashboards and links refer to these.
pub mod uid {
    /// Prometheus.
    pub const PROMETHEUS: &str = "sextant-prometheus";
    /// Tempo.
    pub const TEMPO: &str = "sextant-tempo";
    /// Loki.
    pub const LOKI: &str = "sextant-loki";
}

/// Ports, fixed across the stack.
pub mod ports {
    /// OTLP over gRPC (collector in, Tempo in).
    pub const OTLP_GRPC: i32 = 4317;
    /// OTLP over HTTP (collector in).
    pub const OTLP_HTTP: i32 = 4318;
    /// OTLP over gRPC from the node agents and the cluster collector (collector in).
    pub const OTLP_NODE: i32 = 4319;
    /// The collector's health_check extension.
    pub const COLLECTOR_HEALTH: i32 = 13133;
    /// The collector's own metrics.
    pub const COLLECTOR_METRICS: i32 = 8888;
    /// Prometheus HTTP.
    pub const PROMETHEUS: i32 = 9090;
    /// The Thanos sidecar's gRPC StoreAPI beside each Prometheus replica, which
    /// the Query reads (thanos-io/thanos v0.42.4 `cmd/thanos/config.go`, the
    /// default `--grpc-address`).
    pub const THANOS_GRPC: i32 = 10901;
    /// HTTP of the Thanos sidecar (health, readiness) and of the Query (the
    /// Prometheus HTTP API Grafana and the probe read); the default
    /// `--http-address` of both.
    pub const THANOS_HTTP: i32 = 10902;
    /// Tempo HTTP.
    pub const TEMPO_HTTP: i32 = 3200;
    /// Tempo internal gRPC.
    pub const TEMPO_GRPC: i32 = 9095;
    /// Loki HTTP.
    pub const LOKI_HTTP: i32 = 3100;
    /// Loki internal gRPC.
    pub const LOKI_GRPC: i32 = 9096;
    /// Grafana HTTP.
    pub const GRAFANA: i32 = 3000;
    /// Memberlist gossip of clustered Loki and Tempo (TCP only: dskit's
    /// memberlist sends packets over its TCP transport too, grafana/loki v3.7.6
    /// `vendor/github.com/grafana/dskit/kv/memberlist/tcp_transport.go`; 7946 is
    /// its default `bind_port`).
    pub const MEMBERLIST: i32 = 7946;
}

/// Suffix of the headless Service of a clustered Loki or Tempo.
pub const MEMBERS_SUFFIX: &str = "members";

/// Suffix of the Thanos Query in front of Prometheus replicas > 1: its
/// Deployment, Service, ServiceAccount and PodDisruptionBudget, and the
/// `app.kubernetes.io/name` of its pods (`prometheus-query`).
pub const QUERY_SUFFIX: &str = "query";

/// `<stack>-<component>` plus an optional suffix such as `config`.
pub fn child_name(stack: &str, component: Component, suffix: Option<&str>) -> String {
    match suffix {
        Some(s) => format!("{stack}-{}-{s}", component.name()),
        None => format!("{stack}-{}", component.name()),
    }
}

/// The labels that select one component's pods; stable for the life of the workload.
pub fn selector_labels(stack: &str, component: Component) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), component.name().into()),
        ("app.kubernetes.io/instance".into(), stack.into()),
    ])
}

/// The labels that select the Thanos Query pods of a stack's Prometheus
/// replicas: not Prometheus's, so that neither its StatefulSet, Service nor
/// budget counts them.
pub fn query_selector_labels(stack: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".into(),
            format!("{}-{QUERY_SUFFIX}", Component::Prometheus.name()),
        ),
        ("app.kubernetes.io/instance".into(), stack.into()),
    ])
}

/// The labels of the Thanos Query children: the stack's, its selector, and
/// component `query`.
pub fn query_labels(stack: &str) -> BTreeMap<String, String> {
    let mut l = stack_labels(stack);
    l.extend(query_selector_labels(stack));
    l.insert("app.kubernetes.io/component".into(), QUERY_SUFFIX.into());
    l
}

/// The labels that mark every child of a stack (used to find children to prune).
pub fn stack_labels(stack: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/instance".into(), stack.into()),
        ("app.kubernetes.io/part-of".into(), "sextant".into()),
        ("app.kubernetes.io/managed-by".into(), "sextant".into()),
    ])
}

/// Every label a child of `component` carries.
pub fn labels(stack: &str, component: Component) -> BTreeMap<String, String> {
    let mut l = stack_labels(stack);
    l.extend(selector_labels(stack, component));
    l.insert(
        "app.kubernetes.io/component".into(),
        component.role().into(),
    );
    l
}

/// The labels of a stack's cluster-scoped children: the stack's labels and its
/// namespace.
pub fn cluster_child_labels(stack: &str, namespace: &str) -> BTreeMap<String, String> {
    let mut l = stack_labels(stack);
    l.insert(STACK_NAMESPACE_LABEL.into(), namespace.into());
    l
}

/// The name of a stack's ClusterRoleBinding for `grant` (`node-agent`,
/// `k8s-metadata`): `sextant:<namespace>:<stack>:<grant>`. A colon cannot occur in
/// a namespace or stack name, so two stacks never share one; RBAC object names
/// are path segments, which allow it (as `system:node` does).
pub fn cluster_binding_name(namespace: &str, stack: &str, grant: &str) -> String {
    format!("sextant:{namespace}:{stack}:{grant}")
}

/// In-cluster DNS name of a component's Service.
pub fn service_host(stack: &str, namespace: &str, component: Component) -> String {
    format!("{}.{namespace}.svc", child_name(stack, component, None))
}
