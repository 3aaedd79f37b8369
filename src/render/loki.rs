//! The Loki configuration: single binary, on its volume or the object store, as
//! one instance or as monolithic replicas in a memberlist ring.
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
//!
//! More than one replica runs the same single binary (`-target=all`) on each
//! pod, joined by memberlist on the shared object store: the HA monolithic mode
//! of docs/sources/get-started/deployment-modes.md at v3.7.6, which also says
//! the simple scalable mode (read, write and backend targets) "is being
//! deprecated and will be removed with the Loki 4.0 release". Each replica runs
//! its own query frontend and scheduler; with no frontend or scheduler address
//! set, the schedulers find each other through their ring
//! (`QueryScheduler.UseSchedulerRing`, `pkg/loki/config_wrapper.go`).

use serde::Serialize;

use crate::model::ports;
use crate::model::{Component, ValidatedStack};
use crate::units::format_go_duration;

/// Where Loki keeps its data, on the `data` volume.
pub const DATA_DIR: &str = "/var/loki";

/// `loki.yaml`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Config {
    auth_enabled: bool,
    server: super::Server,
    common: Common,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage_config: Option<StorageConfig>,
    schema_config: SchemaConfig,
    compactor: Compactor,
    limits_config: Limits,
    #[serde(skip_serializing_if = "Option::is_none")]
    memberlist: Option<super::Memberlist>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ingester: Option<Ingester>,
    analytics: Analytics,
}

