//! Pure pod logic of the simulated kubelet: what to do with a pod we see (bind it to
//! the node [`super::schedule`] chooses, say why it cannot be scheduled, mark it
//! running, finalise its deletion, or leave it alone) and the `pods/status` patches.
//! Nothing here talks to the API server.

use k8s_openapi::api::core::v1::{Container, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use super::schedule::{SimNode, choose};

/// What the simulated kubelet does with one observed pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Pending and unscheduled: bind it to this node through `pods/binding`.
    Bind(String),
    /// Pending, and no node fits it: say why in its `PodScheduled` condition, as
    /// kube-scheduler does.
    Unschedulable(String),
    /// Bound to one of our nodes but not (yet) reported as Running and Ready.
    MarkRunning,
    /// Bound to our node and being deleted: finish the deletion (grace period 0).
    FinalizeDeletion,
    /// Nothing to do: already ready, terminal, or someone else's pod.
    Ignore,
}

/// The pod conditions a ready pod carries, in the order the kubelet writes them.
const READY_CONDITIONS: [&str; 4] = ["Initialized", "Ready", "ContainersReady", "PodScheduled"];

/// Decides what to do with `pod`, as seen by the kubelet of `nodes`.
pub fn decide(pod: &Pod, nodes: &[SimNode]) -> Action {
    let Some(spec) = pod.spec.as_ref() else {
        return Action::Ignore;
    };
    let bound_to = spec.node_name.as_deref().filter(|n| !n.is_empty());
    let ours = |n: &str| nodes.iter().any(|node| node.name == n);
    if pod.metadata.deletion_timestamp.is_some() {
        return if bound_to.is_some_and(ours) {
            Action::FinalizeDeletion
        } else {
            Action::Ignore
        };
    }
    if is_terminal(pod) {
        return Action::Ignore;
    }
    match bound_to {
        None if spec.scheduling_gates.as_ref().is_none_or(Vec::is_empty) => {
            match choose(pod, nodes) {
                Ok(node) => Action::Bind(node.name.clone()),
                Err(why) if unschedulable_message(pod) == Some(why.as_str()) => Action::Ignore,
                Err(why) => Action::Unschedulable(why),
            }
        }
        Some(n) if ours(n) && !is_running_and_ready(pod) => Action::MarkRunning,
        _ => Action::Ignore,
    }
}

/// The message of the pod's `PodScheduled=False, reason=Unschedulable`, if any.
fn unschedulable_message(pod: &Pod) -> Option<&str> {
    let conditions = pod.status.as_ref()?.conditions.as_deref()?;
    conditions
        .iter()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        .filter(|c| c.reason.as_deref() == Some("Unschedulable"))
        .and_then(|c| c.message.as_deref())
}

/// The `pods/status` merge patch that says why no node fits (what
/// `kubectl describe pod` shows as the scheduler's verdict).
pub fn unschedulable_patch(why: &str, now: &Time) -> Value {
    json!({"status": {"conditions": [{
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": why,
        "lastTransitionTime": now,
    }]}})
}

/// Whether the pod has finished (Succeeded or Failed); such pods are never touched.
fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// Whether the stored status already says what [`running_status_patch`] would write:
/// phase Running, Ready=True, and a ready status for every container with its image.
pub fn is_running_and_ready(pod: &Pod) -> bool {
    let (Some(spec), Some(status)) = (pod.spec.as_ref(), pod.status.as_ref()) else {
        return false;
    };
    if status.phase.as_deref() != Some("Running") || status.pod_ip.is_none() {
        return false;
    }
    let conditions = status.conditions.as_deref().unwrap_or_default();
    let all_true = READY_CONDITIONS
        .iter()
        .all(|t| condition_status(conditions, t) == Some("True"));
    let statuses = status.container_statuses.as_deref().unwrap_or_default();
    let containers_ready = spec.containers.iter().all(|c| {
        statuses
            .iter()
            .any(|s| s.name == c.name && s.ready && Some(s.image.as_str()) == c.image.as_deref())
    });
    all_true && containers_ready
}

fn condition_status<'a>(conditions: &'a [PodCondition], type_: &str) -> Option<&'a str> {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

