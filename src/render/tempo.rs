//! The Tempo configuration: monolithic on its volume or the object store, or,
//! with more than one replica, scalable monolithic (`-target=scalable-single-binary`).
//!
//! Schema: Grafana Tempo 2.x at the version pinned in `crate::model::images::TEMPO`,
//! docs/sources/tempo/configuration/_index.md of that release ("Configure Tempo"),
//! with the metrics-generator as described in
//! docs/sources/tempo/metrics-generator/_index.md and the per-tenant overrides in
//! the "standard overrides" format. Source read at grafana/tempo v2.10.8:
//! `cmd/tempo/app/config.go` and `app.go` (`shutdown_delay`), the query-frontend
//! queue's shutdown (`modules/frontend/queue/queue.go`, see [`SHUTDOWN_DELAY`]),
//! and the generator's metric names and exemplar label
//! (`modules/generator/processor/spanmetrics/spanmetrics.go`,
//! `modules/generator/registry/histogram.go`).
//!
//! Scalable monolithic mode is the one docs/sources/tempo/set-up-for-tracing/
//! setup-tempo/plan/deployment-modes.md documents for scaling one binary out
//! (example/docker-compose/scalable-single-binary at v2.10.8 is its reference
//! config): every module on every pod, the ingester, generator, distributor and
//! compactor rings on memberlist (their defaults outside the single binary:
//! `modules/ingester/config.go`, `pkg/ring/config.go`,
//! `modules/distributor/config.go`; the compactor's in `initCompactor`,
//! `cmd/tempo/app/modules.go`), the compactors sharing the blocks by that ring.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::Component;
use crate::model::ValidatedStack;
use crate::model::ports;
use crate::units::format_go_duration;

/// Where Tempo keeps its data, on the `data` volume.
pub const DATA_DIR: &str = "/var/tempo";

/// How long Tempo keeps serving after SIGTERM before it stops its modules.
///
/// Tempo 2.10.8 can hang in shutdown once it has served a query: the
/// query-frontend's queue `stopping` waits, with no timeout, until its map of
/// per-tenant queues is empty, but empty queues are removed only by a 30 s cleanup
/// timer that has already stopped by then (grafana/tempo at v2.10.8
/// `modules/frontend/queue/queue.go`: `cleanupQueues` every 30 s, and `stopping`
/// waits on `q.queues.len() > 0`; `user_queues.go` counts empty queues). No setting
/// removes the wait: the frontend is always built in single-binary mode
/// (`modules/frontend/config.go`), and the server's graceful shutdown is reached
/// only after it (`cmd/tempo/app/modules.go`). `shutdown_delay`
/// (`cmd/tempo/app/app.go`: after SIGTERM, report not ready and keep every module
/// running for the delay) lets that timer run once more, so a Tempo that received
/// no query in the last 30 s of the delay stops cleanly and flushes. A query that
/// still arrives during the delay (an open connection) can bring the hang back; the
/// pod is then killed at the end of its grace period and the WAL replays the traces
/// on the next start (nothing is lost; the shutdown flush is not done).
pub const SHUTDOWN_DELAY: &str = "40s";
/// Tempo's grace period: the shutdown delay, then a minute to flush.
pub const TERMINATION_GRACE_SECONDS: i64 = 100;

