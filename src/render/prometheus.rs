//! The Prometheus configuration file, command-line flags, and rule files.
//!
//! Schema: Prometheus 3.5 (the version pinned in `crate::model::images::PROMETHEUS`),
//! docs/configuration/configuration.md and docs/command-line/prometheus.md of the
//! v3.5 release, and docs/configuration/recording_rules.md / alerting_rules.md for
//! the rule file format. `promtool check config` and `promtool check rules` of the
//! same release accept what this renders (`tests/validators.rs`), and Debian's
//! Prometheus 3.5.3 runs on it with the StatefulSet's own flags, takes the
//! remote-write of Tempo's metrics-generator with exemplars, and answers the
//! dashboards' span-metrics queries (`tests/prometheus_real.rs`). Metric names it
//! and the programs it scrapes expose are in `crate::catalogue`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::RuleGroup;
use crate::model::Capabilities;
use crate::model::Component;
use crate::model::ValidatedStack;
use crate::model::ports;
use crate::units::{format_byte_size_mb, format_go_duration};

/// `prometheus.yml`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Config {
    global: Global,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rule_files: Vec<String>,
    otlp: Otlp,
    storage: Storage,
    scrape_configs: Vec<ScrapeConfig>,
}

/// The recording rule file's name in Prometheus's ConfigMap, mounted with its
/// config under `/etc/prometheus`.
pub const RECORDING_RULES_FILE: &str = "recording-rules.yml";

/// The rule file of `spec.prometheus.recordingRuleGroups` and of the SLOs'
/// recording groups (`crate::builtin::slos`) and of the GenAI cost
/// (`crate::builtin::cost`), in Prometheus's rule file
/// format (`groups` of `name`, `interval`, `rules` of `record`, `expr`,
/// `labels`), or none.
pub fn recording_rules(stack: &ValidatedStack) -> Option<RecordingRuleFile> {
    let groups: Vec<_> = stack
        .spec
        .prometheus
        .recording_rule_groups
        .iter()
        .cloned()
        .chain(crate::builtin::slos::recording_groups(stack))
        .chain(crate::builtin::cost::recording_group(stack))
        .collect();
    (!groups.is_empty()).then_some(RecordingRuleFile { groups })
}

/// A Prometheus rule file of recording rules.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct RecordingRuleFile {
    /// The groups.
    pub groups: Vec<crate::api::RecordingRuleGroup>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Global {
    scrape_interval: String,
    evaluation_interval: String,
    external_labels: BTreeMap<String, String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Otlp {
    promote_resource_attributes: Vec<String>,
    keep_identifying_resource_attributes: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Storage {
    tsdb: Tsdb,
    exemplars: Exemplars,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Tsdb {
    out_of_order_time_window: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Exemplars {
    max_exemplars: u64,
}

/// One `scrape_configs` entry (Prometheus v3.5.3 config/config.go `ScrapeConfig`,
/// with the HTTP client fields it inlines from prometheus/common v0.65.0
/// config/http_config.go `HTTPClientConfig`). Every field but `job_name` is left
/// out when unset, so Prometheus's defaults apply.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct ScrapeConfig {
    pub(crate) job_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) honor_labels: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) honor_timestamps: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) track_timestamps_staleness: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) scrape_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) scrape_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metrics_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) scheme: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) params: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) follow_redirects: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) enable_http2: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) proxy_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tls_config: Option<TlsConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) authorization: Option<Authorization>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) basic_auth: Option<BasicAuth>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(crate) limits: Option<Limits>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    static_configs: Vec<StaticConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) kubernetes_sd_configs: Vec<KubernetesSd>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) relabel_configs: Vec<Relabel>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) metric_relabel_configs: Vec<Relabel>,
}

/// `tls_config` with every value read from a file (prometheus/common v0.65.0
/// config/http_config.go `TLSConfig`).
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub(crate) struct TlsConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ca_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cert_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) server_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) insecure_skip_verify: Option<bool>,
}

/// `authorization` (prometheus/common v0.65.0 `Authorization`): the header's
/// type and the file holding its credentials.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Authorization {
    #[serde(rename = "type")]
    pub(crate) type_: String,
    pub(crate) credentials_file: String,
}

/// `basic_auth` (prometheus/common v0.65.0 `BasicAuth`) from files.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct BasicAuth {
    pub(crate) username_file: String,
    pub(crate) password_file: String,
}

