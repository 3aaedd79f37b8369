//! The node agent against a real API server and the kube-controller-manager's
//! DaemonSet controller: one agent pod on every simulated node, the GPU node's
//! taint included; tolerations that the user narrows keep it off that node; the
//! ClusterRoleBindings that give it its cluster-wide reads come and go with the
//! agent and the stack. No agent container runs here (the simulated kubelet runs
//! none), so what the agent collects is tested on its rendered config, in the
//! unit tests and docs/node-agent.md, not here.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use serde_json::json;
use sextant_e2e::namespace::{CLUSTER_FINALIZER, STACK_NAMESPACE_LABEL};
use sextant_e2e::operator::{CLUSTER_ROLE_PREFIX, Operator};
use sextant_e2e::stack::{self, condition, merge_patch, sample, wait_ready};
use sextant_e2e::{Cluster, TestNamespace, install_crds};

const CHANGE_TIMEOUT: Duration = Duration::from_secs(90);
const AGENT: &str = "minimal-node-agent";

/// The names of the Ready nodes.
async fn ready_nodes(cluster: &Cluster) -> BTreeSet<String> {
    Api::<Node>::all(cluster.client().clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|n| {
            n.status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
        .map(|n| n.name_any())
        .collect()
}

/// The nodes the agent's pods run on, once the DaemonSet has exactly `want`
/// scheduled, ready and up-to-date pods.
async fn agent_nodes(ns: &TestNamespace, want: usize) -> BTreeSet<String> {
    let daemon_sets = ns.api::<DaemonSet>();
    let want = i32::try_from(want).unwrap();
    ns.wait_condition(
        &daemon_sets,
        AGENT,
        CHANGE_TIMEOUT,
        &format!("the agent DaemonSet has {want} ready pods"),
        |d| {
            d.status.as_ref().is_some_and(|s| {
                s.desired_number_scheduled == want
                    && s.number_ready == want
                    && s.updated_number_scheduled == Some(want)
                    && s.observed_generation == d.metadata.generation
            })
        },
    )
    .await;
    let pods = ns.api::<Pod>();
    let lp = ListParams::default()
        .labels("app.kubernetes.io/name=node-agent,app.kubernetes.io/instance=minimal");
    let mut nodes = BTreeSet::new();
    ns.wait_for(CHANGE_TIMEOUT, "the old agent pods are gone", async || {
        let list = pods.list(&lp).await?;
        let live: Vec<&Pod> = list
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        Ok((live.len() == list.items.len()).then_some(()))
    })
    .await;
    for pod in pods.list(&lp).await.unwrap() {
        let node = pod.spec.and_then(|s| s.node_name).unwrap_or_default();
        assert!(nodes.insert(node.clone()), "two agent pods on node {node}");
    }
    nodes
}

fn binding_name(ns: &TestNamespace, grant: &str) -> String {
    format!("sextant:{}:minimal:{grant}", ns.name())
}

/// The names of the ClusterRoleBindings of the test namespace's stacks.
async fn stack_bindings(ns: &TestNamespace) -> BTreeSet<String> {
    let lp = ListParams::default().labels(&format!("{STACK_NAMESPACE_LABEL}={}", ns.name()));
    Api::<ClusterRoleBinding>::all(ns.client().clone())
        .list(&lp)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name_any())
        .collect()
}

async fn wait_bindings(ns: &TestNamespace, want: &[String], description: &str) {
    let want: BTreeSet<String> = want.iter().cloned().collect();
    ns.wait_for(CHANGE_TIMEOUT, description, async || {
        Ok((stack_bindings(ns).await == want).then_some(()))
    })
    .await;
}

#[tokio::test]
async fn the_agent_runs_on_every_node_and_its_bindings_live_as_long_as_it_does() {
    let cluster = Cluster::connect().await;
    install_crds(cluster.client()).await.unwrap();
    cluster.require_ready_node().await;
    let nodes = ready_nodes(&cluster).await;
    let ns = TestNamespace::create(&cluster, "node-agent").await.unwrap();
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();

    // 1. The minimal sample runs the agent by default: one pod on every node, the
    //    tainted GPU node too (the default toleration tolerates every taint).
    stack::create(&ns, &sample("minimal.yaml", ns.name()).unwrap())
        .await
        .unwrap();
    let ready = wait_ready(&ns, "minimal").await;
    let on = agent_nodes(&ns, nodes.len()).await;
    assert_eq!(on, nodes, "one agent pod on every Ready node");
    assert!(
        nodes.contains("sextant-sim-gpu"),
        "the local control plane has its tainted node: {nodes:?}"
    );
    let (status, reason, message) = condition(&ready, "NodeAgentReady").unwrap();
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Available"));
    assert_eq!(message, format!("{n}/{n} replicas ready", n = nodes.len()));
    assert_eq!(
        ready.data["status"]["components"]["nodeAgent"]["readyReplicas"],
        json!(nodes.len())
    );
    assert!(
        ready
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == CLUSTER_FINALIZER),
        "the stack holds the cluster-cleanup finalizer while it has bindings"
    );

    //    Its pods: the stack's own ServiceAccount and state directory on the node.
    let ds = ns.api::<DaemonSet>().get(AGENT).await.unwrap();
    let pod = ds.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some(AGENT));
    let host_paths: BTreeSet<String> = pod
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.host_path.as_ref().map(|h| h.path.clone()))
        .collect();
    assert!(
        host_paths.contains(&format!(
            "/var/lib/sextant/{}/minimal/node-agent",
            ns.name()
        )),
        "{host_paths:?}"
    );
    assert!(host_paths.contains("/var/log/pods"), "{host_paths:?}");

    //    Its bindings, to the ClusterRoles the operator was told to bind.
    let all = [
        binding_name(&ns, "cluster-collector"),
        binding_name(&ns, "k8s-metadata"),
        binding_name(&ns, "node-agent"),
        binding_name(&ns, "prometheus-discovery"),
    ];
    wait_bindings(
        &ns,
        &all,
        "the agent's, the metadata, the discovery and the cluster collector's binding",
    )
    .await;
    let bindings = Api::<ClusterRoleBinding>::all(cluster.client().clone());
    let agent_binding = bindings
        .get(&binding_name(&ns, "node-agent"))
        .await
        .unwrap();
    assert_eq!(
        agent_binding.role_ref.name,
        format!("{CLUSTER_ROLE_PREFIX}-node-agent")
    );

    // 2. Tolerations narrowed to none: the DaemonSet controller takes the agent
    //    off the tainted node.
    merge_patch(
        &ns,
        "minimal",
        json!({"spec": {"nodeAgent": {"tolerations": []}}}),
    )
    .await
    .unwrap();
    let untainted: BTreeSet<String> = nodes
        .iter()
        .filter(|n| *n != "sextant-sim-gpu")
        .cloned()
        .collect();
    let on = agent_nodes(&ns, untainted.len()).await;
    assert_eq!(on, untainted);
    wait_ready(&ns, "minimal").await;

    // 3. The agent disabled: its DaemonSet and binding are deleted, the metadata
    //    binding is kept for the collector (and Prometheus's for discovery).
    merge_patch(
        &ns,
        "minimal",
        json!({"spec": {"nodeAgent": {"enabled": false}}}),
    )
    .await
    .unwrap();
    ns.wait_deleted(
        &ns.api::<DaemonSet>(),
        AGENT,
        CHANGE_TIMEOUT,
        "the agent DaemonSet pruned",
    )
    .await;
    wait_bindings(
        &ns,
        &[
            binding_name(&ns, "cluster-collector"),
            binding_name(&ns, "k8s-metadata"),
            binding_name(&ns, "prometheus-discovery"),
        ],
        "the metadata, the discovery and the cluster collector's binding",
    )
    .await;
    let disabled = wait_ready(&ns, "minimal").await;
    assert_eq!(
        condition(&disabled, "NodeAgentReady").map(|c| c.1),
        Some("Disabled".to_string())
    );

    // 4. The stack deleted: the operator deletes its bindings, then its finalizer.
    stack::delete_and_wait(&ns, "minimal", CHANGE_TIMEOUT).await;
    assert!(
        stack_bindings(&ns).await.is_empty(),
        "no ClusterRoleBinding outlives its stack"
    );

    drop(op);
    ns.cleanup().await.unwrap();
}