/// `tempo.yaml`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Config {
    shutdown_delay: String,
    stream_over_http_enabled: bool,
    server: super::Server,
    distributor: Distributor,
    ingester: Ingester,
    #[serde(skip_serializing_if = "Option::is_none")]
    querier: Option<Querier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memberlist: Option<super::Memberlist>,
    compactor: Compactor,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_generator: Option<MetricsGenerator>,
    storage: Storage,
    overrides: Overrides,
    usage_report: UsageReport,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Distributor {
    receivers: Receivers,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Receivers {
    otlp: OtlpReceiver,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct OtlpReceiver {
    protocols: Protocols,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Protocols {
    grpc: Endpoint,
    http: Endpoint,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Endpoint {
    endpoint: String,
}

/// `ingester` (`modules/ingester/config.go`). Clustered: each trace on 3
/// ingesters of the ring (the default is 1, and the single binary forces 1,
/// `cmd/tempo/main.go`), and a replica that stops flushes its blocks
/// (`flush_all_on_shutdown`) so that a scale-down strands none in a WAL.
#[derive(Serialize, Debug, Clone, PartialEq)]
struct Ingester {
    max_block_duration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    lifecycler: Option<Lifecycler>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    flush_all_on_shutdown: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Lifecycler {
    ring: IngesterRing,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct IngesterRing {
    replication_factor: u32,
}

/// `querier.frontend_worker` (`modules/querier/worker/worker.go`): the
/// scalable mode needs the frontend's address (`initQuerier` in
/// `cmd/tempo/app/modules.go` defaults it to loopback only for the single
/// binary); a DNS name is watched and every address it resolves to is
/// connected (`util.NewDNSWatcher`), here every pod's through the members
/// Service, whatever replica a query reached.
#[derive(Serialize, Debug, Clone, PartialEq)]
struct Querier {
    frontend_worker: FrontendWorker,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct FrontendWorker {
    frontend_address: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Compactor {
    compaction: Compaction,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Compaction {
    block_retention: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct MetricsGenerator {
    registry: Registry,
    storage: GeneratorStorage,
    traces_storage: Path,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Registry {
    external_labels: BTreeMap<String, String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct GeneratorStorage {
    path: String,
    remote_write: Vec<RemoteWrite>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct RemoteWrite {
    url: String,
    send_exemplars: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Path {
    path: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Storage {
    trace: TraceStorage,
}

/// `storage.trace` (grafana/tempo v2.10.8 `tempodb/config.go`): the WAL stays
/// on the volume whatever the backend.
#[derive(Serialize, Debug, Clone, PartialEq)]
struct TraceStorage {
    backend: String,
    wal: Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    local: Option<Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    s3: Option<S3>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gcs: Option<Gcs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    azure: Option<Azure>,
}

/// `storage.trace.s3` (`tempodb/backend/s3/config.go`). The endpoint goes to
/// minio-go's `NewCore` as a bare host (`tempodb/backend/s3/s3.go`,
/// `createCore`). The keys stay empty: `fetchCreds` then takes the next
/// provider of its chain, `EnvAWS` (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`),
/// and ends at `IAM`, which covers IRSA's web identity token. The CA is dskit's
/// `tls.ClientConfig`, inlined (`tls_ca_path`).
#[derive(Serialize, Debug, Clone, PartialEq)]
struct S3 {
    bucket: String,
    endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    forcepathstyle: bool,
    insecure: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_ca_path: Option<String>,
}

/// `storage.trace.gcs` (`tempodb/backend/gcs/config.go`): application default
/// credentials (`tempodb/backend/gcs/gcs.go` adds no credentials option).
#[derive(Serialize, Debug, Clone, PartialEq)]
struct Gcs {
    bucket_name: String,
}

/// `storage.trace.azure` (`tempodb/backend/azure/config.go`): without
/// `storage_account_key` the key is read from `AZURE_STORAGE_KEY`
/// (`tempodb/backend/azure/azure_helpers.go`, `getStorageAccountKey`);
/// `use_federated_token` is Azure workload identity
/// (`azidentity.NewWorkloadIdentityCredential`).
#[derive(Serialize, Debug, Clone, PartialEq)]
struct Azure {
    storage_account_name: String,
    container_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint_suffix: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    use_federated_token: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Overrides {
    defaults: OverrideDefaults,
}

/// `overrides.defaults` in the standard format (grafana/tempo v2.10.8
/// `modules/overrides/config.go`: `Overrides`, `IngestionOverrides`,
/// `GlobalOverrides`, `MetricsGeneratorOverrides`). Keys left out keep the
/// defaults Tempo registers first (`RegisterFlagsAndApplyDefaults`).
#[derive(Serialize, Debug, Clone, PartialEq)]
struct OverrideDefaults {
    ingestion: IngestionOverrides,
    global: GlobalOverrides,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_generator: Option<GeneratorOverrides>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct IngestionOverrides {
    /// Clustered: `global`, the limits shared by the distributors of the ring
    /// (each allows its share), so that they stay the stack's whole; the
    /// default `local` would allow them once per replica
    /// (`distributor.rate-limit-strategy` in `modules/overrides/config.go`).
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_strategy: Option<&'static str>,
    rate_limit_bytes: u64,
    burst_size_bytes: u64,
    max_traces_per_user: u32,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct GlobalOverrides {
    max_bytes_per_trace: u64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct GeneratorOverrides {
    processors: Vec<String>,
    /// 0 is no limit (`modules/generator/localserieslimiter`), as is the key's
    /// absence (`omitempty`).
    max_active_series: u32,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct UsageReport {
    reporting_enabled: bool,
}

/// Renders `tempo.yaml`.
pub fn render(stack: &ValidatedStack) -> Config {
    let generator = stack.tempo_generator();
    let clustered = stack.clustered(Component::Tempo);
    Config {
        shutdown_delay: SHUTDOWN_DELAY.into(),
        stream_over_http_enabled: true,
        server: super::Server {
            http_listen_port: ports::TEMPO_HTTP,
            grpc_listen_port: ports::TEMPO_GRPC,
            log_level: "info".into(),
        },
        distributor: Distributor {
            receivers: Receivers {
                otlp: OtlpReceiver {
                    protocols: Protocols {
                        grpc: Endpoint {
                            endpoint: format!("0.0.0.0:{}", ports::OTLP_GRPC),
                        },
                        http: Endpoint {
                            endpoint: format!("0.0.0.0:{}", ports::OTLP_HTTP),
                        },
                    },
                },
            },
        },
        ingester: Ingester {
            max_block_duration: "5m".into(),
            lifecycler: clustered.then_some(Lifecycler {
                ring: IngesterRing {
                    replication_factor: super::CLUSTER_REPLICATION_FACTOR,
                },
            }),
            flush_all_on_shutdown: clustered,
        },
        querier: clustered.then(|| Querier {
            frontend_worker: FrontendWorker {
                frontend_address: format!(
                    "{}:{}",
                    stack.members_host(Component::Tempo),
                    ports::TEMPO_GRPC
                ),
            },
        }),
        memberlist: clustered.then(|| super::Memberlist::of(stack, Component::Tempo)),
        compactor: Compactor {
            compaction: Compaction {
                block_retention: format_go_duration(stack.traces_retention),
            },
        },
        metrics_generator: generator.then(|| MetricsGenerator {
            registry: Registry {
                external_labels: BTreeMap::from([
                    ("source".into(), "tempo".into()),
                    ("sextant_stack".into(), stack.name.clone()),
                ]),
            },
            storage: GeneratorStorage {
                path: format!("{DATA_DIR}/generator/wal"),
                // Every replica of Prometheus, each through its own Service.
                remote_write: stack
                    .prometheus_write_hosts()
                    .into_iter()
                    .map(|(_, host)| RemoteWrite {
                        url: format!("http://{host}:{}/api/v1/write", ports::PROMETHEUS),
                        send_exemplars: true,
                    })
                    .collect(),
            },
            traces_storage: Path {
                path: format!("{DATA_DIR}/generator/traces"),
            },
        }),
        storage: Storage {
            trace: trace_storage(stack),
        },
        overrides: Overrides {
            defaults: OverrideDefaults {
                ingestion: IngestionOverrides {
                    rate_strategy: clustered.then_some("global"),
                    rate_limit_bytes: stack.tempo_limits.ingestion_rate,
                    burst_size_bytes: stack.tempo_limits.ingestion_burst,
                    max_traces_per_user: stack.spec.tempo.limits.max_live_traces,
                },
                global: GlobalOverrides {
                    max_bytes_per_trace: stack.tempo_limits.max_trace_size,
                },
                metrics_generator: generator.then(|| GeneratorOverrides {
                    processors: vec![
                        "service-graphs".into(),
                        "span-metrics".into(),
                        "local-blocks".into(),
                    ],
                    max_active_series: stack.spec.tempo.limits.max_generator_series,
                }),
            },
        },
        usage_report: UsageReport {
            reporting_enabled: false,
        },
    }
}

/// Where the blocks go: the volume, or `spec.storage.objectStore`.
fn trace_storage(stack: &ValidatedStack) -> TraceStorage {
    let mut t = TraceStorage {
        backend: "local".into(),
        wal: Path {
            path: format!("{DATA_DIR}/wal"),
        },
        local: None,
        s3: None,
        gcs: None,
        azure: None,
    };
    let Some(o) = &stack.spec.storage.object_store else {
        t.local = Some(Path {
            path: format!("{DATA_DIR}/blocks"),
        });
        return t;
    };
    let bucket = o.buckets.traces.clone().unwrap_or_default();
    if let Some(s3) = &o.s3 {
        t.backend = "s3".into();
        t.s3 = Some(S3 {
            bucket,
            endpoint: crate::model::object_store::s3_endpoint(s3),
            region: s3.region.clone(),
            forcepathstyle: s3.force_path_style,
            insecure: s3.insecure,
            tls_ca_path: s3
                .ca_secret_name
                .as_ref()
                .map(|_| crate::model::object_store::ca_file()),
        });
    } else if let Some(a) = &o.azure {
        t.backend = "azure".into();
        t.azure = Some(Azure {
            storage_account_name: a.account_name.clone(),
            container_name: bucket,
            endpoint_suffix: a.endpoint_suffix.clone(),
            use_federated_token: o.credentials_secret.is_none(),
        });
    } else {
        t.backend = "gcs".into();
        t.gcs = Some(Gcs {
            bucket_name: bucket,
        });
    }
    t
}
