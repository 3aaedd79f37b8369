//! The metric catalogue: every series sextant's built-in alert rules, dashboards
//! and runbooks may query, with the program that produces it, its type, the label
//! names it carries and the upstream source (repository, path, tag) it was read
//! from.
//!
//! It owns the answer to "does a pinned program really expose this name?". The
//! names are the Prometheus series names as stored: the collector's own metrics as
//! its pull reader exposes them with the naming options `crate::render::otelcol`
//! writes out (suffixes kept: `_total` on monotonic sums, `_bytes`/`_seconds` for
//! the `By`/`s` units, nothing for `1` and `{...}`, per otlptranslator
//! `metric_namer.go`/`unit_namer.go`), and OTLP application metrics as Prometheus
//! 3.5 translates them (`UnderscoreEscapingWithSuffixes`, its default). A histogram
//! is listed once as its family; its `_bucket` (with `le`), `_sum` and `_count`
//! series are derived by [`Family::series`].
//!
//! Labels are the ones the program attaches ([`Family::labels`]) plus the ones the
//! way into Prometheus adds ([`Via::labels`]): the scrape labels of sextant's
//! `prometheus.yml`, the promoted OTLP resource attributes, or the external labels
//! of Tempo's metrics-generator. `tests/metric_names.rs` checks every query against
//! this table and checks [`Via::labels`] against the rendered configs;
//! `tests/rule_tests.rs` builds `promtool test rules` input from it.
//!
//! Verification: collector names were read at opentelemetry-collector v0.159.0,
//! Prometheus at v3.5.3 and Tempo at v2.10.8. Loki was read at v3.7.6, the
//! nearest readable tag to the pinned 3.7.8. Grafana names were read from stored
//! versions of grafana/grafana, not verified at v12.4.12. The contrib
//! probabilistic sampler was read from contrib's v0.159.0 metadata but not
//! tag-verified. Application metrics follow the OpenTelemetry semantic
//! conventions, except `agent_tasks_total`, which is sextant's own convention.

/// The program whose code produces a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Program {
    /// OpenTelemetry Collector (contrib distribution), its own telemetry.
    Collector,
    /// The same collector image as the node agent: its own telemetry carries the
    /// collector's names (listed under `Collector`), scraped as its own job.
    NodeAgent,
    /// Prometheus: its own metrics and the series its scrapes synthesize.
    Prometheus,
    /// Tempo: its own metrics and the metrics-generator's remote-written series.
    Tempo,
    /// Loki, its own metrics.
    Loki,
    /// Grafana, its own metrics.
    Grafana,
    /// Application metrics arriving over OTLP, translated by Prometheus.
    OtlpApplication,
    /// The kubelet's summary API as the node agent's `kubeletstats` receiver
    /// reports it, over OTLP through the stack's collector.
    Kubelet,
    /// The same collector image as the cluster collector: its own telemetry,
    /// scraped as its own job.
    ClusterCollector,
    /// The API server's objects as the cluster collector's `k8s_cluster`
    /// receiver reports them, over OTLP through the stack's collector.
    KubernetesState,
    /// sextant's own recording rules in Prometheus (`crate::builtin::slos`,
    /// `crate::builtin::cost`).
    Sextant,
}

impl Program {
    /// Every program.
    pub const ALL: [Program; 11] = [
        Self::Collector,
        Self::NodeAgent,
        Self::ClusterCollector,
        Self::Prometheus,
        Self::Tempo,
        Self::Loki,
        Self::Grafana,
        Self::OtlpApplication,
        Self::Kubelet,
        Self::KubernetesState,
        Self::Sextant,
    ];

