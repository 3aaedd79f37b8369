//! The OpenTelemetry Collector configuration.
//!
//! Schema: opentelemetry-collector-contrib at the version pinned in
//! `crate::model::images::COLLECTOR`, following the component READMEs of that
//! release: receiver/otlpreceiver, processor/memorylimiterprocessor,
//! processor/batchprocessor, processor/resourceprocessor,
//! processor/probabilisticsamplerprocessor, exporter/otlpexporter (`otlp_grpc`, its name since v0.144),
//! exporter/otlphttpexporter (`otlp_http`), extension/healthcheckextension, and the
//! "Internal telemetry" page of opentelemetry.io/docs/collector. Source read at
//! open-telemetry/opentelemetry-collector v0.159.0: the telemetry reader's naming
//! options (`service/telemetry/otelconftelemetry/internal/migration/v0.3.0.go`,
//! see `PrometheusPull`), `internal/memorylimiter/config.go` (uint32 limits) and
//! `receiver/otlpreceiver/factory.go`; contrib's probabilistic sampler was read in
//! stored copies (`sampler_mode.go`, `config.go`), not at the tag, because the
//! contrib repository is too large to fetch here.

use std::collections::BTreeMap;

use serde::Serialize;

use super::k8s_metadata::{self, K8sAttributes};
use crate::model::Component;
use crate::model::ValidatedStack;
use crate::model::ports;

/// The whole collector config file.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Config {
    extensions: Extensions,
    receivers: Receivers,
    processors: Processors,
    exporters: Exporters,
    service: Service,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Extensions {
    health_check: Endpoint,
    #[serde(
        rename = "bearertokenauth/otlp",
        skip_serializing_if = "Option::is_none"
    )]
    bearer_token: Option<BearerTokenAuth>,
    /// The auth extensions of `spec.export`'s destinations, by id.
    #[serde(flatten)]
    export: BTreeMap<String, ExportAuth>,
}

/// contrib's `bearertokenauth` extension (type name in its
/// `internal/metadata/generated_status.go`; in the contrib manifest of
/// opentelemetry-collector-releases v0.159.0), read in a stored copy of
/// `bearertokenauth.go` (commit 012bf871), not at v0.159.0: with `filename` it
/// reads one token per line, watches the file (a Secret volume's symlink swap
/// included) and re-reads it, and `Authenticate` accepts a request whose
/// `Authorization` header equals `Bearer <token>` for one of them.
#[derive(Serialize, Debug, Clone, PartialEq)]
struct BearerTokenAuth {
    filename: String,
}

/// configauth `Config` (opentelemetry-collector v0.159.0
/// `config/configauth/generated_config.go`): the extension that authenticates
/// a receiver's requests.
#[derive(Serialize, Debug, Clone, PartialEq)]
struct Auth {
    authenticator: &'static str,
}

