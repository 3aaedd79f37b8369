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
use crate::model::Component;
use crate::model::ValidatedStack;
use crate::model::ports;
use crate::units::{format_byte_size_mb, format_go_duration};

/// `prometheus.yml`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Config {
    global: Global,
    otlp: Otlp,
    storage: Storage,
    scrape_configs: Vec<ScrapeConfig>,
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

#[derive(Serialize, Debug, Clone, PartialEq)]
struct ScrapeConfig {
    job_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_path: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    static_configs: Vec<StaticConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    kubernetes_sd_configs: Vec<KubernetesSd>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    relabel_configs: Vec<Relabel>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct StaticConfig {
    targets: Vec<String>,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct KubernetesSd {
    role: String,
    namespaces: Namespaces,
    selectors: Vec<Selector>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Namespaces {
    names: Vec<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Selector {
    role: String,
    label: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Relabel {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    source_labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    regex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replacement: Option<String>,
    action: String,
}

/// OTLP resource attributes promoted to labels on every series Prometheus receives
/// (Prometheus v3.5.0 `storage/remote/otlptranslator/prometheusremotewrite/helper.go`
/// makes the rest only `target_info` labels, and none at all for a resource without
/// `service.name` or `service.instance.id`, such as the node agent's kubelet
/// metrics). The Kubernetes ones are those the collectors' `k8s_attributes` and
/// the kubelet receiver set (`crate::render::k8s_metadata`, `crate::render::node_agent`).
const PROMOTED_ATTRIBUTES: [&str; 14] = [
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
    "service.instance.id",
    "service.name",
    "service.namespace",
];

/// Renders `prometheus.yml`.
pub fn render(stack: &ValidatedStack) -> Config {
    let interval = format_go_duration(stack.scrape_interval);
    let mut scrape_configs = vec![ScrapeConfig {
        job_name: "prometheus".into(),
        metrics_path: None,
        static_configs: vec![StaticConfig {
            targets: vec![format!("localhost:{}", ports::PROMETHEUS)],
            labels: BTreeMap::from([("component".into(), "prometheus".into())]),
        }],
        kubernetes_sd_configs: vec![],
        relabel_configs: vec![],
    }];
    for component in Component::ALL {
        if let Some(port) = component.scrape_port()
            && stack.enabled(component)
        {
            scrape_configs.push(pod_job(stack, component, port));
        }
    }
    Config {
        global: Global {
            scrape_interval: interval.clone(),
            evaluation_interval: interval,
            external_labels: BTreeMap::from([("sextant_stack".into(), stack.name.clone())]),
        },
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
    let relabel = |source: &str, target: &str| Relabel {
        source_labels: vec![source.into()],
        regex: None,
        target_label: Some(target.into()),
        replacement: None,
        action: "replace".into(),
    };
    ScrapeConfig {
        job_name: component.name().into(),
        metrics_path: None,
        static_configs: vec![],
        kubernetes_sd_configs: vec![KubernetesSd {
            role: "pod".into(),
            namespaces: Namespaces {
                names: vec![stack.namespace.clone()],
            },
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
            Relabel {
                source_labels: vec!["__meta_kubernetes_pod_container_port_name".into()],
                regex: Some(port_name.into()),
                target_label: None,
                replacement: None,
                action: "keep".into(),
            },
            relabel("__meta_kubernetes_namespace", "namespace"),
            relabel("__meta_kubernetes_pod_name", "pod"),
            Relabel {
                source_labels: vec![],
                regex: None,
                target_label: Some("component".into()),
                replacement: Some(component.name().into()),
                action: "replace".into(),
            },
        ],
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