    /// The scrape job of the program's own metrics (`job_name` in `prometheus.yml`).
    pub fn job(self) -> Option<&'static str> {
        match self {
            Self::Collector => Some("collector"),
            Self::NodeAgent => Some("node-agent"),
            Self::ClusterCollector => Some("cluster-collector"),
            Self::Prometheus => Some("prometheus"),
            Self::Tempo => Some("tempo"),
            Self::Loki => Some("loki"),
            Self::Grafana => Some("grafana"),
            Self::OtlpApplication | Self::Kubelet | Self::KubernetesState | Self::Sextant => None,
        }
    }
}

/// The metric type, as the program declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic counter (name ends in `_total`).
    Counter,
    /// Gauge.
    Gauge,
    /// Classic histogram: `_bucket` (with `le`), `_sum` and `_count` series.
    Histogram,
}

/// How a series reaches Prometheus, which decides the labels added on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Scraped from a stack pod (`pod_job` in `crate::render::prometheus`): `job`
    /// and `instance` from the scrape, `namespace`, `pod` and `component` from
    /// `relabel_configs`. `up` is listed with this too, though Prometheus's own
    /// target (below) has no `namespace` or `pod`.
    PodScrape,
    /// Prometheus scraping itself (a static target): `job`, `instance` and the
    /// static `component` label.
    SelfScrape,
    /// Remote-written by Tempo's metrics-generator, carrying its registry's
    /// `external_labels` (`crate::render::tempo`).
    TempoGenerator,
    /// Pushed over OTLP: `job` and `instance` from `service.namespace`/`service.name`
    /// and `service.instance.id`, and the promoted resource attributes
    /// (`promote_resource_attributes` in `crate::render::prometheus`), translated.
    Otlp,
    /// Written by Prometheus's rule engine from sextant's recording rules: the
    /// labels the rules set (the family's own), nothing added on the way.
    Recording,
}

/// Label names `relabel_configs` and the scrape give every pod-scraped series.
pub const POD_SCRAPE_LABELS: &[&str] = &["job", "instance", "namespace", "pod", "component"];
/// Labels of Prometheus's own series.
pub const SELF_SCRAPE_LABELS: &[&str] = &["job", "instance", "component"];
/// The metrics-generator's registry `external_labels`.
pub const TEMPO_GENERATOR_LABELS: &[&str] = &["source", "sextant_stack"];
/// Labels every OTLP series gets: `job`, `instance`, then the promoted resource
/// attributes, translated (storage/remote/otlptranslator/prometheusremotewrite/
/// helper.go at prometheus v3.5.3).
pub const OTLP_LABELS: &[&str] = &[
    "job",
    "instance",
    "deployment_environment",
    "deployment_environment_name",
    "k8s_namespace_name",
    "k8s_pod_name",
    "k8s_container_name",
    "k8s_node_name",
    "k8s_deployment_name",
    "k8s_statefulset_name",
    "k8s_daemonset_name",
    "k8s_job_name",
    "k8s_volume_name",
    "k8s_container_status_last_terminated_reason",
    "service_instance_id",
    "service_name",
    "service_namespace",
];

/// The exemplar label holding the trace id on Tempo's generated histograms
/// (modules/generator/registry/histogram.go at grafana/tempo v2.10.8). An exemplar
/// label, not a series label.
pub const TEMPO_EXEMPLAR_TRACE_ID: &str = "traceID";

impl Via {
    /// The label names added on the way into Prometheus.
    pub fn labels(self) -> &'static [&'static str] {
        match self {
            Self::PodScrape => POD_SCRAPE_LABELS,
            Self::SelfScrape => SELF_SCRAPE_LABELS,
            Self::TempoGenerator => TEMPO_GENERATOR_LABELS,
            Self::Otlp => OTLP_LABELS,
            Self::Recording => &[],
        }
    }
}

/// One metric family as Prometheus stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Family {
    /// Who produces it.
    pub program: Program,
    /// The series name (for a histogram, the family name without `_bucket` etc.).
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// The label names the program attaches.
    pub labels: &'static [&'static str],
    /// How it reaches Prometheus.
    pub via: Via,
    /// Where the name and labels were read: repository, path, tag.
    pub source: &'static str,
}

