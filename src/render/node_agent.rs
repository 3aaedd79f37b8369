//! The node agent's collector configuration: pod logs from `/var/log/pods`,
//! the kubelet's resource metrics and optionally the host's, each with the pod's
//! Kubernetes metadata, sent over OTLP to the stack's collector.
//!
//! Schema: opentelemetry-collector-contrib at the version pinned in
//! `crate::model::images::COLLECTOR`. The contrib repository is too large to fetch
//! here, so its receivers were read in stored copies, not at v0.159.0 (each with
//! the commit it was read at in docs/research/node-agent.md): the `file_log`
//! receiver (`receiver/filelogreceiver/README.md`; `filelog` until contrib
//! v0.149.0, now a deprecated alias, per the OpenTelemetry Helm chart's UPGRADING.md
//! at `opentelemetry-collector-0.170.0`) with the stanza `container` operator
//! (`pkg/stanza/operator/parser/container/config.go` and `parser.go`: it detects
//! the Docker, CRI-O and containerd formats by itself, joins CRI partial lines per
//! file, and sets `k8s.namespace.name`, `k8s.pod.name`, `k8s.pod.uid` and
//! `k8s.container.name` from the file path, which needs `include_file_path`); the
//! `file_storage` extension (`extension/storage/filestorage/README.md`); the
//! `kubeletstats` receiver (`receiver/kubeletstatsreceiver/config.go`,
//! `factory.go`: the `volume` group is not among the default groups, `auth_type`
//! `serviceAccount` reads the pod's token); the `hostmetrics` receiver
//! (`receiver/hostmetricsreceiver/README.md`). The exporter's persistent queue is
//! core's `exporterhelper` `sending_queue.storage`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::k8s_metadata::{self, K8sAttributes, NODE_NAME_ENV};
use super::otelcol::{
    Batch, Endpoint, ForwarderService, MemoryLimiter, TO_GATEWAY, ToGateway, batch, health_check,
    memory_limiter, pipeline, telemetry, to_gateway,
};
use crate::model::{Component, ValidatedStack, child_name};
use crate::units::format_go_duration;

/// Where the node's pod logs are, as the kubelet writes them:
/// `<namespace>_<pod>_<uid>/<container>/<restart>.log`.
pub const POD_LOGS: &str = "/var/log/pods";
/// Where the agent keeps its read positions and its export queue, in the pod; a
/// hostPath directory per stack (`build::node_agent`), so both survive a restart
/// of the pod.
pub const STATE_DIR: &str = "/var/lib/otelcol";
/// Where the host's root is mounted read-only for `hostmetrics`.
pub const HOST_ROOT: &str = "/hostfs";
/// The environment variable holding the node's IP (downward API `status.hostIP`),
/// the kubelet's address.
pub const NODE_IP_ENV: &str = "K8S_NODE_IP";
/// The agent's container name, which its own log files carry in their path.
pub const CONTAINER: &str = "agent";

/// The whole config file.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Config {
    extensions: Extensions,
    receivers: Receivers,
    processors: Processors,
    exporters: ToGateway,
    service: ForwarderService,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Extensions {
    health_check: Endpoint,
    file_storage: FileStorage,
}