/// `ingester` of a clustered Loki: a replica that stops flushes what it holds
/// (`pkg/ingester/wal.go`, `flush_on_shutdown`), so that a scale-down leaves no
/// logs only in the write-ahead log of a pod that will not come back.
#[derive(Serialize, Debug, Clone, PartialEq)]
struct Ingester {
    wal: IngesterWal,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct IngesterWal {
    flush_on_shutdown: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Common {
    /// One instance: loopback. Clustered: unset, so that each ring and
    /// memberlist advertise the pod's address, found on the first of
    /// `instance_interface_names` (`eth0`, `en0`, then `lo`: `pkg/loki/common`
    /// and `appendLoopbackInterface` in `pkg/loki/config_wrapper.go`).
    #[serde(skip_serializing_if = "Option::is_none")]
    instance_addr: Option<String>,
    path_prefix: String,
    replication_factor: u32,
    storage: CommonStorage,
    ring: Ring,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct CommonStorage {
    #[serde(skip_serializing_if = "Option::is_none")]
    filesystem: Option<Filesystem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    s3: Option<S3>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gcs: Option<Gcs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    azure: Option<Azure>,
}

/// `common.storage.s3`, copied by Loki into `storage_config.aws` (the legacy
/// AWS SDK client; `storage_config.use_thanos_objstore` is false by default):
/// grafana/loki v3.7.6 `pkg/storage/chunk/client/aws/s3_storage_client.go`
/// (`S3Config`). The keys stay empty: with neither set the SDK's default chain
/// reads `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` from the environment, or
/// the web identity token of IRSA (`buildS3Client`).
#[derive(Serialize, Debug, Clone, PartialEq)]
struct S3 {
    bucketnames: String,
    endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    s3forcepathstyle: bool,
    insecure: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_config: Option<S3Http>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct S3Http {
    ca_file: String,
}

/// `common.storage.gcs` (`pkg/storage/chunk/client/gcp/gcs_object_client.go`):
/// without `service_account`, Google's application default credentials
/// (`GOOGLE_APPLICATION_CREDENTIALS`, or GKE's workload identity).
#[derive(Serialize, Debug, Clone, PartialEq)]
struct Gcs {
    bucket_name: String,
}

/// `common.storage.azure` (`pkg/storage/chunk/client/azure/blob_storage_client.go`):
/// the account key when one is given (it has no environment fallback, so it is
/// expanded from the environment by `-config.expand-env`), else the federated
/// token of Azure workload identity (`use_federated_token`).
#[derive(Serialize, Debug, Clone, PartialEq)]
struct Azure {
    account_name: String,
    container_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint_suffix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_key: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    use_federated_token: bool,
}

/// `storage_config.filesystem`: set beside an object store only to keep reading
/// the logs of the first schema period from the volume (each period builds the
/// client of its own `object_store`: `pkg/storage/store.go`, `storeForPeriod`).
#[derive(Serialize, Debug, Clone, PartialEq)]
struct StorageConfig {
    filesystem: Directory,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Directory {
    directory: String,
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
    /// Loki's MB is 2^20 bytes (`bytesInMB` in `pkg/validation/limits.go`).
    ingestion_rate_mb: f64,
    ingestion_burst_size_mb: f64,
    max_global_streams_per_user: u32,
    /// `flagext.ByteSize`, parsed by c2h5oh/datasize (`KB` = 1024, `MB` = 2^20,
    /// `B` or no unit = bytes: `vendor/github.com/c2h5oh/datasize/datasize.go`).
    per_stream_rate_limit: String,
    per_stream_rate_limit_burst: String,
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
    let clustered = stack.clustered(Component::Loki);
    let chunks_directory = format!("{DATA_DIR}/chunks");
    let period = |from: &str, object_store: &str| PeriodConfig {
        from: from.into(),
        store: "tsdb".into(),
        object_store: object_store.into(),
        schema: "v13".into(),
        index: IndexConfig {
            prefix: "index_".into(),
            period: "24h".into(),
        },
    };
    let object_store = stack.spec.storage.object_store.as_ref();
    let (storage, storage_config, periods, delete_store) = match object_store {
        None => (
            CommonStorage {
                filesystem: Some(Filesystem {
                    chunks_directory,
                    rules_directory: format!("{DATA_DIR}/rules"),
                }),
                s3: None,
                gcs: None,
                azure: None,
            },
            None,
            // Fixed: changing a period's start would orphan stored data.
            vec![period(FIRST_PERIOD, "filesystem")],
            "filesystem",
        ),
        Some(o) => {
            let bucket = o.buckets.logs.clone().unwrap_or_default();
            let (storage, name) = object_storage(o, bucket);
            match &o.logs_since {
                // A running stack that moved: its older logs stay on the volume.
                Some(since) => (
                    storage,
                    Some(StorageConfig {
                        filesystem: Directory {
                            directory: chunks_directory,
                        },
                    }),
                    vec![period(FIRST_PERIOD, "filesystem"), period(since, name)],
                    name,
                ),
                None => (storage, None, vec![period(FIRST_PERIOD, name)], name),
            }
        }
    };
    Config {
        auth_enabled: false,
        server: super::Server {
            http_listen_port: ports::LOKI_HTTP,
            grpc_listen_port: ports::LOKI_GRPC,
            log_level: "info".into(),
        },
        common: Common {
            instance_addr: (!clustered).then(|| "127.0.0.1".into()),
            path_prefix: DATA_DIR.into(),
            // `common.replication_factor` and `common.ring` reach every ring,
            // the ingesters' and the compactor's (which elects the one replica
            // that compacts and applies retention) among them
            // (`applyIngesterReplicationFactor`, `applyDynamicRingConfigs`).
            replication_factor: if clustered {
                super::CLUSTER_REPLICATION_FACTOR
            } else {
                1
            },
            storage,
            ring: Ring {
                kvstore: KvStore {
                    store: if clustered { "memberlist" } else { "inmemory" }.into(),
                },
            },
        },
        storage_config,
        schema_config: SchemaConfig { configs: periods },
        compactor: Compactor {
            working_directory: format!("{DATA_DIR}/compactor"),
            compaction_interval: "10m".into(),
            retention_enabled: true,
            retention_delete_delay: "2h".into(),
            delete_request_store: delete_store.into(),
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
            ingestion_rate_mb: mb(stack.loki_limits.ingestion_rate),
            ingestion_burst_size_mb: mb(stack.loki_limits.ingestion_burst),
            max_global_streams_per_user: stack.spec.loki.limits.max_streams,
            per_stream_rate_limit: datasize(stack.loki_limits.per_stream_rate),
            per_stream_rate_limit_burst: datasize(stack.loki_limits.per_stream_burst),
            otlp_config: OtlpConfig {
                resource_attributes: ResourceAttributes {
                    attributes_config: vec![AttributesConfig {
                        action: "index_label",
                        attributes: EXTRA_INDEX_LABELS.to_vec(),
                    }],
                },
            },
        },
        memberlist: clustered.then(|| super::Memberlist::of(stack, Component::Loki)),
        ingester: clustered.then_some(Ingester {
            wal: IngesterWal {
                flush_on_shutdown: true,
            },
        }),
        analytics: Analytics {
            reporting_enabled: false,
        },
    }
}

/// The start of the first schema period (and of the only one, unless
/// `objectStore.logsSince` adds a second).
const FIRST_PERIOD: &str = crate::model::FIRST_LOKI_PERIOD;

/// `common.storage` for the object store, and the store's name in a schema
/// period and `compactor.delete_request_store` (`pkg/storage/types/types.go`:
/// `s3`, `gcs` and `azure` are among the names `validateSchemaValues` accepts;
/// the compactor builds one client per period, `pkg/loki/modules.go`
/// `initCompactor`).
fn object_storage(
    o: &crate::api::ObjectStoreSpec,
    bucket: String,
) -> (CommonStorage, &'static str) {
    let none = CommonStorage {
        filesystem: None,
        s3: None,
        gcs: None,
        azure: None,
    };
    if let Some(s3) = &o.s3 {
        let s3 = S3 {
            bucketnames: bucket,
            endpoint: crate::model::object_store::s3_endpoint(s3),
            region: s3.region.clone(),
            s3forcepathstyle: s3.force_path_style,
            insecure: s3.insecure,
            http_config: s3.ca_secret_name.as_ref().map(|_| S3Http {
                ca_file: crate::model::object_store::ca_file(),
            }),
        };
        return (
            CommonStorage {
                s3: Some(s3),
                ..none
            },
            "s3",
        );
    }
    if let Some(a) = &o.azure {
        let keyed = o.credentials_secret.is_some();
        let azure = Azure {
            account_name: a.account_name.clone(),
            container_name: bucket,
            endpoint_suffix: a.endpoint_suffix.clone(),
            account_key: keyed.then(|| crate::model::object_store::AZURE_KEY_PLACEHOLDER.into()),
            use_federated_token: !keyed,
        };
        return (
            CommonStorage {
                azure: Some(azure),
                ..none
            },
            "azure",
        );
    }
    (
        CommonStorage {
            gcs: Some(Gcs {
                bucket_name: bucket,
            }),
            ..none
        },
        "gcs",
    )
}

/// Bytes in Loki's MB (2^20), as a float.
fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// Bytes as datasize writes them, in the largest unit that divides them.
fn datasize(bytes: u64) -> String {
    match bytes {
        b if b > 0 && b % (1 << 20) == 0 => format!("{}MB", b >> 20),
        b if b > 0 && b % (1 << 10) == 0 => format!("{}KB", b >> 10),
        b => format!("{b}B"),
    }
}