impl Family {
    /// The series names Prometheus stores for this family.
    pub fn series(&self) -> Vec<String> {
        match self.kind {
            Kind::Histogram => ["_bucket", "_sum", "_count"]
                .iter()
                .map(|s| format!("{}{s}", self.name))
                .collect(),
            _ => vec![self.name.to_string()],
        }
    }

    /// Every label name a stored series of the family can carry: the program's,
    /// the way's, and `le` on a histogram's `_bucket` series.
    pub fn labels_of(&self, series: &str) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = self.labels.to_vec();
        out.extend(self.via.labels());
        if self.kind == Kind::Histogram && series.ends_with("_bucket") {
            out.push("le");
        }
        out
    }
}

/// The family a stored series name belongs to.
pub fn family_of(series: &str) -> Option<&'static Family> {
    FAMILIES
        .iter()
        .find(|f| f.series().iter().any(|s| s == series))
}

/// Every stored series name of the catalogue.
pub fn series_names() -> Vec<String> {
    FAMILIES.iter().flat_map(Family::series).collect()
}

const RECEIVERHELPER: &str =
    "open-telemetry/opentelemetry-collector receiver/receiverhelper/metadata.yaml @ v0.159.0";
const EXPORTERHELPER: &str =
    "open-telemetry/opentelemetry-collector exporter/exporterhelper/metadata.yaml @ v0.159.0";
const SERVICE: &str = "open-telemetry/opentelemetry-collector service/metadata.yaml @ v0.159.0";
const PROCESSORHELPER: &str =
    "open-telemetry/opentelemetry-collector processor/processorhelper/metadata.yaml @ v0.159.0";
const MEMORY_LIMITER: &str = "open-telemetry/opentelemetry-collector processor/memorylimiterprocessor/metadata.yaml @ v0.159.0";
const BATCH: &str =
    "open-telemetry/opentelemetry-collector processor/batchprocessor/metadata.yaml @ v0.159.0";
const SAMPLER: &str = "open-telemetry/opentelemetry-collector-contrib processor/probabilisticsamplerprocessor/metadata.yaml @ v0.159.0 (not tag-verified)";
const TSDB_HEAD: &str = "prometheus/prometheus tsdb/head.go @ v3.5.3";
const TSDB_DB: &str = "prometheus/prometheus tsdb/db.go @ v3.5.3";
const WEB: &str = "prometheus/prometheus web/web.go @ v3.5.3";
const OTLP_HELPER: &str =
    "prometheus/prometheus storage/remote/otlptranslator/prometheusremotewrite/helper.go @ v3.5.3";
const SPANMETRICS: &str =
    "grafana/tempo modules/generator/processor/spanmetrics/spanmetrics.go @ v2.10.8";
const SERVICEGRAPHS: &str =
    "grafana/tempo modules/generator/processor/servicegraphs/servicegraphs.go @ v2.10.8";
const TEMPO_DSKIT: &str =
    "grafana/tempo vendor/github.com/grafana/dskit/server/metrics.go @ v2.10.8";
const LOKI_PUSH: &str =
    "grafana/loki pkg/loghttp/push/push.go @ v3.7.6 (nearest readable tag to 3.7.8)";
const LOKI_DSKIT: &str = "grafana/loki vendor/github.com/grafana/dskit/server/metrics.go @ v3.7.6 (nearest readable tag to 3.7.8)";
const K8SCLUSTER: &str = "open-telemetry/opentelemetry-collector-contrib receiver/k8sclusterreceiver/metadata.yaml, README.md and internal/metadata/generated_config.go (stored copies 7f80b7b6, 0f73d30f and 6f45bc00, not verified at v0.159.0; names as Prometheus v3.5.3 translates them)";
const KUBELETSTATS: &str = "open-telemetry/opentelemetry-collector-contrib receiver/kubeletstatsreceiver/metadata.yaml and internal/kubelet/resource.go (stored copies 52a2d83a and 355081bf, not verified at v0.159.0; names as Prometheus v3.5.3 translates them)";
const GENAI: &str = "open-telemetry/semantic-conventions docs/gen-ai/gen-ai-metrics.md (names as Prometheus v3.5.3 translates them)";