/// Read positions and queued batches, on the node.
#[derive(Serialize, Debug, Clone, PartialEq)]
struct FileStorage {
    directory: String,
    /// The hostPath is created by the kubelet (`DirectoryOrCreate`); this also
    /// covers a directory removed while the pod runs.
    create_directory: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Receivers {
    #[serde(skip_serializing_if = "Option::is_none")]
    file_log: Option<FileLog>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kubeletstats: Option<KubeletStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostmetrics: Option<HostMetrics>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct FileLog {
    include: Vec<String>,
    exclude: Vec<String>,
    /// A file first seen is read from its end (a new agent does not re-send the
    /// node's history); after that, from the position kept in `storage`, so lines
    /// written while the agent restarted are read then.
    start_at: &'static str,
    include_file_path: bool,
    include_file_name: bool,
    storage: &'static str,
    /// Back off instead of dropping lines while the collector refuses data.
    retry_on_failure: FileLogRetry,
    operators: Vec<Operator>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct FileLogRetry {
    enabled: bool,
    /// 0: retry until the collector takes the lines (the position is not moved on
    /// meanwhile, so nothing is skipped).
    max_elapsed_time: &'static str,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Operator {
    #[serde(rename = "type")]
    type_: &'static str,
    id: &'static str,
    /// A line joined from CRI partial lines is cut at this size (bytes).
    max_log_size: u32,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct KubeletStats {
    auth_type: &'static str,
    endpoint: String,
    insecure_skip_verify: bool,
    collection_interval: String,
    metric_groups: Vec<&'static str>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct HostMetrics {
    root_path: &'static str,
    collection_interval: String,
    scrapers: BTreeMap<&'static str, Scraper>,
}

#[derive(Serialize, Debug, Clone, PartialEq, Default)]
struct Scraper {
    #[serde(skip_serializing_if = "Option::is_none")]
    exclude_mount_points: Option<Match>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exclude_fs_types: Option<Match>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Match {
    match_type: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mount_points: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fs_types: Vec<&'static str>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Processors {
    memory_limiter: MemoryLimiter,
    k8s_attributes: K8sAttributes,
    batch: Batch,
}

/// Mount points of the host that are not its disks: the kubelet's and the
/// container runtime's own mounts, and virtual filesystems.
const EXCLUDED_MOUNT_POINTS: [&str; 7] = [
    "/dev/*",
    "/proc/*",
    "/sys/*",
    "/run/k3s/containerd/*",
    "/var/lib/docker/*",
    "/var/lib/kubelet/*",
    "/snap/*",
];

/// Filesystem types that hold no user data.
const EXCLUDED_FS_TYPES: [&str; 22] = [
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "fusectl",
    "hugetlbfs",
    "iso9660",
    "mqueue",
    "nsfs",
    "overlay",
    "proc",
    "procfs",
    "pstore",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "sysfs",
];

/// Whether the agent sends logs: asked for, and Loki runs to keep them.
pub fn sends_logs(stack: &ValidatedStack) -> bool {
    stack.spec.node_agent.logs.enabled && stack.enabled(Component::Loki)
}

/// Whether the agent sends metrics: kubelet or host metrics asked for, and
/// Prometheus runs to keep them.
pub fn sends_metrics(stack: &ValidatedStack) -> bool {
    let a = &stack.spec.node_agent;
    (a.kubelet_metrics.enabled || a.host_metrics.enabled) && stack.enabled(Component::Prometheus)
}

/// The glob of one namespace's pod log files.
fn namespace_logs(namespace: &str) -> String {
    format!("{POD_LOGS}/{namespace}_*/*/*.log")
}

/// Renders the agent's config. `memory_limit_bytes` is its container's limit.
pub fn render(stack: &ValidatedStack, memory_limit_bytes: u128) -> Config {
    let agent = &stack.spec.node_agent;
    let logs = sends_logs(stack);
    let metrics = sends_metrics(stack);
    let interval = format_go_duration(stack.kubelet_interval);

    // The agent's own log lines are left out: each would be a log record about
    // sending log records.
    let own_pods = format!(
        "{POD_LOGS}/{}_{}-*_*/{CONTAINER}/*.log",
        stack.namespace,
        child_name(&stack.name, Component::NodeAgent, None)
    );
    let mut exclude = vec![own_pods];
    exclude.extend(
        agent
            .logs
            .exclude_namespaces
            .iter()
            .map(|n| namespace_logs(n)),
    );
    let file_log = logs.then(|| FileLog {
        include: vec![format!("{POD_LOGS}/*/*/*.log")],
        exclude,
        start_at: "end",
        include_file_path: true,
        include_file_name: false,
        storage: "file_storage",
        retry_on_failure: FileLogRetry {
            enabled: true,
            max_elapsed_time: "0s",
        },
        operators: vec![Operator {
            type_: "container",
            id: "container-parser",
            max_log_size: 102_400,
        }],
    });
    let kubeletstats = (metrics && agent.kubelet_metrics.enabled).then(|| KubeletStats {
        auth_type: "serviceAccount",
        endpoint: format!("https://${{env:{NODE_IP_ENV}}}:10250"),
        insecure_skip_verify: agent.kubelet_metrics.insecure_skip_verify,
        collection_interval: interval.clone(),
        metric_groups: vec!["node", "pod", "container", "volume"],
    });
    let hostmetrics = (metrics && agent.host_metrics.enabled).then(|| HostMetrics {
        root_path: HOST_ROOT,
        collection_interval: interval.clone(),
        scrapers: BTreeMap::from([
            ("cpu", Scraper::default()),
            ("load", Scraper::default()),
            ("memory", Scraper::default()),
            ("disk", Scraper::default()),
            ("network", Scraper::default()),
            (
                "filesystem",
                Scraper {
                    exclude_mount_points: Some(Match {
                        match_type: "regexp",
                        mount_points: EXCLUDED_MOUNT_POINTS.to_vec(),
                        fs_types: Vec::new(),
                    }),
                    exclude_fs_types: Some(Match {
                        match_type: "strict",
                        mount_points: Vec::new(),
                        fs_types: EXCLUDED_FS_TYPES.to_vec(),
                    }),
                },
            ),
        ]),
    });

    let processors = ["memory_limiter", "k8s_attributes", "batch"];
    let exporter = [TO_GATEWAY];
    let mut pipelines = BTreeMap::new();
    if logs {
        pipelines.insert("logs", pipeline(&["file_log"], &processors, &exporter));
    }
    let mut metric_receivers = Vec::new();
    if kubeletstats.is_some() {
        metric_receivers.push("kubeletstats");
    }
    if hostmetrics.is_some() {
        metric_receivers.push("hostmetrics");
    }
    if !metric_receivers.is_empty() {
        pipelines.insert(
            "metrics",
            pipeline(&metric_receivers, &processors, &exporter),
        );
    }

    Config {
        extensions: Extensions {
            health_check: health_check(),
            file_storage: FileStorage {
                directory: STATE_DIR.into(),
                create_directory: true,
            },
        },
        receivers: Receivers {
            file_log,
            kubeletstats,
            hostmetrics,
        },
        processors: Processors {
            memory_limiter: memory_limiter(memory_limit_bytes),
            k8s_attributes: k8s_metadata::node_agent(),
            batch: batch(),
        },
        exporters: to_gateway(stack, Some("file_storage")),
        service: ForwarderService {
            extensions: vec!["health_check", "file_storage"],
            telemetry: telemetry(),
            pipelines,
        },
    }
}

/// The environment variables the config reads, with their downward-API fields.
pub fn env_fields() -> [(&'static str, &'static str); 2] {
    [
        (NODE_NAME_ENV, "spec.nodeName"),
        (NODE_IP_ENV, "status.hostIP"),
    ]
}