/// Per-job scrape limits (Prometheus v3.5.3 config/config.go `ScrapeConfig`:
/// `sample_limit`, `target_limit`, `label_limit`, `label_name_length_limit`,
/// `label_value_length_limit`, each `uint`, 0 meaning none).
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// `sample_limit`.
    pub sample_limit: u32,
    /// `target_limit`.
    pub target_limit: u32,
    /// `label_limit`.
    pub label_limit: u32,
    /// `label_name_length_limit`.
    pub label_name_length_limit: u32,
    /// `label_value_length_limit`.
    pub label_value_length_limit: u32,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct StaticConfig {
    targets: Vec<String>,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct KubernetesSd {
    pub(crate) role: String,
    /// Unset: every namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) namespaces: Option<Namespaces>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) selectors: Vec<Selector>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Namespaces {
    pub(crate) names: Vec<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Selector {
    pub(crate) role: String,
    pub(crate) label: String,
}

/// A `relabel_config` (Prometheus v3.5.3 model/relabel/relabel.go `Config`).
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub(crate) struct Relabel {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) source_labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) separator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) regex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) modulus: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) target_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) replacement: Option<String>,
    pub(crate) action: String,
}

/// OTLP resource attributes promoted to labels on every series Prometheus receives
/// (Prometheus v3.5.0 `storage/remote/otlptranslator/prometheusremotewrite/helper.go`
/// makes the rest only `target_info` labels, and none at all for a resource without
/// `service.name` or `service.instance.id`, such as the node agent's kubelet
/// metrics). The Kubernetes ones are those the collectors' `k8s_attributes` and
/// the kubelet receiver set (`crate::render::k8s_metadata`, `crate::render::node_agent`),
/// and the reason a container last stopped, which the cluster collector's
/// `k8s_cluster` receiver sets (`crate::render::cluster_collector`).
const PROMOTED_ATTRIBUTES: [&str; 15] = [
    "deployment.environment",
    "deployment.environment.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "k8s.node.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.job.name",
    "k8s.volume.name",
    "k8s.container.status.last_terminated_reason",
    "service.instance.id",
    "service.name",
    "service.namespace",
];

/// Where Prometheus discovers the cluster's annotated workloads, as far as the
/// install lets it read (`crate::build::prometheus::discovery` decides).
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    /// The namespaces to look in; empty: every namespace.
    pub namespaces: Vec<String>,
    /// Service endpoints too, found by this `kubernetes_sd_configs` role
    /// (`endpointslice`, or `endpoints` where `discovery.k8s.io/v1` is not
    /// served); `None`: pods only.
    pub service_role: Option<&'static str>,
}

/// The job of annotated pods.
pub const PODS_JOB: &str = "kubernetes-pods";
/// The job of annotated Services' endpoints.
pub const SERVICES_JOB: &str = "kubernetes-services";

/// The external label that tells Prometheus replicas apart, which the Thanos
/// Query removes to merge them (`--query.replica-label`). prometheus-operator's
/// default name, not `replica`: the sidecar puts the external labels over any
/// label of the same name on a series (thanos-io/thanos v0.42.4
/// `pkg/store/labelpb/label.go` ExtendSortedLabels, used by
/// `pkg/store/prometheus.go`), and the Query then drops it, so a scraped
/// workload's own `replica` label would be lost.
pub const REPLICA_LABEL: &str = "prometheus_replica";
/// The environment variable holding the pod's name in each replica.
pub const POD_NAME_ENV: &str = "POD_NAME";

/// `sextant_stack`, and in replicas `prometheus_replica: ${POD_NAME}`: one config for
/// every replica, which Prometheus 3 expands from the environment when it loads
/// it (prometheus/prometheus v3.5.0 `config/config.go` `Load`, no feature flag
/// since 3.0; checked with Prometheus 3.5.3 in `tests/prometheus_ha.rs`). The
/// Thanos sidecar refuses to start while Prometheus has no external labels and
/// reads them expanded from `/api/v1/status/config` (thanos-io/thanos v0.42.4
/// `cmd/thanos/sidecar.go`, `pkg/promclient/promclient.go`).
fn external_labels(stack: &ValidatedStack) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([("sextant_stack".into(), stack.name.clone())]);
    if stack.prometheus_ha() {
        labels.insert(REPLICA_LABEL.into(), format!("${{{POD_NAME_ENV}}}"));
    }
    labels
}

