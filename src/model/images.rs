//! The container images this sextant release pins, and the UID each runs as.
//!
//! A stack may override any image; the config renderers follow the schemas of
//! these versions (see each file under `crate::render`).

/// OpenTelemetry Collector, contrib distribution (has probabilistic_sampler).
pub const COLLECTOR: &str = "otel/opentelemetry-collector-contrib:0.159.0";
/// Prometheus 3.5 (long-term support line).
pub const PROMETHEUS: &str = "prom/prometheus:v3.5.3";
/// Grafana Tempo, 2.x monolithic.
pub const TEMPO: &str = "grafana/tempo:2.10.8";
/// Grafana Loki, 3.x single binary.
pub const LOKI: &str = "grafana/loki:3.7.8";
/// Thanos, for Prometheus replicas > 1: the sidecar beside each replica and the
/// Query in front of them (`crate::build::prometheus`). The tag the project's
/// release job pushes (thanos-io/thanos v0.42.4 `Makefile` DOCKER_IMAGE_REPO,
/// `.circleci/config.yml` publish_release).
pub const THANOS: &str = "quay.io/thanos/thanos:v0.42.4";
/// Grafana.
pub const GRAFANA: &str = "grafana/grafana:12.4.12";

/// UID of the collector image's user.
pub const COLLECTOR_UID: i64 = 10001;
/// UID of the node agent: root (with every capability dropped), the owner of the
/// node's log files (`/var/log/pods`, mode 0640 or 0644 under root) and of the
/// hostPath directory that keeps its read positions. A non-root agent could read
/// neither without a capability (`DAC_READ_SEARCH`) that Pod Security "baseline"
/// forbids adding; the same collector image runs as root in the OpenTelemetry Helm
/// chart's agent mode when it keeps positions on the node.
pub const NODE_AGENT_UID: i64 = 0;
/// UID of `nobody`, the Prometheus image's user.
pub const PROMETHEUS_UID: i64 = 65534;
/// UID of the Tempo image's user.
pub const TEMPO_UID: i64 = 10001;
/// UID of the Loki image's user.
pub const LOKI_UID: i64 = 10001;
/// UID of the Thanos image's user (thanos-io/thanos v0.42.4 `Dockerfile`,
/// `USER 1001`), for the Query pods; the sidecar runs as Prometheus's user.
pub const THANOS_UID: i64 = 1001;
/// UID of the Grafana image's user.
pub const GRAFANA_UID: i64 = 472;