const COST_RULES: &str =
    "sextant convention: src/builtin/cost.rs (the recording group of spec.genai.pricing)";
const SLO_RULES: &str =
    "sextant convention: src/builtin/slos.rs (the recording groups of spec.slos)";

const RECEIVER: &[&str] = &["receiver", "transport"];
const EXPORTER: &[&str] = &["exporter"];
const EXPORTER_QUEUE: &[&str] = &["exporter", "data_type"];
const PROCESSOR: &[&str] = &["processor"];
const DSKIT_REQUEST: &[&str] = &["method", "route", "status_code", "ws"];
const SPANMETRICS_LABELS: &[&str] = &["service", "span_name", "span_kind", "status_code"];
const SERVICEGRAPH_LABELS: &[&str] = &["client", "server", "connection_type"];
const GENAI_LABELS: &[&str] = &[
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_system",
    "gen_ai_request_model",
    "gen_ai_response_model",
    "gen_ai_token_type",
    "server_address",
    "server_port",
];
const GENAI_DURATION_LABELS: &[&str] = &[
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_system",
    "gen_ai_request_model",
    "gen_ai_response_model",
    "server_address",
    "server_port",
    "error_type",
];

const fn collector(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    source: &'static str,
) -> Family {
    Family {
        program: Program::Collector,
        name,
        kind,
        labels,
        via: Via::PodScrape,
        source,
    }
}

const fn family(
    program: Program,
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    via: Via,
    source: &'static str,
) -> Family {
    Family {
        program,
        name,
        kind,
        labels,
        via,
        source,
    }
}

use Kind::{Counter, Gauge, Histogram};
use Program::{Grafana, Kubelet, KubernetesState, Loki, OtlpApplication, Prometheus, Tempo};

