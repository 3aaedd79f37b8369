//! Typed configuration files of the backends, rendered deterministically.
//!
//! Each submodule holds serde structs that mirror the upstream configuration
//! schema of the pinned image version (named at the top of each file) and a
//! function from a `ValidatedStack` to that config. Struct fields serialize in
//! declaration order and maps are `BTreeMap`s, so the same stack always renders
//! the same bytes. Nothing here talks to a cluster.

pub mod grafana;
pub mod loki;
pub mod otelcol;
pub mod prometheus;
pub mod tempo;

use crate::build::{Component, child_name};
use crate::validate::ValidatedStack;

/// Serializes a config struct to YAML.
pub fn to_yaml<T: serde::Serialize>(value: &T) -> String {
    // Serializing plain structs, strings, numbers and BTreeMaps cannot fail.
    serde_yaml_ng::to_string(value).unwrap_or_default()
}

/// In-cluster DNS name of a component's Service.
pub fn service_host(stack: &ValidatedStack, component: Component) -> String {
    format!(
        "{}.{}.svc",
        child_name(&stack.name, component, None),
        stack.namespace
    )
}

/// Ports, fixed across the stack.
pub mod ports {
    /// OTLP over gRPC (collector in, Tempo in).
    pub const OTLP_GRPC: i32 = 4317;
    /// OTLP over HTTP (collector in).
    pub const OTLP_HTTP: i32 = 4318;
    /// The collector's health_check extension.
    pub const COLLECTOR_HEALTH: i32 = 13133;
    /// The collector's own metrics.
    pub const COLLECTOR_METRICS: i32 = 8888;
    /// Prometheus HTTP.
    pub const PROMETHEUS: i32 = 9090;
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
}