/// Renders `prometheus.yml`: a job per component that runs here
/// (`Capabilities::runs`: no node-agent job where the agent is not run); with
/// `discovery`, also the jobs of the cluster's annotated pods and Services; then
/// the jobs translated from the monitors the stack selects
/// (`crate::render::monitors`).
pub fn render(
    stack: &ValidatedStack,
    caps: &Capabilities,
    discovery: Option<&Discovery>,
    monitor_jobs: &[ScrapeConfig],
) -> Config {
    let interval = format_go_duration(stack.scrape_interval);
    let mut scrape_configs = vec![ScrapeConfig {
        job_name: "prometheus".into(),
        metrics_path: None,
        static_configs: vec![StaticConfig {
            targets: vec![format!("localhost:{}", ports::PROMETHEUS)],
            labels: BTreeMap::from([("component".into(), "prometheus".into())]),
        }],
        ..ScrapeConfig::default()
    }];
    for component in Component::ALL {
        if let Some(port) = component.scrape_port()
            && caps.runs(stack, component)
        {
            scrape_configs.push(pod_job(stack, component, port));
        }
    }
    if let Some(d) = discovery {
        scrape_configs.push(annotated_pods(stack, d));
        if let Some(role) = d.service_role {
            scrape_configs.push(annotated_services(stack, d, role));
        }
    }
    scrape_configs.extend_from_slice(monitor_jobs);
    Config {
        global: Global {
            scrape_interval: interval.clone(),
            evaluation_interval: interval,
            external_labels: external_labels(stack),
        },
        rule_files: recording_rules(stack)
            .map(|_| format!("/etc/prometheus/{RECORDING_RULES_FILE}"))
            .into_iter()
            .collect(),
        otlp: Otlp {
            promote_resource_attributes: PROMOTED_ATTRIBUTES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            keep_identifying_resource_attributes: true,
        },
        storage: Storage {
            tsdb: Tsdb {
                out_of_order_time_window: "30m".into(),
            },
            exemplars: Exemplars {
                max_exemplars: 100_000,
            },
        },
        scrape_configs,
    }
}

/// A job scraping the pods of one component on its named port, found through the
/// Kubernetes API in the stack's namespace only.
fn pod_job(stack: &ValidatedStack, component: Component, port_name: &str) -> ScrapeConfig {
    ScrapeConfig {
        job_name: component.name().into(),
        kubernetes_sd_configs: vec![KubernetesSd {
            role: "pod".into(),
            namespaces: Some(Namespaces {
                names: vec![stack.namespace.clone()],
            }),
            selectors: vec![Selector {
                role: "pod".into(),
                label: format!(
                    "app.kubernetes.io/instance={},app.kubernetes.io/name={}",
                    stack.name,
                    component.name()
                ),
            }],
        }],
        relabel_configs: vec![
            keep_or_drop(
                "keep",
                "__meta_kubernetes_pod_container_port_name",
                port_name,
            ),
            copy("__meta_kubernetes_namespace", "namespace"),
            copy("__meta_kubernetes_pod_name", "pod"),
            set("component", component.name()),
        ],
        ..ScrapeConfig::default()
    }
}

/// `replace` of one label into another.
pub(crate) fn copy(source: &str, target: &str) -> Relabel {
    Relabel {
        source_labels: vec![source.into()],
        target_label: Some(target.into()),
        action: "replace".into(),
        ..Relabel::default()
    }
}

/// `replace` of the joined `sources` matching `regex` into `target`.
fn rewrite(sources: &[&str], regex: &str, replacement: &str, target: &str) -> Relabel {
    Relabel {
        source_labels: sources.iter().map(|s| s.to_string()).collect(),
        regex: Some(regex.into()),
        target_label: Some(target.into()),
        replacement: Some(replacement.into()),
        action: "replace".into(),
        ..Relabel::default()
    }
}

pub(crate) fn keep_or_drop(action: &str, source: &str, regex: &str) -> Relabel {
    Relabel {
        source_labels: vec![source.into()],
        regex: Some(regex.into()),
        action: action.into(),
        ..Relabel::default()
    }
}

/// `replace` setting a label to a fixed value.
pub(crate) fn set(target: &str, value: &str) -> Relabel {
    Relabel {
        target_label: Some(target.into()),
        replacement: Some(value.into()),
        action: "replace".into(),
        ..Relabel::default()
    }
}

/// The stack's scrape limits (`prometheus.discovery.limits`), of every job it
/// discovers and the most any monitor may set.
pub fn limits(stack: &ValidatedStack) -> Limits {
    let l = &stack.spec.prometheus.discovery.limits;
    Limits {
        sample_limit: l.sample_limit,
        target_limit: l.target_limit,
        label_limit: l.label_limit,
        label_name_length_limit: l.label_name_length_limit,
        label_value_length_limit: l.label_value_length_limit,
    }
}

fn sd(role: &str, d: &Discovery) -> KubernetesSd {
    KubernetesSd {
        role: role.into(),
        namespaces: (!d.namespaces.is_empty()).then(|| Namespaces {
            names: d.namespaces.clone(),
        }),
        selectors: vec![],
    }
}

/// The annotation's meta label: Prometheus v3.5.3
/// discovery/kubernetes/pod.go `addObjectMetaLabels` (used for every role's
/// objects) adds `__meta_kubernetes_<role>_annotation_<name>` with the name
/// through `strutil.SanitizeLabelName`, which turns `prometheus.io/scrape` into
/// `prometheus_io_scrape`.
fn annotation(kind: &str, name: &str) -> String {
    format!("__meta_kubernetes_{kind}_annotation_prometheus_io_{name}")
}