/// A deterministic fake pod IP in 10.244.0.0/16, derived from the pod's UID.
/// Nothing ever listens on it: it only fills `status.podIP` and Endpoints.
pub fn fake_pod_ip(uid: &str) -> String {
    // FNV-1a: stable across runs and Rust versions, unlike std's hasher.
    let hash = uid.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let [_, _, x, y] = hash.to_be_bytes();
    format!("10.244.{x}.{}", 1 + u16::from(y) % 254)
}

/// The JSON merge patch for `pods/status` that reports `pod` as Running and Ready on a
/// node whose address is `host_ip`. Conditions that are already True keep their
/// `lastTransitionTime`; `startTime` is kept when set.
pub fn running_status_patch(pod: &Pod, host_ip: &str, now: &Time) -> Value {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let pod_ip = if host_network {
        host_ip.to_owned()
    } else {
        fake_pod_ip(uid)
    };
    let existing = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let conditions: Vec<Value> = READY_CONDITIONS
        .iter()
        .map(|type_| {
            let since = existing
                .iter()
                .find(|c| c.type_ == *type_ && c.status == "True")
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or_else(|| now.clone());
            json!({"type": type_, "status": "True", "lastTransitionTime": since})
        })
        .collect();
    let start_time = status
        .and_then(|s| s.start_time.clone())
        .unwrap_or_else(|| now.clone());
    let containers = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
    let init_containers = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or_default();

    let mut status_patch = json!({
        "phase": "Running",
        "hostIP": host_ip,
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": start_time,
        "conditions": conditions,
        "containerStatuses": containers
            .iter()
            .map(|c| running_container(c, uid, &start_time))
            .collect::<Vec<_>>(),
    });
    if !init_containers.is_empty() {
        status_patch["initContainerStatuses"] = init_containers
            .iter()
            .map(|c| init_container(c, uid, &start_time))
            .collect();
    }
    json!({ "status": status_patch })
}

fn container_id(c: &Container, uid: &str) -> String {
    format!("sextant-sim://{uid}/{}", c.name)
}

/// The status of a ready container in `state`: what every container status holds.
fn ready_container(c: &Container, uid: &str, state: Value) -> Value {
    let image = c.image.clone().unwrap_or_default();
    json!({
        "name": c.name,
        "image": image,
        "imageID": format!("sextant-sim://{image}"),
        "containerID": container_id(c, uid),
        "ready": true,
        "restartCount": 0,
        "state": state,
    })
}

/// A container that started at `since` and is running and ready.
fn running_container(c: &Container, uid: &str, since: &Time) -> Value {
    let mut status = ready_container(c, uid, json!({"running": {"startedAt": since}}));
    status["started"] = json!(true);
    status
}

