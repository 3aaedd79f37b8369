//! Typed configuration files of the backends, rendered deterministically.
//!
//! Each submodule holds serde structs that mirror the upstream configuration
//! schema of the pinned image version (named at the top of each file) and a
//! function from a `crate::model::ValidatedStack` to that config. Struct fields serialize in
//! declaration order and maps are `BTreeMap`s, so the same stack always renders
//! the same bytes. Nothing here talks to a cluster.

pub mod cluster_collector;
pub mod grafana;
pub mod k8s_metadata;
pub mod loki;
pub mod monitors;
pub mod node_agent;
pub mod otelcol;
pub mod prometheus;
pub mod tempo;

/// The `server` block Loki and Tempo share: both embed grafana/dskit's
/// `server.Config` under `server` (grafana/loki v3.7.6 `pkg/loki/loki.go`,
/// grafana/tempo v2.10.8 `cmd/tempo/app/config.go`), whose vendored copy at those
/// tags (`vendor/github.com/grafana/dskit/server/server.go`) reads these three
/// keys as `http_listen_port`, `grpc_listen_port` and `log_level`.
#[derive(serde::Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Server {
    pub http_listen_port: i32,
    pub grpc_listen_port: i32,
    pub log_level: String,
}

/// Serializes a config struct to YAML.
pub fn to_yaml<T: serde::Serialize>(value: &T) -> String {
    // Serializing plain structs, strings, numbers and BTreeMaps cannot fail.
    serde_yaml_ng::to_string(value).unwrap_or_default()
}
