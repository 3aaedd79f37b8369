//! A converged stack costs zero writes: over a 60-second window that includes a
//! restart of the operator (a full resync of every stack and child), sextant's own
//! write counter stays at zero and kube-apiserver's `apiserver_request_total`
//! counts no write to any kind sextant manages (the stack has a contact point, so
//! the Secret rendered from the one it references is among them, and Prometheus
//! in an HA pair, so the Thanos Query and the per-replica Services are too).
//!
//! Its own test binary, so no other test writes to the cluster meanwhile.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::ListParams;
use serde_json::json;
use sextant_e2e::operator::{Operator, kubectl};
use sextant_e2e::{Cluster, TestNamespace, install_crds, stack, wait_for};

/// Kinds sextant writes (main resource only for workloads: controllers update status).
const WATCHED: [&str; 11] = [
    "configmaps",
    "services",
    "serviceaccounts",
    "secrets",
    "roles",
    "rolebindings",
    "deployments",
    "statefulsets",
    "horizontalpodautoscalers",
    "poddisruptionbudgets",
    "observabilitystacks",
];
const WRITE_VERBS: [&str; 6] = [
    "POST",
    "PUT",
    "PATCH",
    "APPLY",
    "DELETE",
    "DELETECOLLECTION",
];

/// Write requests per (verb, resource, subresource) from kube-apiserver's metrics.
fn apiserver_writes(cluster: &Cluster) -> BTreeMap<String, f64> {
    let text = kubectl(cluster, &["get", "--raw", "/metrics"]).unwrap();
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
    {
        let label = |name: &str| {
            let key = format!("{name}=\"");
            line.split(&key)
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
                .to_string()
        };
        let (verb, resource, sub) = (label("verb"), label("resource"), label("subresource"));
        if !WRITE_VERBS.contains(&verb.as_str()) || !WATCHED.contains(&resource.as_str()) {
            continue;
        }
        if sub == "status" && resource != "observabilitystacks" {
            continue;
        }
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        *out.entry(format!("{verb} {resource}/{sub}")).or_default() += value;
    }
    out
}

#[tokio::test]
async fn converged_stack_costs_zero_writes_across_a_resync() {
    let cluster = Cluster::connect().await;
    install_crds(cluster.client()).await.unwrap();
    let ns = TestNamespace::create(&cluster, "steady").await.unwrap();
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();
    let mut agents = stack::sample("agent-fleet.yaml", ns.name()).unwrap();
    // A contact point, so that the Secret sextant renders from a referenced Secret
    // (`agents-grafana-alerting`) is part of the steady state too.
    ns.create_secret(
        "steady-hook",
        &[("url", "https://hooks.example/steady?sig=a$b")],
    )
    .await
    .unwrap();
    agents.data["spec"]["grafana"]["alerting"]["contactPoints"] = json!([
        {"name": "chat", "type": "slack", "secretRef": {"name": "steady-hook", "key": "url"}},
    ]);
    // Prometheus as an HA pair: the Thanos Query, its budget and the
    // per-replica Services are part of the steady state too.
    agents.data["spec"]["prometheus"]["replicas"] = json!(2);
    stack::create(&ns, &agents).await.unwrap();
    stack::wait_ready(&ns, "agents").await;

    // Let namespaces of earlier tests finish terminating: their deletion writes too.
    let namespaces: Api<Namespace> = Api::all(cluster.client().clone());
    wait_for(
        Duration::from_secs(180),
        "earlier test namespaces are gone",
        async || {
            let terminating = namespaces
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter(|n| {
                    n.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating")
                })
                .count();
            Ok((terminating == 0).then_some(()))
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(10)).await;

    let before = apiserver_writes(&cluster);
    let op_writes_before = op.metric_sum("sextant_api_writes_total").await.unwrap();
    // Restart: the new process lists and reconciles everything from scratch.
    let status = op.stop().await.unwrap();
    assert!(status.success(), "operator exited with {status} on SIGTERM");
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let reconciles = op.metric_sum("sextant_reconciles_total").await.unwrap();
    let op_writes = op.metric_sum("sextant_api_writes_total").await.unwrap();
    let after = apiserver_writes(&cluster);
    let delta: BTreeMap<&String, f64> = after
        .iter()
        .map(|(k, v)| (k, v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d > 0.0)
        .collect();

    assert!(reconciles >= 1.0, "the restarted operator never reconciled");
    // The counter really reads the API server's metrics: sextant's applies since
    // the cluster started are in it.
    assert!(
        before.keys().any(|k| k.contains("configmaps/")),
        "no configmap writes found in apiserver_request_total: {before:#?}"
    );
    assert!(
        op_writes_before > 0.0,
        "the first operator counted no writes at all"
    );
    assert_eq!(
        op_writes,
        0.0,
        "sextant counted its own writes at steady state:\n{}",
        op.log_tail(40)
    );
    assert!(
        delta.is_empty(),
        "kube-apiserver counted writes at steady state: {delta:#?}"
    );
    drop(op);
    ns.cleanup().await.unwrap();
}