/// Where the Secret of OTLP tokens is mounted.
pub const AUTH_DIR: &str = "/etc/otelcol/auth";

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(super) struct Endpoint {
    endpoint: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Receivers {
    otlp: OtlpReceiver,
    /// What the node agents send: already matched to its pods by the agent, so it
    /// takes pipelines without `k8s_attributes`, which would match a node's own
    /// metrics to the agent pod that sent them (by connection).
    #[serde(rename = "otlp/node", skip_serializing_if = "Option::is_none")]
    node: Option<OtlpReceiver>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct OtlpReceiver {
    protocols: OtlpProtocols,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct OtlpProtocols {
    grpc: ServerEndpoint,
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<ServerEndpoint>,
}

/// A receiver's listening address, with TLS where asked.
#[derive(Serialize, Debug, Clone, PartialEq)]
struct ServerEndpoint {
    endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<ServerTls>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<Auth>,
}

/// configtls `ServerConfig` (opentelemetry-collector v0.159.0
/// `config/configtls/configtls.go` and `config.schema.yaml`): the certificate is
/// re-read from its files once `reload_interval` has passed since the last read
/// (`certReloader.GetCertificate`), so a renewed Secret, which the kubelet
/// writes into the mounted volume, is served without a restart;
/// `client_ca_file` requires and verifies client certificates, and
/// `client_ca_file_reload` re-reads it when the file changes.
#[derive(Serialize, Debug, Clone, PartialEq)]
struct ServerTls {
    cert_file: String,
    key_file: String,
    reload_interval: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_ca_file: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    client_ca_file_reload: bool,
}

/// Where the collector's serving certificate Secret is mounted.
pub const TLS_DIR: &str = "/etc/otelcol/tls";
/// Where the Secret of client CAs is mounted.
pub const CLIENT_CA_DIR: &str = "/etc/otelcol/client-ca";

fn server_tls(stack: &ValidatedStack) -> Option<ServerTls> {
    stack.spec.collector.tls.as_ref().map(|t| ServerTls {
        cert_file: format!("{TLS_DIR}/tls.crt"),
        key_file: format!("{TLS_DIR}/tls.key"),
        reload_interval: "1m",
        client_ca_file: t
            .client_ca_secret_name
            .as_ref()
            .map(|_| format!("{CLIENT_CA_DIR}/ca.crt")),
        client_ca_file_reload: t.client_ca_secret_name.is_some(),
    })
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Processors {
    memory_limiter: MemoryLimiter,
    #[serde(skip_serializing_if = "Option::is_none")]
    k8s_attributes: Option<K8sAttributes>,
    batch: Batch,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<ResourceProcessor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probabilistic_sampler: Option<ProbabilisticSampler>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(super) struct MemoryLimiter {
    check_interval: String,
    limit_mib: u32,
    spike_limit_mib: u32,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(super) struct Batch {
    send_batch_size: u32,
    send_batch_max_size: u32,
    timeout: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(super) struct ResourceProcessor {
    pub(super) attributes: Vec<AttributeAction>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(super) struct AttributeAction {
    pub(super) key: String,
    pub(super) value: String,
    pub(super) action: String,
}

/// Trace sampling by TraceID. Mode `proportional` (contrib
/// `processor/probabilisticsamplerprocessor`, `sampler_mode.go` and `config.go`,
/// read in stored copies, not at v0.159.0: contrib is too large to fetch here):
/// the decision
/// compares the trace's randomness (the `rv` of its tracestate, else the low 56
/// bits of the TraceID) with a threshold, so every collector replica keeps or drops
/// the same traces with no shared seed, a trace an SDK already sampled keeps a
/// consistent threshold (`th`), and ratios down to 2^-56 can be expressed. The
/// default `hash_seed` mode keeps 14 bits of hash (nothing below 1/16384 is
/// sampled) and, with `fail_closed`, drops every span whose tracestate already
/// carries sampling values. `fail_closed: false`: a span whose randomness cannot
/// be read is kept rather than dropped.
#[derive(Serialize, Debug, Clone, PartialEq)]
struct ProbabilisticSampler {
    mode: String,
    sampling_percentage: f64,
    sampling_precision: u8,
    fail_closed: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Exporters {
    /// `otlp_http/prometheus`, or with Prometheus in replicas one per replica
    /// (`otlp_http/prometheus-<i>`), each in the metrics pipelines: every
    /// replica receives every sample.
    #[serde(flatten)]
    prometheus: BTreeMap<String, OtlpHttpExporter>,
    #[serde(rename = "otlp_http/loki", skip_serializing_if = "Option::is_none")]
    loki: Option<OtlpHttpExporter>,
    #[serde(rename = "otlp_grpc/tempo", skip_serializing_if = "Option::is_none")]
    tempo: Option<OtlpGrpcExporter>,
    /// `spec.export`'s destinations, by exporter id (`crate::model::export`).
    #[serde(flatten)]
    export: BTreeMap<String, ExportExporter>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct OtlpHttpExporter {
    endpoint: String,
    retry_on_failure: Retry,
    sending_queue: Queue,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(super) struct OtlpGrpcExporter {
    endpoint: String,
    tls: Tls,
    retry_on_failure: Retry,
    sending_queue: Queue,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(super) struct Tls {
    insecure: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(super) struct Retry {
    enabled: bool,
    initial_interval: String,
    max_interval: String,
    max_elapsed_time: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(super) struct Queue {
    enabled: bool,
    num_consumers: u32,
    queue_size: u32,
    /// A storage extension that keeps the queue on disk across restarts
    /// (opentelemetry-collector `exporter/exporterhelper` `sending_queue.storage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    storage: Option<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Service {
    extensions: Vec<String>,
    telemetry: Telemetry,
    pipelines: BTreeMap<String, Pipeline>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(super) struct Telemetry {
    logs: TelemetryLogs,
    metrics: TelemetryMetrics,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct TelemetryLogs {
    level: String,
    encoding: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct TelemetryMetrics {
    level: String,
    readers: Vec<MetricReader>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct MetricReader {
    pull: PullReader,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct PullReader {
    exporter: PullExporter,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct PullExporter {
    prometheus: PrometheusPull,
}

/// The collector's own Prometheus endpoint. The three naming options are written out
/// so the names sextant's rules and dashboards query never depend on an upstream
/// default: since v0.152 an explicitly configured pull reader defaults all three to
/// true (opentelemetry-collector
/// `service/telemetry/otelconftelemetry/internal/migration/v0.3.0.go` at v0.159.0),
/// which drops `_total` and unit suffixes. sextant keeps the suffixes (otelconf
/// v0.25.0 `otelconf/v0.3.0/metric.go` picks `NoUTF8EscapingWithSuffixes` unless
/// both suffix options are true): counters end in `_total`, seconds in `_seconds`,
/// bytes in `_bytes`, the same convention as the OTLP metrics Prometheus 3.5
/// translates, so one Prometheus holds one naming convention. No scope labels.
/// The resulting names are listed in `crate::catalogue`.
#[derive(Serialize, Debug, Clone, PartialEq)]
struct PrometheusPull {
    host: String,
    port: i32,
    without_scope_info: bool,
    without_type_suffix: bool,
    without_units: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(super) struct Pipeline {
    receivers: Vec<String>,
    processors: Vec<String>,
    exporters: Vec<String>,
}

fn retry() -> Retry {
    Retry {
        enabled: true,
        initial_interval: "5s".into(),
        max_interval: "30s".into(),
        max_elapsed_time: "300s".into(),
    }
}

fn queue() -> Queue {
    Queue {
        enabled: true,
        num_consumers: 10,
        queue_size: 5000,
        storage: None,
    }
}

/// The one exporter of a collector that forwards to the stack's gateway (the
/// node agent, the cluster collector): `otlp_grpc/collector`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(super) struct ToGateway {
    #[serde(rename = "otlp_grpc/collector")]
    collector: OtlpGrpcExporter,
}

/// The name of that exporter in pipelines.
pub(super) const TO_GATEWAY: &str = "otlp_grpc/collector";

/// Forwarding to the gateway's node port (`ports::OTLP_NODE`, a receiver of its
/// own without `k8s_attributes`), the queue kept by `storage` if given.
pub(super) fn to_gateway(stack: &ValidatedStack, storage: Option<&str>) -> ToGateway {
    ToGateway {
        collector: otlp_grpc(
            format!(
                "{}:{}",
                stack.service_host(Component::Collector),
                ports::OTLP_NODE
            ),
            storage,
        ),
    }
}

/// The `service` section of a forwarding collector.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(super) struct ForwarderService {
    pub(super) extensions: Vec<&'static str>,
    pub(super) telemetry: Telemetry,
    pub(super) pipelines: BTreeMap<&'static str, Pipeline>,
}

/// An OTLP/gRPC exporter to `endpoint` (plaintext inside the cluster), retrying
/// for five minutes, its queue kept by the storage extension `storage` if given.
pub(super) fn otlp_grpc(endpoint: String, storage: Option<&str>) -> OtlpGrpcExporter {
    OtlpGrpcExporter {
        endpoint,
        tls: Tls { insecure: true },
        retry_on_failure: retry(),
        sending_queue: Queue {
            storage: storage.map(str::to_string),
            ..queue()
        },
    }
}

/// The memory_limiter of a collector whose container may use `limit_bytes`.
pub(super) fn memory_limiter(limit_bytes: u128) -> MemoryLimiter {
    let limit_mib = memory_limit_mib(limit_bytes);
    MemoryLimiter {
        check_interval: "1s".into(),
        limit_mib,
        spike_limit_mib: limit_mib / 5,
    }
}

/// Batching before export.
pub(super) fn batch() -> Batch {
    Batch {
        send_batch_size: 8192,
        send_batch_max_size: 10000,
        timeout: "200ms".into(),
    }
}

/// The health_check extension's endpoint.
pub(super) fn health_check() -> Endpoint {
    Endpoint {
        endpoint: format!("0.0.0.0:{}", ports::COLLECTOR_HEALTH),
    }
}

/// A pipeline.
pub(super) fn pipeline(receivers: &[&str], processors: &[&str], exporters: &[&str]) -> Pipeline {
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    Pipeline {
        receivers: own(receivers),
        processors: own(processors),
        exporters: own(exporters),
    }
}

/// The memory_limiter's hard limit: 80% of the container's memory limit, leaving
/// headroom for the Go runtime; the spike limit is 20% of that.
/// Saturates at `u32::MAX` MiB, the bound of the collector's own field
/// (opentelemetry-collector `internal/memorylimiter/config.go` at v0.159.0:
/// `MemoryLimitMiB uint32`, `MemorySpikeLimitMiB uint32`).
pub fn memory_limit_mib(container_limit_bytes: u128) -> u32 {
    // (2^128 >> 20) * 80 stays below 2^128: no overflow before the conversion.
    u32::try_from((container_limit_bytes >> 20) * 80 / 100).unwrap_or(u32::MAX)
}

/// A destination's exporter: opentelemetry-collector v0.159.0
/// `exporter/otlpexporter/config.go` (`endpoint` dialled as `host:port`),
/// `exporter/otlphttpexporter/config.go` (a base URL; `/v1/<signal>` is
/// appended), both with `config/configgrpc` / `config/confighttp` clients
/// (`headers`: `config/configopaque/maplist.go`, a map; `tls`:
/// `config/configtls`, `ca_file`, `insecure`; `auth`: `config/configauth`), and
/// contrib's `prometheusremotewrite` with its own `remote_write_queue` (read in
/// stored copies of `exporter/prometheusremotewriteexporter/config.go`, not at
/// v0.159.0: its top-level `endpoint`, `headers`, `tls` and `auth` are the
/// client settings every version reads, newer ones also under `http:`).
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
enum ExportExporter {
    Otlp(ExportOtlp),
    RemoteWrite(ExportRemoteWrite),
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct ExportOtlp {
    endpoint: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<ClientTls>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<ExportAuthRef>,
    retry_on_failure: Retry,
    sending_queue: Queue,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct ExportRemoteWrite {
    endpoint: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<ClientTls>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<ExportAuthRef>,
    retry_on_failure: Retry,
    remote_write_queue: RemoteWriteQueue,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct ClientTls {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    insecure: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct ExportAuthRef {
    authenticator: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct RemoteWriteQueue {
    enabled: bool,
    queue_size: u32,
    num_consumers: u32,
}

/// A destination's auth extension: contrib's `bearertokenauth` reading (and
/// re-reading) the token file, or `basicauth` with `client_auth` from the
/// environment (stored copies of both, not read at v0.159.0).
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
enum ExportAuth {
    Bearer(BearerTokenAuth),
    Basic(BasicAuthExtension),
    OAuth2(OAuth2Client),
    SigV4(SigV4Auth),
}

/// contrib's `oauth2client` extension (client credentials), read in stored
/// copies of `extension/oauth2clientauthextension/config.go` and
/// `clientcredentialsconfig.go` of about v0.158, not at v0.159.0: `Validate`
/// needs a client id, a secret and `token_url`; `client_secret_file` is read
/// again at every token fetch (a rotated Secret is picked up at the next
/// refresh, no restart); `endpoint_params` is a `url.Values`, a list per key.
/// It authenticates HTTP and gRPC clients, the latter over TLS only. The token
/// endpoint is verified against the system's CAs (`caSecretName` is the
/// destination's, not the identity provider's).
#[derive(Serialize, Debug, Clone, PartialEq)]
struct OAuth2Client {
    client_id: String,
    client_secret_file: String,
    token_url: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scopes: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    endpoint_params: BTreeMap<String, Vec<String>>,
}

/// contrib's `sigv4auth` extension, read in stored copies of
/// `extension/sigv4authextension/config.go`, `extension.go` and
/// `signingroundtripper.go` of about v0.158, not at v0.159.0: an HTTP client
/// authenticator only; credentials from the AWS SDK's default chain (the
/// environment's keys, IRSA's web identity token, EKS Pod Identity, the
/// instance role), wrapped in STS AssumeRole when `assume_role.arn` is set.
/// Its `Validate` fetches credentials, so a collector without any fails at
/// start rather than at the first request.
#[derive(Serialize, Debug, Clone, PartialEq)]
struct SigV4Auth {
    region: String,
    service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    assume_role: Option<AssumeRole>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct AssumeRole {
    arn: String,
    sts_region: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct BasicAuthExtension {
    client_auth: BasicClientAuth,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct BasicClientAuth {
    username: String,
    password: String,
}

/// `${env:NAME}`: the collector's env provider (opentelemetry-collector
/// v0.159.0 `confmap/provider/envprovider`). A value that is the whole string
/// keeps its text in a string field (`confmap/internal/decoder.go`,
/// `useExpandValue`), so a secret such as `0123` is not turned into a number.
fn env_ref(name: &str) -> String {
    format!("${{env:{name}}}")
}

/// The exporters and auth extensions of `spec.export`.
fn export(
    stack: &ValidatedStack,
) -> (
    BTreeMap<String, ExportExporter>,
    BTreeMap<String, ExportAuth>,
) {
    use crate::model::export::{auth_extension_id, env_name, exporter_id, header_env, secrets_dir};
    let mut exporters = BTreeMap::new();
    let mut auths = BTreeMap::new();
    for d in &stack.spec.export {
        let headers: BTreeMap<String, String> = d
            .headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let value = match (&h.value, &h.value_from) {
                    (Some(v), _) => v.clone(),
                    _ => env_ref(&header_env(d, i)),
                };
                (h.name.clone(), value)
            })
            .collect();
        let ca_file = d
            .ca_secret_name
            .as_ref()
            .map(|_| format!("{}/ca/{}", secrets_dir(d), crate::api::credential_keys::CA));
        let auth_id = auth_extension_id(d);
        if let (Some(id), Some(t)) = (&auth_id, &d.bearer_token) {
            auths.insert(
                id.clone(),
                ExportAuth::Bearer(BearerTokenAuth {
                    filename: format!("{}/token/{}", secrets_dir(d), t.key),
                }),
            );
        }
        if let (Some(id), Some(_)) = (&auth_id, &d.basic_auth) {
            auths.insert(
                id.clone(),
                ExportAuth::Basic(BasicAuthExtension {
                    client_auth: BasicClientAuth {
                        username: env_ref(&env_name(d, "USERNAME")),
                        password: env_ref(&env_name(d, "PASSWORD")),
                    },
                }),
            );
        }
        if let (Some(id), Some(o)) = (&auth_id, &d.oauth2) {
            auths.insert(
                id.clone(),
                ExportAuth::OAuth2(OAuth2Client {
                    client_id: o.client_id.clone(),
                    client_secret_file: format!(
                        "{}/oauth2/{}",
                        secrets_dir(d),
                        o.client_secret.key
                    ),
                    token_url: o.token_url.clone(),
                    scopes: o.scopes.clone(),
                    endpoint_params: o
                        .endpoint_params
                        .iter()
                        .map(|(k, v)| (k.clone(), vec![v.clone()]))
                        .collect(),
                }),
            );
        }
        if let (Some(id), Some(v)) = (&auth_id, &d.sigv4) {
            let region = crate::model::export::sigv4_region(d).unwrap_or_default();
            auths.insert(
                id.clone(),
                ExportAuth::SigV4(SigV4Auth {
                    region: region.clone(),
                    service: v.service.clone(),
                    assume_role: v.role_arn.as_ref().map(|arn| AssumeRole {
                        arn: arn.clone(),
                        sts_region: region,
                    }),
                }),
            );
        }
        let auth = auth_id.map(|authenticator| ExportAuthRef { authenticator });
        let exporter = match (&d.otlp, &d.prometheus_remote_write) {
            (Some(o), _) => {
                let insecure = o.insecure && o.protocol == crate::api::OtlpProtocol::Grpc;
                ExportExporter::Otlp(ExportOtlp {
                    endpoint: o.endpoint.clone(),
                    headers,
                    tls: (insecure || ca_file.is_some()).then_some(ClientTls { insecure, ca_file }),
                    auth,
                    retry_on_failure: retry(),
                    sending_queue: queue(),
                })
            }
            (None, Some(rw)) => ExportExporter::RemoteWrite(ExportRemoteWrite {
                endpoint: rw.url.clone(),
                headers,
                tls: ca_file.map(|ca| ClientTls {
                    insecure: false,
                    ca_file: Some(ca),
                }),
                auth,
                retry_on_failure: retry(),
                remote_write_queue: RemoteWriteQueue {
                    enabled: true,
                    queue_size: 10_000,
                    num_consumers: 5,
                },
            }),
            (None, None) => continue,
        };
        exporters.insert(exporter_id(d), exporter);
    }
    (exporters, auths)
}

/// The exporter ids of the destinations that take `signal`.
fn export_ids(stack: &ValidatedStack, signal: crate::api::ExportSignal) -> Vec<String> {
    stack
        .spec
        .export
        .iter()
        .filter(|d| d.signals.contains(&signal))
        .map(crate::model::export::exporter_id)
        .collect()
}

/// Renders the collector config. `memory_limit_bytes` is the container's memory
/// limit; `metadata`: the collector may read pods and namespaces cluster-wide, so
/// it adds Kubernetes metadata to what applications push.
pub fn render(stack: &ValidatedStack, memory_limit_bytes: u128, metadata: bool) -> Config {
    let spec = &stack.spec;
    // What the node agent and the cluster collector send already carries its
    // Kubernetes metadata: it comes in on a port of its own (`otlp/node`),
    // through pipelines without `k8s_attributes`.
    let node_senders =
        stack.enabled(Component::NodeAgent) || stack.enabled(Component::ClusterCollector);
    let resource = (!spec.collector.resource_attributes.is_empty()).then(|| ResourceProcessor {
        attributes: spec
            .collector
            .resource_attributes
            .iter()
            .map(|(k, v)| AttributeAction {
                key: k.clone(),
                value: v.clone(),
                action: "upsert".into(),
            })
            .collect(),
    });
    let ratio = spec.collector.sampling.trace_ratio;
    let sampler = (ratio < 1.0).then(|| ProbabilisticSampler {
        mode: "proportional".into(),
        sampling_percentage: ratio * 100.0,
        sampling_precision: 4,
        fail_closed: false,
    });

    let auth = spec.collector.auth.as_ref().map(|_| Auth {
        authenticator: "bearertokenauth/otlp",
    });
    let mut pipelines = BTreeMap::new();
    // k8s_attributes first after the limiter: it reads the sender's address, which
    // the batch processor does not keep.
    let app_pipeline = |signal_processors: &[&str], exporters: &[String]| {
        let mut processors = vec!["memory_limiter"];
        if metadata {
            processors.push("k8s_attributes");
        }
        processors.extend(signal_processors);
        if resource.is_some() {
            processors.push("resource");
        }
        processors.push("batch");
        let exporters: Vec<&str> = exporters.iter().map(String::as_str).collect();
        pipeline(&["otlp"], &processors, &exporters)
    };
    let node_pipeline = |exporters: &[String]| {
        let mut processors = vec!["memory_limiter"];
        if resource.is_some() {
            processors.push("resource");
        }
        processors.push("batch");
        let exporters: Vec<&str> = exporters.iter().map(String::as_str).collect();
        pipeline(&["otlp/node"], &processors, &exporters)
    };
    use crate::api::ExportSignal;
    // Each signal's exporters: the stack's own backend (when it runs), then the
    // destinations of spec.export that take it.
    let exporters_of = |own: Option<&str>, signal: ExportSignal| -> Vec<String> {
        own.map(String::from)
            .into_iter()
            .chain(export_ids(stack, signal))
            .collect()
    };
    let prometheus: BTreeMap<String, OtlpHttpExporter> = if stack.enabled(Component::Prometheus) {
        stack
            .prometheus_write_hosts()
            .into_iter()
            .map(|(id, host)| {
                (
                    format!("otlp_http/{id}"),
                    OtlpHttpExporter {
                        endpoint: format!("http://{host}:{}/api/v1/otlp", ports::PROMETHEUS),
                        retry_on_failure: retry(),
                        sending_queue: queue(),
                    },
                )
            })
            .collect()
    } else {
        BTreeMap::new()
    };
    let metrics: Vec<String> = prometheus
        .keys()
        .cloned()
        .chain(export_ids(stack, ExportSignal::Metrics))
        .collect();
    if !metrics.is_empty() {
        pipelines.insert("metrics".into(), app_pipeline(&[], &metrics));
        if node_senders {
            pipelines.insert("metrics/node".into(), node_pipeline(&metrics));
        }
    }
    let loki = stack.enabled(Component::Loki).then(|| OtlpHttpExporter {
        endpoint: format!(
            "http://{}:{}/otlp",
            stack.service_host(Component::Loki),
            ports::LOKI_HTTP
        ),
        retry_on_failure: retry(),
        sending_queue: queue(),
    });
    let logs = exporters_of(loki.as_ref().map(|_| "otlp_http/loki"), ExportSignal::Logs);
    if !logs.is_empty() {
        pipelines.insert("logs".into(), app_pipeline(&[], &logs));
        if node_senders {
            pipelines.insert("logs/node".into(), node_pipeline(&logs));
        }
    }
    let tempo = stack.enabled(Component::Tempo).then(|| {
        otlp_grpc(
            format!(
                "{}:{}",
                stack.service_host(Component::Tempo),
                ports::OTLP_GRPC
            ),
            None,
        )
    });
    let traces = exporters_of(
        tempo.as_ref().map(|_| "otlp_grpc/tempo"),
        ExportSignal::Traces,
    );
    if !traces.is_empty() {
        let sampling: &[&str] = if sampler.is_some() {
            &["probabilistic_sampler"]
        } else {
            &[]
        };
        pipelines.insert("traces".into(), app_pipeline(sampling, &traces));
    }
    let (export_exporters, export_auths) = export(stack);

    Config {
        extensions: Extensions {
            health_check: health_check(),
            bearer_token: spec.collector.auth.as_ref().map(|a| BearerTokenAuth {
                filename: format!("{AUTH_DIR}/{}", a.key),
            }),
            export: export_auths.clone(),
        },
        receivers: Receivers {
            otlp: OtlpReceiver {
                protocols: OtlpProtocols {
                    grpc: ServerEndpoint {
                        endpoint: format!("0.0.0.0:{}", ports::OTLP_GRPC),
                        tls: server_tls(stack),
                        auth: auth.clone(),
                    },
                    http: Some(ServerEndpoint {
                        endpoint: format!("0.0.0.0:{}", ports::OTLP_HTTP),
                        tls: server_tls(stack),
                        auth: auth.clone(),
                    }),
                },
            },
            node: node_senders.then(|| OtlpReceiver {
                protocols: OtlpProtocols {
                    grpc: ServerEndpoint {
                        endpoint: format!("0.0.0.0:{}", ports::OTLP_NODE),
                        tls: None,
                        auth: None,
                    },
                    http: None,
                },
            }),
        },
        processors: Processors {
            memory_limiter: memory_limiter(memory_limit_bytes),
            k8s_attributes: metadata.then(k8s_metadata::gateway),
            batch: batch(),
            resource,
            probabilistic_sampler: sampler,
        },
        exporters: Exporters {
            prometheus,
            loki,
            tempo,
            export: export_exporters,
        },
        service: Service {
            extensions: std::iter::once("health_check")
                .chain(auth.as_ref().map(|a| a.authenticator))
                .map(String::from)
                .chain(export_auths.into_keys())
                .collect(),
            telemetry: telemetry(),
            pipelines,
        },
    }
}

/// The collector's own logs (JSON) and metrics (pulled by Prometheus).
pub(super) fn telemetry() -> Telemetry {
    Telemetry {
        logs: TelemetryLogs {
            level: "info".into(),
            encoding: "json".into(),
        },
        metrics: TelemetryMetrics {
            level: "normal".into(),
            readers: vec![MetricReader {
                pull: PullReader {
                    exporter: PullExporter {
                        prometheus: PrometheusPull {
                            host: "0.0.0.0".into(),
                            port: ports::COLLECTOR_METRICS,
                            without_scope_info: true,
                            without_type_suffix: false,
                            without_units: false,
                        },
                    },
                },
            }],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_limit_is_80_percent_and_saturates() {
        assert_eq!(memory_limit_mib(512 << 20), 409);
        assert_eq!(memory_limit_mib(0), 0);
        // A proptest splicing "200000000000000" into a quantity found that a limit
        // this large used to wrap, and the spike limit then overflowed. The
        // collector reads both limits as uint32: saturate there, not at u64.
        let largest_exact = (u32::MAX as u128 * 100 / 80) << 20;
        assert_eq!(memory_limit_mib(largest_exact), u32::MAX - 1);
        assert_eq!(memory_limit_mib(largest_exact * 2), u32::MAX);
        assert_eq!(memory_limit_mib((u64::MAX as u128 * 2) << 20), u32::MAX);
        assert_eq!(memory_limit_mib(u128::MAX), u32::MAX);
    }
}
