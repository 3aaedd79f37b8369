//! Faults on a real API server: kube-apiserver restarted mid-reconcile, the
//! operator killed mid-apply, two operator replicas behind a Lease, volume growth
//! (an immutable StatefulSet field), a conflict on the generated Secret, and
//! volumes re-attached by a re-created stack.
//!
//! Tests here take one lock: restarting kube-apiserver would disturb the others.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::core::DynamicObject;
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use sextant_e2e::faults::{is_local, restart_apiserver};
use sextant_e2e::objects::requested_storage;
use sextant_e2e::operator::Operator;
use sextant_e2e::stack::{self, condition, merge_patch, wait_ready};
use sextant_e2e::{Cluster, TestNamespace, install_crds};
use tokio::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::const_new(());
const TIMEOUT: Duration = Duration::from_secs(180);
const CHILDREN: &str = "app.kubernetes.io/managed-by=sextant";
/// The kinds `children` counts.
const COUNTED: [&str; 6] = [
    "ConfigMap",
    "Secret",
    "Service",
    "ServiceAccount",
    "Deployment",
    "StatefulSet",
];

/// Creates the stack `name` with `spec`.
async fn create(ns: &TestNamespace, name: &str, spec: Value) {
    stack::create(ns, &stack::object(ns.name(), name, spec))
        .await
        .unwrap();
}

/// Names of every labelled child, by kind, as the API server lists them.
async fn children(ns: &TestNamespace) -> BTreeMap<String, usize> {
    let lp = ListParams::default().labels(CHILDREN);
    let mut out = BTreeMap::new();
    macro_rules! count {
        ($($t:ty),*) => {$(
            for o in ns.api::<$t>().list(&lp).await.unwrap() {
                *out.entry(format!("{}/{}", stringify!($t), o.name_any())).or_default() += 1;
            }
        )*};
    }
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Service, ServiceAccount};
    count!(
        ConfigMap,
        Secret,
        Service,
        ServiceAccount,
        Deployment,
        StatefulSet
    );
    out
}

