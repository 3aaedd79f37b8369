//! What a failing end-to-end test prints: objects as YAML (without managed fields), the
//! namespace's events, and the tail of the operator's and simulated kubelet's logs.
//! Gathering diagnostics never fails a test by itself: every error becomes text.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{DynamicObject, ListParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Environment variable naming the operator's log file, whose tail is printed.
pub const OPERATOR_LOG_ENV: &str = "SEXTANT_E2E_OPERATOR_LOG";
/// Environment variable naming the simulated kubelet's log file, whose tail is printed.
pub const KUBELET_LOG_ENV: &str = "SEXTANT_E2E_KUBELET_LOG";

/// Lines of each log file that are printed.
const LOG_TAIL_LINES: usize = 60;
/// A report longer than this is cut, so one failure does not drown the others.
const MAX_REPORT_CHARS: usize = 80_000;
/// How long gathering one report may take.
const GATHER_TIMEOUT: Duration = Duration::from_secs(20);

/// Renders an object as YAML, without `managedFields`.
pub fn to_yaml<K: Serialize + Clone + ResourceExt>(obj: &K) -> String {
    let mut obj = obj.clone();
    obj.meta_mut().managed_fields = None;
    serde_yaml_ng::to_string(&obj).unwrap_or_else(|e| format!("<not serializable: {e}>"))
}

/// Everything worth knowing about `namespace` when a wait there timed out.
pub async fn namespace_report(client: &Client, namespace: &str) -> String {
    match tokio::time::timeout(GATHER_TIMEOUT, gather_namespace(client, namespace)).await {
        Ok(report) => truncate(report),
        Err(_) => format!("<gathering diagnostics for namespace {namespace} timed out>\n"),
    }
}

async fn gather_namespace(client: &Client, namespace: &str) -> String {
    let mut out = String::new();
    section::<StatefulSet>(&mut out, client, namespace).await;
    section::<Deployment>(&mut out, client, namespace).await;
    section::<Pod>(&mut out, client, namespace).await;
    stacks_section(&mut out, client, namespace).await;
    out.push_str(&events(client, namespace).await);
    out
}

/// Appends every `K` in `namespace` as YAML.
async fn section<K>(out: &mut String, client: &Client, namespace: &str)
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    match api.list(&ListParams::default()).await {
        Ok(list) if list.items.is_empty() => {}
        Ok(list) => {
            let _ = writeln!(out, "--- {} in {namespace}:", K::kind(&()));
            for item in &list.items {
                out.push_str(&to_yaml(item));
                out.push_str("---\n");
            }
        }
        Err(e) => {
            let _ = writeln!(out, "--- {}: cannot list: {e}", K::kind(&()));
        }
    }
}

/// Appends the namespace's ObservabilityStacks, when the CRD is installed.
async fn stacks_section(out: &mut String, client: &Client, namespace: &str) {
    let Ok((resource, _)) = kube::discovery::pinned_kind(client, &crate::stack::gvk()).await else {
        return;
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    if let Ok(list) = api.list(&ListParams::default()).await
        && !list.items.is_empty()
    {
        let _ = writeln!(out, "--- {} in {namespace}:", crate::stack::KIND);
        for item in &list.items {
            out.push_str(&to_yaml(item));
            out.push_str("---\n");
        }
    }
}

/// The namespace's events, oldest first, one line each.
pub async fn events(client: &Client, namespace: &str) -> String {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let mut events = match api.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(e) => return format!("--- events in {namespace}: cannot list: {e}\n"),
    };
    events.sort_by_key(|e| {
        e.last_timestamp
            .clone()
            .or_else(|| e.metadata.creation_timestamp.clone())
    });
    let mut out = format!("--- events in {namespace} ({}):\n", events.len());
    for e in &events {
        let when = e
            .last_timestamp
            .as_ref()
            .or(e.metadata.creation_timestamp.as_ref())
            .map(|t| t.0.to_string())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{when} {} {} {}/{}: {} (x{})",
            e.type_.as_deref().unwrap_or("-"),
            e.reason.as_deref().unwrap_or("-"),
            e.involved_object.kind.as_deref().unwrap_or("-"),
            e.involved_object.name.as_deref().unwrap_or("-"),
            e.message.as_deref().unwrap_or_default().trim(),
            e.count.unwrap_or(1),
        );
    }
    out
}

/// Where `e2e/cluster.sh` writes the simulated kubelet's log.
pub fn default_kubelet_log() -> PathBuf {
    crate::cluster::state_dir()
        .join("logs")
        .join("sim-kubelet.log")
}

/// The log files whose tails a failure shows: `$SEXTANT_E2E_OPERATOR_LOG`; every log in
/// the local control plane's `logs/` whose name contains `namespace` (e.g. the
/// per-test operator's `operator-<namespace>.log`); and `$SEXTANT_E2E_KUBELET_LOG` or
/// else the local control plane's sim-kubelet log, if present.
fn log_files(namespace: Option<&str>) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    if let Some(path) = std::env::var_os(OPERATOR_LOG_ENV) {
        files.push((PathBuf::from(path), format!("${OPERATOR_LOG_ENV}")));
    }
    if let Some(namespace) = namespace {
        let dir = crate::cluster::state_dir().join("logs");
        let mut own: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.contains(namespace))
                    })
                    .collect()
            })
            .unwrap_or_default();
        own.sort();
        files.extend(
            own.into_iter()
                .map(|p| (p, format!("a log of namespace {namespace}"))),
        );
    }
    match std::env::var_os(KUBELET_LOG_ENV) {
        Some(path) => files.push((PathBuf::from(path), format!("${KUBELET_LOG_ENV}"))),
        None if default_kubelet_log().exists() => {
            files.push((
                default_kubelet_log(),
                "the local control plane's sim-kubelet log".to_owned(),
            ));
        }
        None => {}
    }
    files
}

/// The tails of the logs worth reading after a failure in `namespace` (see
/// [`log_files`]).
pub fn log_tails(namespace: Option<&str>) -> String {
    log_files(namespace)
        .into_iter()
        .map(|(path, why)| {
            let shown = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let lines: Vec<&str> = text.lines().collect();
                    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
                    format!(
                        "--- last {} lines of {shown} ({why}):\n{}\n",
                        tail.len(),
                        tail.join("\n")
                    )
                }
                Err(e) => format!("--- {shown} ({why}): cannot read: {e}\n"),
            }
        })
        .collect()
}

fn truncate(mut report: String) -> String {
    if report.len() > MAX_REPORT_CHARS {
        let mut cut = MAX_REPORT_CHARS;
        while !report.is_char_boundary(cut) {
            cut -= 1;
        }
        report.truncate(cut);
        report.push_str("\n<diagnostics truncated>\n");
    }
    report
}
