//! The cluster collector against a real API server and the
//! kube-controller-manager's Deployment controller: the minimal sample runs it
//! by default as one pod that is replaced, not rolled (`Recreate`); its
//! ClusterRoleBinding and its Lease RoleBinding in the stack's namespace come
//! and go with it; turning events off renders a config without the events
//! receiver. No collector container runs here (the simulated kubelet runs
//! none), so what it collects is tested on its rendered config, in the unit
//! tests, the promtool rule tests and docs/cluster-collector.md, not here.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use kube::Api;
use serde_json::json;
use sextant_e2e::operator::{CLUSTER_ROLE_PREFIX, Operator};
use sextant_e2e::stack::{self, condition, merge_patch, sample, wait_ready};
use sextant_e2e::{Cluster, TestNamespace, install_crds};

const CHANGE_TIMEOUT: Duration = Duration::from_secs(90);
const NAME: &str = "minimal-cluster-collector";

/// The receivers of the rendered config, by name.
async fn receivers(ns: &TestNamespace) -> Vec<String> {
    let cm = ns
        .api::<ConfigMap>()
        .get(&format!("{NAME}-config"))
        .await
        .unwrap();
    let text = cm.data.unwrap_or_default().remove("config.yaml").unwrap();
    let config: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    config["receivers"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_cluster_collector_runs_one_pod_with_its_bindings_and_leaves_with_the_stack() {
    let cluster = Cluster::connect().await;
    install_crds(cluster.client()).await.unwrap();
    cluster.require_ready_node().await;
    let ns = TestNamespace::create(&cluster, "cluster-collector")
        .await
        .unwrap();
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();

    // 1. On by default: one replica, replaced rather than rolled, ready.
    stack::create(&ns, &sample("minimal.yaml", ns.name()).unwrap())
        .await
        .unwrap();
    let ready = wait_ready(&ns, "minimal").await;
    let (status, reason, message) = condition(&ready, "ClusterCollectorReady").unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str(), message.as_str()),
        ("True", "Available", "1/1 replicas ready")
    );
    let d = ns.api::<Deployment>().get(NAME).await.unwrap();
    let spec = d.spec.unwrap();
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(
        spec.strategy.and_then(|s| s.type_).as_deref(),
        Some("Recreate")
    );
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some(NAME));
    assert_eq!(receivers(&ns).await, ["k8s_cluster", "k8s_objects"]);

    //    Its grants: the chart's ClusterRole cluster-wide, the Lease role here.
    let bindings = Api::<ClusterRoleBinding>::all(cluster.client().clone());
    let grant = format!("sextant:{}:minimal:cluster-collector", ns.name());
    let b = bindings.get(&grant).await.unwrap();
    assert_eq!(
        b.role_ref.name,
        format!("{CLUSTER_ROLE_PREFIX}-cluster-collector")
    );
    let subjects: Vec<(String, String)> = b
        .subjects
        .iter()
        .flatten()
        .map(|s| (s.namespace.clone().unwrap_or_default(), s.name.clone()))
        .collect();
    assert_eq!(subjects, [(ns.name().to_string(), NAME.to_string())]);
    let lease = ns
        .api::<RoleBinding>()
        .get(&format!("{NAME}-lease"))
        .await
        .unwrap();
    assert_eq!(
        (lease.role_ref.kind.as_str(), lease.role_ref.name.clone()),
        (
            "ClusterRole",
            format!("{CLUSTER_ROLE_PREFIX}-cluster-collector-lease")
        )
    );

    // 2. Events off: the config loses its events receiver, the pod is replaced.
    merge_patch(
        &ns,
        "minimal",
        json!({"spec": {"clusterCollector": {"events": {"enabled": false}}}}),
    )
    .await
    .unwrap();
    ns.wait_for(CHANGE_TIMEOUT, "the events receiver removed", async || {
        Ok((receivers(&ns).await == ["k8s_cluster"]).then_some(()))
    })
    .await;
    wait_ready(&ns, "minimal").await;

    // 3. Disabled: Deployment and both bindings deleted, the condition says so.
    merge_patch(
        &ns,
        "minimal",
        json!({"spec": {"clusterCollector": {"enabled": false}}}),
    )
    .await
    .unwrap();
    ns.wait_deleted(
        &ns.api::<Deployment>(),
        NAME,
        CHANGE_TIMEOUT,
        "the cluster collector pruned",
    )
    .await;
    ns.wait_deleted(
        &bindings,
        &grant,
        CHANGE_TIMEOUT,
        "its ClusterRoleBinding pruned",
    )
    .await;
    ns.wait_deleted(
        &ns.api::<RoleBinding>(),
        &format!("{NAME}-lease"),
        CHANGE_TIMEOUT,
        "its Lease RoleBinding pruned",
    )
    .await;
    let disabled = wait_ready(&ns, "minimal").await;
    assert_eq!(
        condition(&disabled, "ClusterCollectorReady").map(|c| c.1),
        Some("Disabled".to_string())
    );

    // 4. On again, then the stack deleted: the binding goes with the stack.
    merge_patch(
        &ns,
        "minimal",
        json!({"spec": {"clusterCollector": {"enabled": null}}}),
    )
    .await
    .unwrap();
    ns.wait_for(CHANGE_TIMEOUT, "the binding back", async || {
        Ok(bindings.get_opt(&grant).await?.map(|_| ()))
    })
    .await;
    stack::delete_and_wait(&ns, "minimal", CHANGE_TIMEOUT).await;
    assert!(
        bindings.get_opt(&grant).await.unwrap().is_none(),
        "{grant} outlived its stack"
    );

    drop(op);
    ns.cleanup().await.unwrap();
}