/// The names `sextant render` says the stack has (the ground truth).
fn rendered_names(stack: &DynamicObject) -> Vec<String> {
    let dir = tempfile_dir();
    let path = dir.join("stack.json");
    std::fs::write(&path, serde_json::to_string(stack).unwrap()).unwrap();
    let out = std::process::Command::new(sextant_e2e::operator::sextant_bin())
        .args(["render", "-o", "json", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sextant-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Takes the lock every test here holds, connects and creates the test's namespace.
async fn setup(test: &str) -> (MutexGuard<'static, ()>, Cluster, TestNamespace) {
    let serial = SERIAL.lock().await;
    let cluster = Cluster::connect().await;
    install_crds(cluster.client()).await.unwrap();
    let ns = TestNamespace::create(&cluster, test).await.unwrap();
    (serial, cluster, ns)
}

#[tokio::test]
async fn apiserver_restart_mid_reconcile_and_operator_recovers() {
    let (_serial, cluster, ns) = setup("apiserver-restart").await;
    if !is_local(&cluster) {
        eprintln!("not the local control plane: kube-apiserver cannot be restarted from here");
        return;
    }
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();
    create(&ns, "s", json!({})).await;
    // Restart while the first reconcile is applying (it takes a few hundred ms).
    tokio::time::sleep(Duration::from_millis(150)).await;
    restart_apiserver(Duration::from_secs(3)).await.unwrap();
    let ready = wait_ready(&ns, "s").await;
    assert!(
        op.get("/healthz").await.is_ok(),
        "the operator died:\n{}",
        op.log_tail(30)
    );
    let got = children(&ns).await;
    for key in rendered_names(&ready) {
        let kind = key.split('/').next().unwrap();
        if COUNTED.contains(&kind) {
            assert_eq!(
                got.get(&key).copied(),
                Some(1),
                "{key} missing or duplicated: {got:#?}"
            );
        }
    }
    drop(op);
    ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn operator_killed_mid_apply_converges_without_duplicates() {
    let (_serial, cluster, ns) = setup("kill-mid-apply").await;
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();
    create(&ns, "s", json!({})).await;
    // Kill it as soon as the first child exists: the apply is under way.
    ns.wait_for(
        Duration::from_secs(30),
        "a first child exists",
        async || Ok((!children(&ns).await.is_empty()).then_some(())),
    )
    .await;
    op.kill().await;
    let partial = children(&ns).await.len();
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();
    let ready = wait_ready(&ns, "s").await;
    let got = children(&ns).await;
    let expected: Vec<String> = rendered_names(&ready)
        .into_iter()
        .filter(|n| COUNTED.iter().any(|k| n.starts_with(&format!("{k}/"))))
        .collect();
    assert_eq!(
        got.len(),
        expected.len(),
        "killed with {partial} children; now {got:#?}, expected {expected:#?}"
    );
    assert!(got.values().all(|n| *n == 1));
    drop(op);
    ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn only_the_lease_holder_writes_and_the_standby_takes_over() {
    let (_serial, cluster, ns) = setup("leader").await;
    let args = [
        "--leader-election",
        "--leader-election-namespace",
        ns.name(),
        "--lease-duration",
        "6",
    ];
    let a = Operator::start(&cluster, ns.name(), &args).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let b = Operator::start(&cluster, ns.name(), &args).await.unwrap();
    create(&ns, "s", json!({})).await;
    wait_ready(&ns, "s").await;
    let writes_a = a.metric_sum("sextant_api_writes_total").await.unwrap();
    let writes_b = b.metric_sum("sextant_api_writes_total").await.unwrap();
    assert!(
        (writes_a > 0.0) != (writes_b > 0.0),
        "exactly one replica may write: a={writes_a} b={writes_b}"
    );
    let (leader, standby) = if writes_a > 0.0 { (a, b) } else { (b, a) };
    leader.kill().await;
    let killed = Instant::now();
    merge_patch(
        &ns,
        "s",
        json!({"spec": {"loki": {"retention": {"period": "14d"}}}}),
    )
    .await
    .unwrap();
    ns.wait_for(
        Duration::from_secs(60),
        "the standby applies the change",
        async || {
            let cm = ns.api::<ConfigMap>().get("s-loki-config").await?;
            Ok(cm.data.unwrap_or_default()["loki.yaml"]
                .contains("retention_period: 336h")
                .then_some(()))
        },
    )
    .await;
    let took = killed.elapsed();
    assert!(
        standby
            .metric_sum("sextant_api_writes_total")
            .await
            .unwrap()
            > 0.0
    );
    // Lease duration 6 s, plus a renewal period and the reconcile itself.
    assert!(took < Duration::from_secs(20), "takeover took {took:?}");
    eprintln!("standby took over and applied the change {took:?} after the leader was killed");
    drop(standby);
    ns.cleanup().await.unwrap();
}

async fn make_expandable_class(cluster: &Cluster, name: &str, expandable: bool) {
    let classes: Api<StorageClass> = Api::all(cluster.client().clone());
    let sc: StorageClass = serde_json::from_value(json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": name}, "provisioner": "kubernetes.io/no-provisioner",
        "allowVolumeExpansion": expandable, "volumeBindingMode": "Immediate",
    }))
    .unwrap();
    match classes.create(&PostParams::default(), &sc).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("{e}"),
    }
}

/// Pre-provisions a PersistentVolume bound to the claim the StatefulSet will make.
async fn volume_for(cluster: &Cluster, ns: &str, claim: &str, class: &str) {
    let pvs: Api<PersistentVolume> = Api::all(cluster.client().clone());
    let pv: PersistentVolume = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": format!("{ns}-{claim}")},
        "spec": {"capacity": {"storage": "100Gi"}, "accessModes": ["ReadWriteOnce"],
                 "storageClassName": class, "hostPath": {"path": format!("/tmp/sextant-e2e-pv/{ns}-{claim}")},
                 "claimRef": {"namespace": ns, "name": claim}, "persistentVolumeReclaimPolicy": "Retain"},
    }))
    .unwrap();
    pvs.create(&PostParams::default(), &pv).await.unwrap();
}

