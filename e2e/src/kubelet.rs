//! A SIMULATED kubelet for the local control plane, which has no scheduler and no
//! kubelet: it registers one or more Nodes (with labels and taints), binds every
//! unscheduled pod to the first node it fits, reports bound pods Running and Ready
//! after a delay, and finishes pod deletions. Containers never run. It owns the pod
//! watch and the per-pod tasks; the pure decisions live in [`pod`] and
//! [`schedule`], the Nodes in [`node`].

pub mod node;
pub mod pod;
pub mod schedule;

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tracing::{debug, info, warn};

use self::pod::Action;
use self::schedule::SimNode;

/// How the simulated kubelet behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The Nodes this kubelet registers and binds pods to, in the order pods are
    /// fitted to them.
    pub nodes: Vec<SimNode>,
    /// How long a bound pod stays Pending before it is reported Running and Ready.
    pub ready_delay: Duration,
    /// How often the Node's Ready condition and Lease are renewed.
    pub heartbeat_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            nodes: vec![SimNode::new("sextant-sim-node")],
            ready_delay: Duration::from_millis(500),
            heartbeat_interval: Duration::from_secs(10),
        }
    }
}

/// How many times a status patch is tried before waiting for the next watch event.
const STATUS_ATTEMPTS: u32 = 5;

/// Runs the simulated kubelet until `shutdown` completes or the watch ends.
pub async fn run(
    client: Client,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    for n in &options.nodes {
        node::register(&client, n).await?;
    }
    let heartbeat = futures::future::join_all(
        options
            .nodes
            .iter()
            .map(|n| node::heartbeat_loop(client.clone(), n.clone(), options.heartbeat_interval)),
    );
    tokio::select! {
        () = shutdown => info!("shutdown requested, stopping the simulated kubelet"),
        _ = heartbeat => {}
        () = watch_pods(client, options) => warn!("pod watch ended"),
    }
    Ok(())
}

/// Pods whose "mark running" task is in flight, by UID, so each gets one task at a time.
type InFlight = Arc<Mutex<HashSet<String>>>;

/// Watches pods in every namespace and acts on each event.
async fn watch_pods(client: Client, options: Options) {
    let in_flight: InFlight = Arc::default();
    let pods: Api<Pod> = Api::all(client.clone());
    let mut events = watcher(pods, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .boxed();
    let names: Vec<&str> = options.nodes.iter().map(|n| n.name.as_str()).collect();
    info!(nodes = ?names, "watching pods in all namespaces");
    while let Some(event) = events.next().await {
        match event {
            Ok(pod) => handle(&client, &options, &in_flight, pod).await,
            Err(e) => warn!(error = %e, "pod watch error, retrying"),
        }
    }
}

async fn handle(client: &Client, options: &Options, in_flight: &InFlight, pod: Pod) {
    let (Some(namespace), name) = (pod.namespace(), pod.name_any()) else {
        return;
    };
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let result = match pod::decide(&pod, &options.nodes) {
        Action::Ignore => Ok(()),
        Action::Bind(node) => bind(&api, &pod, &node).await,
        Action::Unschedulable(why) => unschedulable(&api, &pod, &why).await,
        Action::FinalizeDeletion => finalize_deletion(&api, &pod).await,
        Action::MarkRunning => {
            schedule_mark_running(api, pod, options, in_flight);
            Ok(())
        }
    };
    if let Err(e) = result {
        warn!(pod = %format!("{namespace}/{name}"), error = %e, "pod action failed");
    }
}

/// Binds `pod` to `node` through the `pods/binding` subresource, as a scheduler does.
async fn bind(api: &Api<Pod>, pod: &Pod, node: &str) -> Result<(), kube::Error> {
    let name = pod.name_any();
    let binding = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, "uid": pod.uid()},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    });
    let result: Result<serde_json::Value, _> = api
        .create_subresource("binding", &name, &PostParams::default(), &binding)
        .await;
    match result {
        Ok(_) => {
            info!(pod = %format!("{}/{name}", pod.namespace().unwrap_or_default()), node, "bound pod");
            Ok(())
        }
        // Already bound (by an earlier pass or another kubelet), or gone meanwhile.
        Err(kube::Error::Api(s)) if s.is_conflict() || s.is_not_found() => {
            debug!(pod = %name, reason = %s.message, "pod not bound");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Records why no node fits the pod, as kube-scheduler does in `PodScheduled`.
async fn unschedulable(api: &Api<Pod>, pod: &Pod, why: &str) -> Result<(), kube::Error> {
    let name = pod.name_any();
    let patch = pod::unschedulable_patch(why, &node::now());
    match api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            info!(pod = %format!("{}/{name}", pod.namespace().unwrap_or_default()), why, "pod unschedulable");
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes a terminating pod at once: the real kubelet confirms deletion once its
/// containers stopped; ours never ran any.
async fn finalize_deletion(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    let name = pod.name_any();
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: pod.uid().map(|uid| Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => {
            info!(pod = %format!("{}/{name}", pod.namespace().unwrap_or_default()), "deleted terminating pod");
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.is_not_found() || s.is_conflict() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Spawns the task that reports `pod` Running and Ready after the configured delay,
/// unless one is already in flight for it.
fn schedule_mark_running(api: Api<Pod>, pod: Pod, options: &Options, in_flight: &InFlight) {
    let Some(uid) = pod.uid() else { return };
    if !lock(in_flight).insert(uid.clone()) {
        return;
    }
    let in_flight = Arc::clone(in_flight);
    let nodes = options.nodes.clone();
    let delay = options.ready_delay;
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        mark_running(&api, &pod.name_any(), &uid, &nodes).await;
        lock(&in_flight).remove(&uid);
    });
}

fn lock(set: &InFlight) -> std::sync::MutexGuard<'_, HashSet<String>> {
    set.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Re-reads the pod and, if it still needs it, patches its status to Running/Ready.
async fn mark_running(api: &Api<Pod>, name: &str, uid: &str, nodes: &[SimNode]) {
    for attempt in 1..=STATUS_ATTEMPTS {
        let pod = match api.get_opt(name).await {
            Ok(Some(pod)) if pod.uid().as_deref() == Some(uid) => pod,
            Ok(_) => return, // deleted, or replaced by a pod with the same name
            Err(e) => {
                warn!(pod = name, attempt, error = %e, "reading pod failed");
                backoff(attempt).await;
                continue;
            }
        };
        if pod::decide(&pod, nodes) != Action::MarkRunning {
            return;
        }
        let patch = pod::running_status_patch(&pod, node::NODE_IP, &node::now());
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                info!(pod = %format!("{}/{name}", pod.namespace().unwrap_or_default()), "pod running and ready");
                return;
            }
            Err(e) => {
                warn!(pod = name, attempt, error = %e, "patching pod status failed");
                backoff(attempt).await;
            }
        }
    }
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
}
