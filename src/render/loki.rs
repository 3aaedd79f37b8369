//! The Loki configuration (single binary, filesystem storage).
//!
//! Schema: Grafana Loki 3.x at the version pinned in `crate::model::images::LOKI`,
//! docs/sources/shared/configuration.md of that release ("Grafana Loki configuration
//! parameters"), with retention as in docs/sources/operations/storage/retention.md
//! (compactor retention, `retention_period`, `retention_stream`) and OTLP ingestion
//! as in docs/sources/send-data/otel/_index.md (schema v13 with tsdb, structured
//! metadata allowed). Source read at grafana/loki v3.7.6 (the nearest readable tag):
//! the default OTLP index labels (`pkg/loghttp/push/otlp_config.go`, which the
//! dashboards' `service_name` and `k8s_namespace_name` selectors rely on) and the
//! discard reasons (`pkg/validation/validate.go`). `limits_config.otlp_config`
//! adds `k8s.node.name` to the resource attributes kept as index labels: with
//! `ignore_defaults` unset, Loki puts its default list first
//! (`ApplyGlobalOTLPConfig` in `pkg/loghttp/push/otlp_config.go`, called through
//! `Limits.SetGlobalOTLPConfig` from `cmd/loki/main.go`), so the defaults stay,
//! and the label is named by otlptranslator's `LabelNamer` (`attributeToLabels`
//! in `pkg/loghttp/push/otlp.go`): `k8s_node_name`. A pod runs on one node, so
//! the extra label adds no streams beyond the pod label's.

use serde::Serialize;

use crate::model::ValidatedStack;
use crate::model::ports;
use crate::units::format_go_duration;

/// Where Loki keeps its data, on the `data` volume.
pub const DATA_DIR: &str = "/var/loki";

/// `loki.yaml`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Config {
    auth_enabled: bool,
    server: super::Server,
    common: Common,
    schema_config: SchemaConfig,
    compactor: Compactor,
    limits_config: Limits,
    analytics: Analytics,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Common {
    instance_addr: String,
    path_prefix: String,
    replication_factor: u32,
    storage: CommonStorage,
    ring: Ring,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct CommonStorage {
    filesystem: Filesystem,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Filesystem {
    chunks_directory: String,
    rules_directory: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Ring {
    kvstore: KvStore,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct KvStore {
    store: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct SchemaConfig {
    configs: Vec<PeriodConfig>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct PeriodConfig {
    from: String,
    store: String,
    object_store: String,
    schema: String,
    index: IndexConfig,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct IndexConfig {
    prefix: String,
    period: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Compactor {
    working_directory: String,
    compaction_interval: String,
    retention_enabled: bool,
    retention_delete_delay: String,
    delete_request_store: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Limits {
    retention_period: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    retention_stream: Vec<StreamRetention>,
    allow_structured_metadata: bool,
    volume_enabled: bool,
    otlp_config: OtlpConfig,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct OtlpConfig {
    resource_attributes: ResourceAttributes,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct ResourceAttributes {
    attributes_config: Vec<AttributesConfig>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct AttributesConfig {
    action: &'static str,
    attributes: Vec<&'static str>,
}

/// Resource attributes Loki indexes besides its defaults (the `k8s.*` names of
/// the pod, namespace and container are among them).
pub const EXTRA_INDEX_LABELS: &[&str] = &["k8s.node.name"];

#[derive(Serialize, Debug, Clone, PartialEq)]
struct StreamRetention {
    selector: String,
    priority: i32,
    period: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Analytics {
    reporting_enabled: bool,
}

/// Renders `loki.yaml`.
pub fn render(stack: &ValidatedStack) -> Config {
    Config {
        auth_enabled: false,
        server: super::Server {
            http_listen_port: ports::LOKI_HTTP,
            grpc_listen_port: ports::LOKI_GRPC,
            log_level: "info".into(),
        },
        common: Common {
            instance_addr: "127.0.0.1".into(),
            path_prefix: DATA_DIR.into(),
            replication_factor: 1,
            storage: CommonStorage {
                filesystem: Filesystem {
                    chunks_directory: format!("{DATA_DIR}/chunks"),
                    rules_directory: format!("{DATA_DIR}/rules"),
                },
            },
            ring: Ring {
                kvstore: KvStore {
                    store: "inmemory".into(),
                },
            },
        },
        schema_config: SchemaConfig {
            configs: vec![PeriodConfig {
                // Fixed: changing a period's start would orphan stored data.
                from: "2024-04-01".into(),
                store: "tsdb".into(),
                object_store: "filesystem".into(),
                schema: "v13".into(),
                index: IndexConfig {
                    prefix: "index_".into(),
                    period: "24h".into(),
                },
            }],
        },
        compactor: Compactor {
            working_directory: format!("{DATA_DIR}/compactor"),
            compaction_interval: "10m".into(),
            retention_enabled: true,
            retention_delete_delay: "2h".into(),
            delete_request_store: "filesystem".into(),
        },
        limits_config: Limits {
            retention_period: format_go_duration(stack.logs_retention),
            retention_stream: stack
                .loki_streams
                .iter()
                .map(|s| StreamRetention {
                    selector: s.selector.clone(),
                    priority: s.priority,
                    period: format_go_duration(s.period),
                })
                .collect(),
            allow_structured_metadata: true,
            volume_enabled: true,
            otlp_config: OtlpConfig {
                resource_attributes: ResourceAttributes {
                    attributes_config: vec![AttributesConfig {
                        action: "index_label",
                        attributes: EXTRA_INDEX_LABELS.to_vec(),
                    }],
                },
            },
        },
        analytics: Analytics {
            reporting_enabled: false,
        },
    }
}