/// The catalogue.
#[rustfmt::skip]
pub static FAMILIES: &[Family] = &[
    // --- Collector: receivers (receiverhelper) ---
    collector("otelcol_receiver_accepted_spans_total", Counter, RECEIVER, RECEIVERHELPER),
    collector("otelcol_receiver_refused_spans_total", Counter, RECEIVER, RECEIVERHELPER),
    collector("otelcol_receiver_failed_spans_total", Counter, RECEIVER, RECEIVERHELPER),
    collector("otelcol_receiver_accepted_metric_points_total", Counter, RECEIVER, RECEIVERHELPER),
    collector("otelcol_receiver_refused_metric_points_total", Counter, RECEIVER, RECEIVERHELPER),
    collector("otelcol_receiver_failed_metric_points_total", Counter, RECEIVER, RECEIVERHELPER),
    collector("otelcol_receiver_accepted_log_records_total", Counter, RECEIVER, RECEIVERHELPER),
    collector("otelcol_receiver_refused_log_records_total", Counter, RECEIVER, RECEIVERHELPER),
    collector("otelcol_receiver_failed_log_records_total", Counter, RECEIVER, RECEIVERHELPER),
    // --- Collector: exporters (exporterhelper). The failure counters appear only
    // after the first failure. ---
    collector("otelcol_exporter_sent_spans_total", Counter, EXPORTER, EXPORTERHELPER),
    collector("otelcol_exporter_sent_metric_points_total", Counter, EXPORTER, EXPORTERHELPER),
    collector("otelcol_exporter_sent_log_records_total", Counter, EXPORTER, EXPORTERHELPER),
    collector("otelcol_exporter_send_failed_spans_total", Counter, EXPORTER, EXPORTERHELPER),
    collector("otelcol_exporter_send_failed_metric_points_total", Counter, EXPORTER, EXPORTERHELPER),
    collector("otelcol_exporter_send_failed_log_records_total", Counter, EXPORTER, EXPORTERHELPER),
    collector("otelcol_exporter_enqueue_failed_spans_total", Counter, EXPORTER, EXPORTERHELPER),
    collector("otelcol_exporter_enqueue_failed_metric_points_total", Counter, EXPORTER, EXPORTERHELPER),
    collector("otelcol_exporter_enqueue_failed_log_records_total", Counter, EXPORTER, EXPORTERHELPER),
    collector("otelcol_exporter_queue_size", Gauge, EXPORTER_QUEUE, EXPORTERHELPER),
    collector("otelcol_exporter_queue_capacity", Gauge, EXPORTER_QUEUE, EXPORTERHELPER),
    collector("otelcol_exporter_in_flight_requests", Gauge, EXPORTER_QUEUE, EXPORTERHELPER),
    // --- Collector: process (service) ---
    collector("otelcol_process_uptime_seconds_total", Counter, &[], SERVICE),
    collector("otelcol_process_cpu_seconds_total", Counter, &[], SERVICE),
    collector("otelcol_process_memory_rss_bytes", Gauge, &[], SERVICE),
    collector("otelcol_process_runtime_heap_alloc_bytes", Gauge, &[], SERVICE),
    collector("otelcol_process_runtime_total_alloc_bytes_total", Counter, &[], SERVICE),
    collector("otelcol_process_runtime_total_sys_memory_bytes", Gauge, &[], SERVICE),
    // --- Collector: processors. `otel.signal` is exposed as `otel_signal`. ---
    collector("otelcol_processor_incoming_items_total", Counter, &["processor", "otel_signal"], PROCESSORHELPER),
    collector("otelcol_processor_outgoing_items_total", Counter, &["processor", "otel_signal"], PROCESSORHELPER),
    collector("otelcol_processor_memory_limiter_accepted_spans_total", Counter, PROCESSOR, MEMORY_LIMITER),
    collector("otelcol_processor_memory_limiter_refused_spans_total", Counter, PROCESSOR, MEMORY_LIMITER),
    collector("otelcol_processor_memory_limiter_accepted_metric_points_total", Counter, PROCESSOR, MEMORY_LIMITER),
    collector("otelcol_processor_memory_limiter_refused_metric_points_total", Counter, PROCESSOR, MEMORY_LIMITER),
    collector("otelcol_processor_memory_limiter_accepted_log_records_total", Counter, PROCESSOR, MEMORY_LIMITER),
    collector("otelcol_processor_memory_limiter_refused_log_records_total", Counter, PROCESSOR, MEMORY_LIMITER),
    collector("otelcol_processor_batch_batch_send_size", Histogram, PROCESSOR, BATCH),
    collector("otelcol_processor_batch_batch_size_trigger_send_total", Counter, PROCESSOR, BATCH),
    collector("otelcol_processor_batch_timeout_trigger_send_total", Counter, PROCESSOR, BATCH),
    collector("otelcol_processor_batch_metadata_cardinality", Gauge, PROCESSOR, BATCH),
    collector("otelcol_processor_probabilistic_sampler_count_traces_sampled_total", Counter, &["policy", "sampled"], SAMPLER),
    // --- Prometheus ---
    family(Prometheus, "up", Gauge, &[], Via::PodScrape, "prometheus/prometheus scrape/scrape.go @ v3.5.3 (synthesized per target)"),
    family(Prometheus, "prometheus_tsdb_head_samples_appended_total", Counter, &["type"], Via::SelfScrape, TSDB_HEAD),
    family(Prometheus, "prometheus_tsdb_head_series", Gauge, &[], Via::SelfScrape, TSDB_HEAD),
    family(Prometheus, "prometheus_tsdb_out_of_bound_samples_total", Counter, &["type"], Via::SelfScrape, TSDB_HEAD),
    family(Prometheus, "prometheus_tsdb_out_of_order_samples_total", Counter, &["type"], Via::SelfScrape, TSDB_HEAD),
    family(Prometheus, "prometheus_tsdb_too_old_samples_total", Counter, &["type"], Via::SelfScrape, TSDB_HEAD),
    family(Prometheus, "prometheus_http_requests_total", Counter, &["handler", "code"], Via::SelfScrape, WEB),
    family(Prometheus, "prometheus_http_request_duration_seconds", Histogram, &["handler"], Via::SelfScrape, WEB),
    family(Prometheus, "prometheus_tsdb_storage_blocks_bytes", Gauge, &[], Via::SelfScrape, TSDB_DB),
    family(Prometheus, "prometheus_tsdb_retention_limit_bytes", Gauge, &[], Via::SelfScrape, TSDB_DB),
    family(Prometheus, "prometheus_tsdb_wal_storage_size_bytes", Gauge, &[], Via::SelfScrape, "prometheus/prometheus tsdb/wlog/wlog.go @ v3.5.3"),
    // One series per OTLP resource: every resource attribute becomes a label; the
    // promoted ones (in `Via::Otlp`) are the ones sextant relies on.
    family(Prometheus, "target_info", Gauge, &[], Via::Otlp, OTLP_HELPER),
    // --- Tempo ---
    family(Tempo, "tempo_discarded_spans_total", Counter, &["reason", "tenant"], Via::PodScrape, "grafana/tempo modules/overrides/discarded_spans.go @ v2.10.8"),
    family(Tempo, "tempo_distributor_spans_received_total", Counter, &["tenant"], Via::PodScrape, "grafana/tempo modules/distributor/distributor.go @ v2.10.8"),
    family(Tempo, "tempo_metrics_generator_registry_active_series", Gauge, &["tenant"], Via::PodScrape, "grafana/tempo modules/generator/localserieslimiter/local_series_limiter.go @ v2.10.8"),
    family(Tempo, "tempo_metrics_generator_registry_series_limited_total", Counter, &["tenant"], Via::PodScrape, "grafana/tempo modules/generator/localserieslimiter/local_series_limiter.go @ v2.10.8"),
    family(Tempo, "tempo_metrics_generator_registry_max_active_series", Gauge, &["tenant"], Via::PodScrape, "grafana/tempo modules/generator/localserieslimiter/local_series_limiter.go @ v2.10.8"),
    family(Tempo, "tempo_request_duration_seconds", Histogram, DSKIT_REQUEST, Via::PodScrape, TEMPO_DSKIT),
    family(Tempo, "traces_spanmetrics_calls_total", Counter, SPANMETRICS_LABELS, Via::TempoGenerator, SPANMETRICS),
    family(Tempo, "traces_spanmetrics_latency", Histogram, SPANMETRICS_LABELS, Via::TempoGenerator, SPANMETRICS),
    family(Tempo, "traces_spanmetrics_size_total", Counter, SPANMETRICS_LABELS, Via::TempoGenerator, SPANMETRICS),
    family(Tempo, "traces_service_graph_request_total", Counter, SERVICEGRAPH_LABELS, Via::TempoGenerator, SERVICEGRAPHS),
    family(Tempo, "traces_service_graph_request_failed_total", Counter, SERVICEGRAPH_LABELS, Via::TempoGenerator, SERVICEGRAPHS),
    family(Tempo, "traces_service_graph_request_client_seconds", Histogram, SERVICEGRAPH_LABELS, Via::TempoGenerator, SERVICEGRAPHS),
    family(Tempo, "traces_service_graph_request_server_seconds", Histogram, SERVICEGRAPH_LABELS, Via::TempoGenerator, SERVICEGRAPHS),
    // --- Loki ---
    family(Loki, "loki_discarded_samples_total", Counter, &["reason", "tenant", "retention_hours", "policy", "format"], Via::PodScrape, "grafana/loki pkg/validation/validate.go @ v3.7.6 (nearest readable tag to 3.7.8)"),
    family(Loki, "loki_distributor_lines_received_total", Counter, &["tenant", "is_internal_stream", "policy", "format"], Via::PodScrape, LOKI_PUSH),
    family(Loki, "loki_distributor_bytes_received_total", Counter, &["tenant", "retention_hours", "is_internal_stream", "policy", "format"], Via::PodScrape, LOKI_PUSH),
    family(Loki, "loki_request_duration_seconds", Histogram, DSKIT_REQUEST, Via::PodScrape, LOKI_DSKIT),
    // --- Grafana (stored versions of grafana/grafana; not verified at v12.4.12) ---
    family(Grafana, "grafana_alerting_alerts", Gauge, &["state"], Via::PodScrape, "grafana/grafana pkg/services/ngalert/metrics/ngalert.go (not verified at v12.4.12)"),
    family(Grafana, "grafana_alerting_rule_evaluation_failures_total", Counter, &["org"], Via::PodScrape, "grafana/grafana pkg/services/ngalert/metrics/scheduler.go (not verified at v12.4.12)"),
    // --- The kubelet's stats from the node agent (`volume` metric group), over
    // OTLP: resource attributes `k8s.namespace.name`, `k8s.pod.name`,
    // `k8s.volume.name` (promoted), unit `By`. ---
    family(Kubelet, "k8s_volume_available_bytes", Gauge, &[], Via::Otlp, KUBELETSTATS),
    family(Kubelet, "k8s_volume_capacity_bytes", Gauge, &[], Via::Otlp, KUBELETSTATS),
    // `k8s.pod.*` and `container.*` of the `pod` and `container` groups: CPU in
    // cores (`{cpu}`, no suffix), memory in `By`, network a cumulative `By` sum.
    family(Kubelet, "k8s_pod_cpu_usage", Gauge, &[], Via::Otlp, KUBELETSTATS),
    family(Kubelet, "k8s_pod_memory_working_set_bytes", Gauge, &[], Via::Otlp, KUBELETSTATS),
    family(Kubelet, "k8s_pod_network_io_bytes_total", Counter, &["interface", "direction"], Via::Otlp, KUBELETSTATS),
    family(Kubelet, "container_cpu_usage", Gauge, &[], Via::Otlp, KUBELETSTATS),
    family(Kubelet, "container_memory_working_set_bytes", Gauge, &[], Via::Otlp, KUBELETSTATS),
    // --- The cluster's state from the cluster collector's `k8s_cluster`
    // receiver, over OTLP: container series carry the resource attributes
    // `k8s.namespace.name`, `k8s.pod.name`, `k8s.node.name`, `k8s.container.name`
    // and (turned on by `crate::render::cluster_collector`)
    // `k8s.container.status.last_terminated_reason`, all promoted. Gauges;
    // `k8s.container.restarts` (unit `{restart}`) too, so no `_total`. ---
    family(KubernetesState, "k8s_container_restarts", Gauge, &[], Via::Otlp, K8SCLUSTER),
    family(KubernetesState, "k8s_container_ready", Gauge, &[], Via::Otlp, K8SCLUSTER),
    family(KubernetesState, "k8s_container_cpu_request", Gauge, &[], Via::Otlp, K8SCLUSTER),
    family(KubernetesState, "k8s_container_cpu_limit", Gauge, &[], Via::Otlp, K8SCLUSTER),
    family(KubernetesState, "k8s_container_memory_request_bytes", Gauge, &[], Via::Otlp, K8SCLUSTER),
    family(KubernetesState, "k8s_container_memory_limit_bytes", Gauge, &[], Via::Otlp, K8SCLUSTER),
    // 1 Pending, 2 Running, 3 Succeeded, 4 Failed, 5 Unknown.
    family(KubernetesState, "k8s_pod_phase", Gauge, &[], Via::Otlp, K8SCLUSTER),
    // `node_conditions_to_report: [Ready, ...]`: 1 true, 0 false, -1 unknown.
    family(KubernetesState, "k8s_node_condition_ready", Gauge, &[], Via::Otlp, K8SCLUSTER),
    family(KubernetesState, "k8s_deployment_desired", Gauge, &[], Via::Otlp, K8SCLUSTER),
    family(KubernetesState, "k8s_deployment_available", Gauge, &[], Via::Otlp, K8SCLUSTER),
    family(KubernetesState, "k8s_statefulset_desired_pods", Gauge, &[], Via::Otlp, K8SCLUSTER),
    family(KubernetesState, "k8s_statefulset_ready_pods", Gauge, &[], Via::Otlp, K8SCLUSTER),
    family(KubernetesState, "k8s_daemonset_desired_scheduled_nodes", Gauge, &[], Via::Otlp, K8SCLUSTER),
    family(KubernetesState, "k8s_daemonset_ready_nodes", Gauge, &[], Via::Otlp, K8SCLUSTER),
    // --- Application metrics over OTLP ---
    family(OtlpApplication, "gen_ai_client_token_usage", Histogram, GENAI_LABELS, Via::Otlp, GENAI),
    family(OtlpApplication, "gen_ai_client_operation_duration_seconds", Histogram, GENAI_DURATION_LABELS, Via::Otlp, GENAI),
    // An OTLP counter `agent.tasks` (unit `{task}`) with attribute `outcome`
    // (`success`, `failure`, ...): not a semantic convention, sextant's own.
    // --- sextant's recording rules (spec.slos); the SLO's own labels come too ---
    family(Program::Sextant, "sextant:slo_error_ratio", Gauge, &["slo", "window"], Via::Recording, SLO_RULES),
    family(Program::Sextant, "sextant:slo_sli", Gauge, &["slo"], Via::Recording, SLO_RULES),
    family(Program::Sextant, "sextant:slo_objective", Gauge, &["slo"], Via::Recording, SLO_RULES),
    family(Program::Sextant, "sextant:slo_error_budget_remaining", Gauge, &["slo"], Via::Recording, SLO_RULES),
    family(Program::Sextant, "sextant:genai_cost_usd:rate5m", Gauge, &["service_name", "k8s_namespace_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_token_type"], Via::Recording, COST_RULES),
    family(OtlpApplication, "agent_tasks_total", Counter, &["outcome"], Via::Otlp, "sextant convention: docs/dashboards-and-alerts.md (agent-fleet), not an OpenTelemetry semantic convention"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_shaped_by_kind() {
        let names = series_names();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a series name is listed twice");
        for f in FAMILIES {
            assert_eq!(
                f.kind == Kind::Counter,
                f.name.ends_with("_total"),
                "{}: counters and only counters end in _total",
                f.name
            );
            assert!(
                f.source.contains(" @ v")
                    || f.source.contains("not verified")
                    || f.source.contains("semantic-conventions")
                    || f.source.starts_with("sextant convention"),
                "{}: the source names no tag and says nothing of it: {}",
                f.name,
                f.source
            );
            let mut labels = f.labels_of(&format!("{}_bucket", f.name));
            let n = labels.len();
            labels.sort_unstable();
            labels.dedup();
            assert_eq!(labels.len(), n, "{}: a label is listed twice", f.name);
        }
    }

    #[test]
    fn histograms_derive_their_series() {
        let f = family_of("traces_spanmetrics_latency_bucket").unwrap();
        assert_eq!(f.name, "traces_spanmetrics_latency");
        assert!(
            f.labels_of("traces_spanmetrics_latency_bucket")
                .contains(&"le")
        );
        assert!(
            !f.labels_of("traces_spanmetrics_latency_sum")
                .contains(&"le")
        );
        assert!(family_of("traces_spanmetrics_latency").is_none());
        assert!(family_of("otelcol_receiver_accepted_spans").is_none());
    }
}
