//! The simulated kubelet's Nodes: registration (create if missing, labels and taints
//! as given, then a status patch with generous capacity and Ready=True) and the
//! heartbeat that keeps the node
//! controller from marking it Unknown (`nodes/status` plus a Lease in
//! `kube-node-lease`). It never touches pods.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use super::schedule::SimNode;

/// The label every simulated node carries, so tests and people can tell it apart.
pub const SIMULATED_LABEL: &str = "sextant.dev/simulated";

/// The address the node reports. Loopback on purpose: nothing must ever send traffic to
/// a simulated node, and the API server's kubelet proxy (logs, exec) fails fast there.
pub const NODE_IP: &str = "127.0.0.1";

/// How long the node's Lease is valid; the heartbeat renews it well before.
const LEASE_DURATION_SECONDS: i32 = 40;

/// The namespace that holds node Leases.
const LEASE_NAMESPACE: &str = "kube-node-lease";

/// The current time, truncated to the second as `metav1.Time` stores it.
pub fn now() -> Time {
    let now = Timestamp::now();
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// Creates the Node unless it exists (an existing one gets the node's labels and
/// taints), and reports it Ready.
pub async fn register(client: &Client, sim: &SimNode) -> anyhow::Result<()> {
    let name = sim.name.as_str();
    let nodes: Api<Node> = Api::all(client.clone());
    let kubelet_version = client
        .apiserver_version()
        .await
        .map(|v| v.git_version)
        .unwrap_or_else(|_| "v0.0.0-unknown".to_owned());
    if nodes.get_opt(name).await?.is_none() {
        let node: Node = serde_json::from_value(node_manifest(sim, &kubelet_version))?;
        match nodes.create(&PostParams::default(), &node).await {
            Ok(_) => info!(node = name, "registered node"),
            Err(kube::Error::Api(s)) if s.is_already_exists() => {}
            Err(e) => return Err(e.into()),
        }
    } else {
        let patch = json!({
            "metadata": {"labels": sim.labels},
            "spec": {"taints": sim.taints},
        });
        nodes
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        info!(node = name, "node already registered, taking it over");
    }
    let info = json!({"status": {"nodeInfo": node_info(&kubelet_version)}});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&info))
        .await?;
    heartbeat(client, name).await
}

/// Renews the node's Ready condition and Lease every `interval`, forever. Errors are
/// logged and retried on the next tick; a deleted Node is registered again.
pub async fn heartbeat_loop(client: Client, sim: SimNode, interval: Duration) {
    let name = sim.name.as_str();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let result = match heartbeat(&client, name).await {
            Err(e) if is_not_found(&e) => register(&client, &sim).await,
            other => other,
        };
        if let Err(e) = result {
            warn!(node = %name, error = %format!("{e:#}"), "node heartbeat failed");
        }
    }
}

fn is_not_found(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<kube::Error>(), Some(kube::Error::Api(s)) if s.is_not_found())
}

/// One heartbeat: the node conditions (strategic merge by `type`) and the Lease.
async fn heartbeat(client: &Client, name: &str) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node = nodes.get(name).await?;
    let existing = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let patch = status_patch(existing, &now());
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    debug!(node = name, "node status renewed");
    if let Err(e) = renew_lease(client, &node).await {
        debug!(node = name, error = %e, "node lease not renewed");
    }
    Ok(())
}

/// The Node as first registered: labels, capacity, addresses and endpoints.
fn node_manifest(sim: &SimNode, kubelet_version: &str) -> Value {
    let name = sim.name.as_str();
    let resources = json!({
        "cpu": "64",
        "memory": "256Gi",
        "pods": "500",
        "ephemeral-storage": "1Ti",
    });
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": sim.labels},
        "spec": {"taints": sim.taints},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "addresses": [
                {"type": "InternalIP", "address": NODE_IP},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": node_info(kubelet_version),
        },
    })
}

fn node_info(kubelet_version: &str) -> Value {
    json!({
        "machineID": "sextant-simulated",
        "systemUUID": "sextant-simulated",
        "bootID": "sextant-simulated",
        "kernelVersion": "simulated",
        "osImage": "sextant simulated kubelet (containers never run)",
        "containerRuntimeVersion": "sextant-sim://0.1.0",
        "kubeletVersion": kubelet_version,
        "kubeProxyVersion": kubelet_version,
        "operatingSystem": "linux",
        "architecture": "amd64",
    })
}

/// A strategic merge patch setting Ready=True and every pressure condition False, each
/// with a fresh heartbeat; `lastTransitionTime` moves only when the status changes.
fn status_patch(existing: &[NodeCondition], now: &Time) -> Value {
    let wanted = [
        (
            "Ready",
            "True",
            "KubeletReady",
            "simulated kubelet is posting ready status",
        ),
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "simulated",
        ),
        (
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "simulated",
        ),
        (
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "simulated",
        ),
    ];
    let conditions: Vec<Value> = wanted
        .iter()
        .map(|(type_, status, reason, message)| {
            let since = existing
                .iter()
                .find(|c| c.type_ == *type_ && c.status == *status)
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or_else(|| now.clone());
            json!({
                "type": type_,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": now,
                "lastTransitionTime": since,
            })
        })
        .collect();
    json!({"status": {"conditions": conditions}})
}

/// Creates or renews the node's Lease, owned by the Node so it goes away with it.
async fn renew_lease(client: &Client, node: &Node) -> anyhow::Result<()> {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let renew = MicroTime(Timestamp::now());
    if leases.get_opt(name).await?.is_some() {
        let patch = json!({"spec": {"holderIdentity": name, "renewTime": renew}});
        leases
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        return Ok(());
    }
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [{
                "apiVersion": "v1",
                "kind": "Node",
                "name": name,
                "uid": node.metadata.uid.as_deref().unwrap_or_default(),
            }],
        },
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_DURATION_SECONDS,
            "renewTime": renew,
        },
    }))?;
    match leases.create(&PostParams::default(), &lease).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_already_exists() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_is_kept_while_status_holds() {
        let then = Time(Timestamp::from_second(1_000).expect("valid"));
        let existing = vec![NodeCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(then.clone()),
            ..Default::default()
        }];
        let now = Time(Timestamp::from_second(2_000).expect("valid"));
        let patch = status_patch(&existing, &now);
        let ready = &patch["status"]["conditions"][0];
        assert_eq!(ready["lastTransitionTime"], json!(then));
        assert_eq!(ready["lastHeartbeatTime"], json!(now));
        let memory = &patch["status"]["conditions"][1];
        assert_eq!(memory["lastTransitionTime"], json!(now));
    }

    #[test]
    fn manifest_is_a_valid_node() {
        let node: Node = serde_json::from_value(node_manifest(&SimNode::new("n"), "v1.20.2"))
            .expect("node deserializes");
        let labels = node.metadata.labels.unwrap_or_default();
        assert_eq!(
            labels.get(SIMULATED_LABEL).map(String::as_str),
            Some("true")
        );
    }
}