/// An init container: completed with exit code 0, or running when it is a sidecar
/// (`restartPolicy: Always`, Kubernetes >= 1.28).
fn init_container(c: &Container, uid: &str, since: &Time) -> Value {
    if c.restart_policy.as_deref() == Some("Always") {
        return running_container(c, uid, since);
    }
    let terminated = json!({"terminated": {
        "exitCode": 0,
        "reason": "Completed",
        "startedAt": since,
        "finishedAt": since,
        "containerID": container_id(c, uid),
    }});
    ready_container(c, uid, terminated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(yaml: &str) -> Pod {
        serde_yaml_ng::from_str(yaml).expect("test pod parses")
    }

    const NODE: &str = "sim";

    fn nodes() -> Vec<SimNode> {
        vec![SimNode::new(NODE)]
    }

    fn now() -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).expect("valid"))
    }

    /// What the kubelet of node `sim` does with the pod `yaml`.
    fn decided(yaml: &str) -> Action {
        decide(&pod(yaml), &nodes())
    }

    /// Stores in `p` the status [`running_status_patch`] writes, as the API server
    /// would; returns that status.
    fn mark_running(p: &mut Pod) -> Value {
        let status = running_status_patch(p, "127.0.0.1", &now())["status"].take();
        p.status = Some(serde_json::from_value(status.clone()).expect("status round-trips"));
        status
    }

    #[test]
    fn unbound_pending_pod_is_bound() {
        assert_eq!(
            decided(
                "metadata: {name: a, uid: u1}\nspec: {containers: [{name: c, image: i}]}\nstatus: {phase: Pending}"
            ),
            Action::Bind(NODE.into())
        );
    }

    #[test]
    fn pod_on_other_node_is_ignored() {
        assert_eq!(
            decided(
                "metadata: {name: a}\nspec: {nodeName: other, containers: [{name: c, image: i}]}"
            ),
            Action::Ignore
        );
    }

    #[test]
    fn deleting_pod_on_our_node_is_finalized_and_elsewhere_ignored() {
        assert_eq!(
            decided(
                "metadata: {name: a, deletionTimestamp: '2024-01-01T00:00:00Z'}\nspec: {nodeName: sim, containers: []}"
            ),
            Action::FinalizeDeletion
        );
        assert_eq!(
            decided(
                "metadata: {name: a, deletionTimestamp: '2024-01-01T00:00:00Z'}\nspec: {containers: []}"
            ),
            Action::Ignore
        );
    }

    #[test]
    fn bound_pod_is_marked_running_then_left_alone() {
        let mut p = pod(
            "metadata: {name: a, uid: u1}\nspec: {nodeName: sim, initContainers: [{name: init, image: busybox}], containers: [{name: c, image: 'nginx:1'}]}\nstatus: {phase: Pending}",
        );
        assert_eq!(decide(&p, &nodes()), Action::MarkRunning);

        let status = mark_running(&mut p);
        assert_eq!(status["phase"], "Running");
        assert_eq!(status["containerStatuses"][0]["image"], "nginx:1");
        assert_eq!(status["containerStatuses"][0]["ready"], true);
        assert_eq!(
            status["initContainerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
        assert!(
            status["podIP"]
                .as_str()
                .is_some_and(|ip| ip.starts_with("10.244."))
        );
        assert!(is_running_and_ready(&p));
        assert_eq!(decide(&p, &nodes()), Action::Ignore);
    }

    #[test]
    fn image_change_makes_a_ready_pod_stale() {
        let mut p = pod(
            "metadata: {name: a, uid: u1}\nspec: {nodeName: sim, containers: [{name: c, image: 'nginx:1'}]}",
        );
        mark_running(&mut p);
        if let Some(spec) = p.spec.as_mut() {
            spec.containers[0].image = Some("nginx:2".into());
        }
        assert_eq!(decide(&p, &nodes()), Action::MarkRunning);
    }

    #[test]
    fn terminal_and_gated_pods_are_ignored() {
        assert_eq!(
            decided(
                "metadata: {name: a}\nspec: {nodeName: sim, containers: []}\nstatus: {phase: Succeeded}"
            ),
            Action::Ignore
        );
        assert_eq!(
            decided("metadata: {name: a}\nspec: {schedulingGates: [{name: g}], containers: []}"),
            Action::Ignore
        );
    }

    #[test]
    fn fake_ip_is_stable_and_valid() {
        assert_eq!(fake_pod_ip("abc"), fake_pod_ip("abc"));
        let last: u16 = fake_pod_ip("xyz")
            .rsplit('.')
            .next()
            .and_then(|s| s.parse().ok())
            .expect("numeric octet");
        assert!((1..=254).contains(&last));
    }

    #[test]
    fn a_pod_no_node_fits_is_told_why_once() {
        let yaml = "metadata: {name: a, uid: u1}\nspec: {nodeSelector: {gpu: 'yes'}, containers: []}\nstatus: {phase: Pending}";
        let Action::Unschedulable(why) = decided(yaml) else {
            panic!("expected Unschedulable, got {:?}", decided(yaml));
        };
        assert!(why.starts_with("0/1 nodes are available: sim: "), "{why}");
        let mut p = pod(yaml);
        let status = unschedulable_patch(&why, &now())["status"].take();
        p.status = Some(serde_json::from_value(status).expect("status round-trips"));
        assert_eq!(decide(&p, &nodes()), Action::Ignore);
    }
}