/// Scheme and path from the annotations of `kind` (`pod` or `service`).
fn scheme_and_path(kind: &str) -> [Relabel; 2] {
    [
        rewrite(
            &[&annotation(kind, "scheme")],
            "(https?)",
            "$1",
            "__scheme__",
        ),
        rewrite(
            &[&annotation(kind, "path")],
            "(.+)",
            "$1",
            "__metrics_path__",
        ),
    ]
}

/// The pods annotated `prometheus.io/scrape: "true"` (the convention of
/// Prometheus's own documentation/examples/prometheus-kubernetes.yml and the
/// community charts). The pod role makes one target per declared container port
/// (and one, the bare pod IP, for a pod without ports); with
/// `prometheus.io/port` the address becomes the pod IP and that port (IPv6 in
/// brackets), and the identical targets collapse into one (scrape pools
/// deduplicate targets by their labels). Pods that have finished or not started,
/// and init containers, are left out.
fn annotated_pods(stack: &ValidatedStack, d: &Discovery) -> ScrapeConfig {
    let port = annotation("pod", "port");
    let mut relabel = vec![
        keep_or_drop("keep", &annotation("pod", "scrape"), "true"),
        keep_or_drop(
            "drop",
            "__meta_kubernetes_pod_phase",
            "Pending|Succeeded|Failed",
        ),
        keep_or_drop("drop", "__meta_kubernetes_pod_container_init", "true"),
    ];
    relabel.extend(scheme_and_path("pod"));
    relabel.extend([
        rewrite(
            &["__meta_kubernetes_pod_ip", &port],
            "([^:]+);([0-9]+)",
            "$1:$2",
            "__address__",
        ),
        rewrite(
            &["__meta_kubernetes_pod_ip", &port],
            "(.*:.*);([0-9]+)",
            "[$1]:$2",
            "__address__",
        ),
        copy("__meta_kubernetes_namespace", "namespace"),
        copy("__meta_kubernetes_pod_name", "pod"),
        copy("__meta_kubernetes_pod_node_name", "node"),
    ]);
    ScrapeConfig {
        job_name: PODS_JOB.into(),
        limits: Some(limits(stack)),
        kubernetes_sd_configs: vec![sd("pod", d)],
        relabel_configs: relabel,
        ..ScrapeConfig::default()
    }
}

/// The endpoints of Services annotated `prometheus.io/scrape: "true"`: one
/// target per endpoint address and Service port; with `prometheus.io/port`, that
/// port on every address (the address of both roles is `net.JoinHostPort`'s, so
/// an IPv6 one is already in brackets). Both roles add the Service's labels
/// (`addServiceLabels`) and, for an endpoint backed by a pod, the pod's
/// (`podLabels` of pod.go: name, node); Prometheus v3.5.3
/// discovery/kubernetes/endpoints.go and endpointslice.go.
fn annotated_services(stack: &ValidatedStack, d: &Discovery, role: &str) -> ScrapeConfig {
    let mut relabel = vec![keep_or_drop(
        "keep",
        &annotation("service", "scrape"),
        "true",
    )];
    relabel.extend(scheme_and_path("service"));
    relabel.extend([
        rewrite(
            &["__address__", &annotation("service", "port")],
            "(.+?)(?::[0-9]+)?;([0-9]+)",
            "$1:$2",
            "__address__",
        ),
        copy("__meta_kubernetes_namespace", "namespace"),
        copy("__meta_kubernetes_service_name", "service"),
        copy("__meta_kubernetes_pod_name", "pod"),
        copy("__meta_kubernetes_pod_node_name", "node"),
    ]);
    ScrapeConfig {
        job_name: SERVICES_JOB.into(),
        limits: Some(limits(stack)),
        kubernetes_sd_configs: vec![sd(role, d)],
        relabel_configs: relabel,
        ..ScrapeConfig::default()
    }
}

/// The command-line flags: storage, retention, receivers and features.
pub fn args(stack: &ValidatedStack) -> Vec<String> {
    vec![
        "--config.file=/etc/prometheus/prometheus.yml".into(),
        "--storage.tsdb.path=/prometheus".into(),
        format!(
            "--storage.tsdb.retention.time={}",
            format_go_duration(stack.metrics_retention)
        ),
        format!(
            "--storage.tsdb.retention.size={}",
            format_byte_size_mb(stack.prometheus_retention_bytes)
        ),
        "--web.enable-otlp-receiver".into(),
        "--web.enable-remote-write-receiver".into(),
        "--web.enable-lifecycle".into(),
        "--enable-feature=exemplar-storage".into(),
        format!("--web.listen-address=:{}", ports::PROMETHEUS),
    ]
}

/// A Prometheus rule file (`groups:`), for `promtool check rules`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct RuleFile {
    /// The rule groups.
    pub groups: Vec<RuleGroup>,
}