#[tokio::test]
async fn volume_growth_expands_claims_or_says_why_not() {
    let (_serial, cluster, ns) = setup("volume-growth").await;
    make_expandable_class(&cluster, "sextant-e2e-expandable", true).await;
    make_expandable_class(&cluster, "sextant-e2e-fixed", false).await;
    let name = ns.name().to_string();
    volume_for(
        &cluster,
        &name,
        "data-grow-loki-0",
        "sextant-e2e-expandable",
    )
    .await;
    volume_for(&cluster, &name, "data-fixed-loki-0", "sextant-e2e-fixed").await;
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();
    let only_loki = |class: &str| {
        json!({"storage": {"storageClassName": class}, "collector": {"enabled": false},
               "prometheus": {"enabled": false}, "tempo": {"enabled": false}, "grafana": {"enabled": false},
               "loki": {"storage": {"size": "20Gi"}}})
    };
    create(&ns, "grow", only_loki("sextant-e2e-expandable")).await;
    create(&ns, "fixed", only_loki("sextant-e2e-fixed")).await;
    wait_ready(&ns, "grow").await;
    wait_ready(&ns, "fixed").await;
    let claims = ns.api::<PersistentVolumeClaim>();
    for c in ["data-grow-loki-0", "data-fixed-loki-0"] {
        ns.wait_condition(&claims, c, TIMEOUT, &format!("{c} Bound"), |p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
        })
        .await;
    }
    let sts = ns.api::<StatefulSet>();
    let pods = ns.api::<Pod>();
    let old_sts = sts.get("grow-loki").await.unwrap().uid();
    let old_pod = pods.get("grow-loki-0").await.unwrap().uid();

    let bigger = json!({"spec": {"loki": {"storage": {"size": "30Gi"}}}});
    merge_patch(&ns, "grow", bigger.clone()).await.unwrap();
    merge_patch(&ns, "fixed", bigger).await.unwrap();

    // Expandable: the claim grows, the StatefulSet is re-created, the pod survives.
    ns.wait_condition(
        &claims,
        "data-grow-loki-0",
        TIMEOUT,
        "claim grown to 30Gi",
        |p| requested_storage(p) == Some("30Gi"),
    )
    .await;
    let new = ns
        .wait_condition(
            &sts,
            "grow-loki",
            TIMEOUT,
            "StatefulSet re-created with 30Gi",
            |s| s.uid() != old_sts && serde_json::to_string(&s.spec).unwrap().contains("30Gi"),
        )
        .await;
    assert_ne!(new.uid(), old_sts);
    assert_eq!(
        pods.get("grow-loki-0").await.unwrap().uid(),
        old_pod,
        "the pod was replaced"
    );
    wait_ready(&ns, "grow").await;

    // Not expandable: nothing is deleted, the condition says why.
    let fixed = stack::wait_condition(
        &ns,
        "fixed",
        "Reconciled",
        TIMEOUT,
        "Reconciled=False VolumeResizeBlocked",
        |c| c.1 == "VolumeResizeBlocked",
    )
    .await;
    let message = condition(&fixed, "Reconciled").unwrap().2;
    assert!(
        message.contains("spec.loki.storage.size: cannot grow from 20Gi to 30Gi: StorageClass sextant-e2e-fixed does not allow volume expansion"),
        "{message}"
    );
    let claim = claims.get("data-fixed-loki-0").await.unwrap();
    assert_eq!(requested_storage(&claim), Some("20Gi"));
    drop(op);
    ns.cleanup().await.unwrap();
    let pvs: Api<PersistentVolume> = Api::all(cluster.client().clone());
    for pv in [
        format!("{name}-data-grow-loki-0"),
        format!("{name}-data-fixed-loki-0"),
    ] {
        let _ = pvs.delete(&pv, &DeleteParams::default()).await;
    }
}

#[tokio::test]
async fn existing_admin_secret_is_never_overwritten() {
    let (_serial, cluster, ns) = setup("admin-secret").await;
    // Someone created the Secret first: sextant's create meets a 409 and keeps it.
    ns.create_secret(
        "s-grafana-admin",
        &[("admin-user", "root"), ("admin-password", "chosen-by-hand")],
    )
    .await
    .unwrap();
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();
    create(&ns, "s", json!({})).await;
    wait_ready(&ns, "s").await;
    let got = ns.api::<Secret>().get("s-grafana-admin").await.unwrap();
    let data = got.data.unwrap();
    assert_eq!(data["admin-password"].0, b"chosen-by-hand");
    drop(op);
    ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn recreated_stack_reattaches_to_its_retained_volumes() {
    let (_serial, cluster, ns) = setup("reattach").await;
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();
    let minimal = stack::sample("minimal.yaml", ns.name()).unwrap();
    stack::create(&ns, &minimal).await.unwrap();
    wait_ready(&ns, "minimal").await;
    let claims = ns.api::<PersistentVolumeClaim>();
    let claim_uids = async || -> BTreeMap<String, String> {
        claims
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|c| (c.name_any(), c.uid().unwrap()))
            .collect()
    };
    let before = claim_uids().await;
    assert_eq!(before.len(), 3, "{before:?}");
    stack::delete(&ns, "minimal").await;
    ns.wait_deleted(
        &ns.api::<StatefulSet>(),
        "minimal-loki",
        TIMEOUT,
        "StatefulSet collected",
    )
    .await;
    stack::create(&ns, &minimal).await.unwrap();
    wait_ready(&ns, "minimal").await;
    let after = claim_uids().await;
    assert_eq!(
        after, before,
        "the re-created stack must use the same claims"
    );
    let pod = ns.api::<Pod>().get("minimal-loki-0").await.unwrap();
    let uses: Vec<String> = pod
        .spec
        .unwrap()
        .volumes
        .unwrap()
        .into_iter()
        .filter_map(|v| v.persistent_volume_claim.map(|c| c.claim_name))
        .collect();
    assert_eq!(uses, ["data-minimal-loki-0"]);
    drop(op);
    ns.cleanup().await.unwrap();
}
