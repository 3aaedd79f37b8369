//! The operator against a real API server: each test runs its own `sextant run`
//! on its own namespace and asserts what a user would check with kubectl.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use sextant_e2e::namespace::STACK_NAMESPACE_LABEL;
use sextant_e2e::objects::config_hash;
use sextant_e2e::operator::{Operator, kubectl};
use sextant_e2e::stack::{self, condition, merge_patch, sample, stacks, wait_ready};
use sextant_e2e::{Cluster, TestNamespace, install_crds};

const CHANGE_TIMEOUT: Duration = Duration::from_secs(90);
const CHILDREN: &str = "app.kubernetes.io/managed-by=sextant";

async fn setup(test: &str) -> (Cluster, TestNamespace, Operator) {
    let cluster = Cluster::connect().await;
    install_crds(cluster.client()).await.unwrap();
    let ns = TestNamespace::create(&cluster, test).await.unwrap();
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();
    (cluster, ns, op)
}

/// `setup`, then the minimal sample, Ready.
async fn setup_minimal(test: &str) -> (TestNamespace, Operator) {
    let (_cluster, ns, op) = setup(test).await;
    stack::create(&ns, &sample("minimal.yaml", ns.name()).unwrap())
        .await
        .unwrap();
    wait_ready(&ns, "minimal").await;
    (ns, op)
}

/// resourceVersion of every labelled child of the kinds that have no status,
/// and generation of every workload: what changes only when someone writes it.
async fn fingerprint(ns: &TestNamespace) -> BTreeMap<String, String> {
    let lp = ListParams::default().labels(CHILDREN);
    let mut out = BTreeMap::new();
    for cm in ns.api::<ConfigMap>().list(&lp).await.unwrap() {
        out.insert(
            format!("ConfigMap/{}", cm.name_any()),
            cm.resource_version().unwrap(),
        );
    }
    for s in ns.api::<Service>().list(&lp).await.unwrap() {
        out.insert(
            format!("Service/{}", s.name_any()),
            s.resource_version().unwrap(),
        );
    }
    for s in ns.api::<ServiceAccount>().list(&lp).await.unwrap() {
        out.insert(
            format!("ServiceAccount/{}", s.name_any()),
            s.resource_version().unwrap(),
        );
    }
    for d in ns.api::<Deployment>().list(&lp).await.unwrap() {
        out.insert(
            format!("Deployment/{}", d.name_any()),
            d.metadata.generation.unwrap().to_string(),
        );
    }
    for s in ns.api::<StatefulSet>().list(&lp).await.unwrap() {
        out.insert(
            format!("StatefulSet/{}", s.name_any()),
            s.metadata.generation.unwrap().to_string(),
        );
    }
    for d in ns.api::<DaemonSet>().list(&lp).await.unwrap() {
        out.insert(
            format!("DaemonSet/{}", d.name_any()),
            d.metadata.generation.unwrap().to_string(),
        );
    }
    let cluster_children =
        ListParams::default().labels(&format!("{STACK_NAMESPACE_LABEL}={}", ns.name()));
    for b in Api::<ClusterRoleBinding>::all(ns.client().clone())
        .list(&cluster_children)
        .await
        .unwrap()
    {
        out.insert(
            format!("ClusterRoleBinding/{}", b.name_any()),
            b.resource_version().unwrap(),
        );
    }
    out
}

/// The config hash of a StatefulSet's pod template.
fn pod_hash(sts: &StatefulSet) -> String {
    sts.spec
        .as_ref()
        .and_then(|s| config_hash(&s.template))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn sample_reaches_ready_and_describe_shows_conditions_and_events() {
    let (cluster, ns, op) = setup("ready").await;
    stack::create(&ns, &sample("agent-fleet.yaml", ns.name()).unwrap())
        .await
        .unwrap();
    let stack = wait_ready(&ns, "agents").await;
    for c in [
        "Reconciled",
        "CollectorReady",
        "PrometheusReady",
        "TempoReady",
        "LokiReady",
        "GrafanaReady",
        "NodeAgentReady",
        "ClusterCollectorReady",
    ] {
        assert_eq!(
            condition(&stack, c).map(|c| c.0).as_deref(),
            Some("True"),
            "{c}"
        );
    }
    assert_eq!(
        stack.data["status"]["endpoints"]["otlpGrpc"],
        json!(format!("agents-collector.{}.svc:4317", ns.name()))
    );
    // On a cluster without autoscaling/v2 (the local 1.20 control plane) the
    // collector runs at minReplicas and its condition says why; elsewhere an HPA
    // owns the replicas.
    let hpa_served = cluster.serves("autoscaling", "v2").await;
    let collector = ns
        .api::<Deployment>()
        .get("agents-collector")
        .await
        .unwrap();
    let collector_cond = condition(&stack, "CollectorReady").unwrap();
    if hpa_served {
        let hpa: Api<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler> =
            Api::namespaced(ns.client().clone(), ns.name());
        assert_eq!(
            hpa.get("agents-collector")
                .await
                .unwrap()
                .spec
                .unwrap()
                .max_replicas,
            10
        );
    } else {
        assert_eq!(collector_cond.1, "APIUnavailable");
        assert_eq!(collector.spec.unwrap().replicas, Some(2));
    }
    // The probe: this operator runs outside the cluster, where the collector's
    // Service name does not resolve (and no container runs behind it): it must
    // say so, never claim the data flows.
    let stack = stack::wait_condition(
        &ns,
        "agents",
        "DataFlowing",
        Duration::from_secs(120),
        "the probe's first result",
        |c| c.1 != "ProbePending",
    )
    .await;
    let flowing = condition(&stack, "DataFlowing").unwrap();
    assert_eq!(
        (flowing.0.as_str(), flowing.1.as_str()),
        ("False", "CollectorUnreachable"),
        "{flowing:?}"
    );
    let paths = stack.data["status"]["dataFlow"]["paths"]
        .as_array()
        .unwrap();
    let reasons: BTreeMap<&str, &str> = paths
        .iter()
        .map(|p| (p["signal"].as_str().unwrap(), p["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        reasons,
        BTreeMap::from([
            ("links", "NotChecked"),
            ("logs", "CollectorUnreachable"),
            ("metrics", "CollectorUnreachable"),
            ("traces", "CollectorUnreachable"),
        ])
    );
    assert!(
        paths.iter().all(|p| p.get("latency").is_none()),
        "{paths:?}"
    );
    assert!(
        flowing
            .2
            .contains(&format!("agents-collector.{}.svc:4318", ns.name())),
        "{flowing:?}"
    );
    let get = kubectl(&cluster, &["get", "obs", "-n", ns.name()]).unwrap();
    assert!(
        get.contains("READY")
            && get.contains("COLLECTORS")
            && get.contains("DATA")
            && get.contains("True")
            && get.contains("False"),
        "{get}"
    );
    let describe = kubectl(&cluster, &["describe", "obs", "agents", "-n", ns.name()]).unwrap();
    // The sample's SLOs and the rules they became, in the status and in describe.
    assert_eq!(
        stack.data["status"]["slos"][0]["alerts"],
        json!([
            "ErrorBudgetBurn_agent_tasks_page",
            "ErrorBudgetBurn_agent_tasks_ticket"
        ])
    );
    assert_eq!(
        stack.data["status"]["slos"][1]["ruleGroup"],
        json!("sextant-slo-model-calls")
    );
    for needle in [
        "Conditions:",
        "AllComponentsReady",
        "Applied",
        "Events:",
        "sextant-slo-agent-tasks",
        "ErrorBudgetBurn_model_calls_ticket",
    ] {
        assert!(
            describe.contains(needle),
            "kubectl describe lacks {needle}:\n{describe}"
        );
    }
    drop(op);
    ns.cleanup().await.unwrap();
}

/// Changes Loki's retention and waits for its pods' config hash to follow:
/// a reconcile that must change Loki, and only Loki.
async fn change_loki_retention(ns: &TestNamespace) {
    let sts = ns.api::<StatefulSet>();
    let loki_hash = pod_hash(&sts.get("minimal-loki").await.unwrap());
    merge_patch(
        ns,
        "minimal",
        json!({"spec": {"loki": {"retention": {"period": "14d"}}}}),
    )
    .await
    .unwrap();
    wait_loki_hash_changes(ns, &loki_hash).await;
    wait_ready(ns, "minimal").await;
}

/// Waits until the minimal stack's Loki pod template no longer has config hash
/// `before`.
async fn wait_loki_hash_changes(ns: &TestNamespace, before: &str) {
    let sts = ns.api::<StatefulSet>();
    ns.wait_for(CHANGE_TIMEOUT, "Loki's config hash changes", async || {
        let h = pod_hash(&sts.get("minimal-loki").await?);
        Ok((h != before).then_some(()))
    })
    .await;
}

#[tokio::test]
async fn retention_change_rolls_only_loki_and_writes_nothing_else() {
    let (ns, op) = setup_minimal("retention").await;
    let before = fingerprint(&ns).await;
    change_loki_retention(&ns).await;
    let after = fingerprint(&ns).await;
    let changed: Vec<&String> = before
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert_eq!(
        changed,
        ["ConfigMap/minimal-loki-config", "StatefulSet/minimal-loki"],
        "{before:#?}\n{after:#?}"
    );
    let cm = ns
        .api::<ConfigMap>()
        .get("minimal-loki-config")
        .await
        .unwrap();
    assert!(cm.data.unwrap()["loki.yaml"].contains("retention_period: 336h"));
    drop(op);
    ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn deleted_child_is_recreated_and_hand_edit_reverted() {
    let (ns, op) = setup_minimal("drift").await;
    let services = ns.api::<Service>();
    let old_uid = services.get("minimal-prometheus").await.unwrap().uid();
    services
        .delete("minimal-prometheus", &DeleteParams::default())
        .await
        .unwrap();
    let svc = ns
        .wait_condition(
            &services,
            "minimal-prometheus",
            CHANGE_TIMEOUT,
            "deleted Service re-created",
            |s| s.uid() != old_uid,
        )
        .await;
    assert_eq!(svc.spec.unwrap().ports.unwrap()[0].port, 9090);

    let cms = ns.api::<ConfigMap>();
    cms.patch(
        "minimal-tempo-config",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"tempo.yaml": "edited: by hand\n"}})),
    )
    .await
    .unwrap();
    // The edit is reverted on the ConfigMap's next watch event.
    let cm = ns
        .wait_condition(
            &cms,
            "minimal-tempo-config",
            CHANGE_TIMEOUT,
            "hand edit reverted",
            |c| {
                c.data
                    .as_ref()
                    .is_some_and(|d| d["tempo.yaml"].contains("block_retention"))
            },
        )
        .await;
    assert!(!cm.data.unwrap()["tempo.yaml"].contains("edited"));
    drop(op);
    ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn network_policies_come_with_the_components_and_go_when_turned_off() {
    let (ns, op) = setup_minimal("netpol").await;
    let policies = ns.api::<NetworkPolicy>();
    let names = async || -> Vec<String> {
        let mut n: Vec<String> = policies
            .list(&ListParams::default().labels("app.kubernetes.io/instance=minimal"))
            .await
            .unwrap()
            .items
            .iter()
            .map(ResourceExt::name_any)
            .collect();
        n.sort();
        n
    };
    assert_eq!(
        names().await,
        [
            "minimal-cluster-collector",
            "minimal-collector",
            "minimal-grafana",
            "minimal-loki",
            "minimal-node-agent",
            "minimal-prometheus",
            "minimal-tempo"
        ]
    );
    let loki = policies.get("minimal-loki").await.unwrap();
    let spec = loki.spec.unwrap();
    assert_eq!(
        spec.pod_selector.unwrap().match_labels.unwrap()["app.kubernetes.io/name"],
        "loki"
    );
    assert_eq!(
        spec.policy_types.as_deref(),
        Some(&["Ingress".to_string()][..])
    );

    // A component disabled: its policy goes with it; all off: none is left.
    merge_patch(
        &ns,
        "minimal",
        json!({"spec": {"tempo": {"enabled": false}}}),
    )
    .await
    .unwrap();
    ns.wait_deleted(
        &policies,
        "minimal-tempo",
        CHANGE_TIMEOUT,
        "Tempo's NetworkPolicy pruned",
    )
    .await;
    merge_patch(
        &ns,
        "minimal",
        json!({"spec": {"networkPolicies": {"enabled": false}}}),
    )
    .await
    .unwrap();
    ns.wait_for(CHANGE_TIMEOUT, "every NetworkPolicy pruned", async || {
        Ok(names().await.is_empty().then_some(()))
    })
    .await;
    wait_ready(&ns, "minimal").await;
    drop(op);
    ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn paused_stack_keeps_a_hand_edit_until_unpaused() {
    let (ns, op) = setup_minimal("paused").await;
    merge_patch(&ns, "minimal", json!({"spec": {"paused": true}}))
        .await
        .unwrap();
    let paused = stack::wait_condition(
        &ns,
        "minimal",
        "Reconciled",
        CHANGE_TIMEOUT,
        "Reconciled=False Paused",
        |(st, r, _)| st == "False" && r == "Paused",
    )
    .await;
    let (ready, reason, _) = condition(&paused, "Ready").unwrap();
    assert_eq!((ready.as_str(), reason.as_str()), ("Unknown", "Paused"));

    // A hand edit and a spec change: neither is acted on while paused (the
    // ConfigMap's watch event reaches the operator, which leaves it).
    let cms = ns.api::<ConfigMap>();
    cms.patch(
        "minimal-tempo-config",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"tempo.yaml": "edited: by hand\n"}})),
    )
    .await
    .unwrap();
    let before = fingerprint(&ns).await;
    merge_patch(
        &ns,
        "minimal",
        json!({"spec": {"grafana": {"enabled": false}}}),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        fingerprint(&ns).await,
        before,
        "a paused stack's child changed"
    );
    let cm = cms.get("minimal-tempo-config").await.unwrap();
    assert_eq!(cm.data.unwrap()["tempo.yaml"], "edited: by hand\n");

    // Unpaused: the edit is reverted and the spec change applied.
    merge_patch(&ns, "minimal", json!({"spec": {"paused": false}}))
        .await
        .unwrap();
    ns.wait_condition(
        &cms,
        "minimal-tempo-config",
        CHANGE_TIMEOUT,
        "hand edit reverted after unpausing",
        |c| {
            c.data
                .as_ref()
                .is_some_and(|d| d["tempo.yaml"].contains("block_retention"))
        },
    )
    .await;
    ns.wait_deleted(
        &ns.api::<Deployment>(),
        "minimal-grafana",
        CHANGE_TIMEOUT,
        "Grafana pruned after unpausing",
    )
    .await;
    wait_ready(&ns, "minimal").await;
    drop(op);
    ns.cleanup().await.unwrap();
}

/// Waits for the stack `minimal` to be refused with a message starting with
/// `message`, then checks that no child changed from `before` (`fingerprint`).
async fn refused_changing_nothing(
    ns: &TestNamespace,
    before: &BTreeMap<String, String>,
    message: &str,
) {
    let stack = stack::wait_condition(
        ns,
        "minimal",
        "Reconciled",
        CHANGE_TIMEOUT,
        "Reconciled=False InvalidSpec",
        |(st, r, _)| st == "False" && r == "InvalidSpec",
    )
    .await;
    let (_, _, said) = condition(&stack, "Reconciled").unwrap();
    assert!(said.starts_with(message), "{said}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        &fingerprint(ns).await,
        before,
        "an invalid spec changed a child"
    );
}

#[tokio::test]
async fn invalid_spec_is_reported_and_changes_no_child() {
    let (ns, op) = setup_minimal("invalid").await;
    let before = fingerprint(&ns).await;
    // Valid for the schema, invalid for sextant: Loki keeps logs in whole days.
    merge_patch(
        &ns,
        "minimal",
        json!({"spec": {"retention": {"logs": "36h"}}}),
    )
    .await
    .unwrap();
    refused_changing_nothing(
        &ns,
        &before,
        "spec.retention.logs: must be a whole number of days",
    )
    .await;
    drop(op);
    ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn disabling_a_component_removes_its_children() {
    let (ns, op) = setup_minimal("disable").await;
    merge_patch(
        &ns,
        "minimal",
        json!({"spec": {"tempo": {"enabled": false}}}),
    )
    .await
    .unwrap();
    ns.wait_deleted(
        &ns.api::<StatefulSet>(),
        "minimal-tempo",
        CHANGE_TIMEOUT,
        "Tempo StatefulSet deleted",
    )
    .await;
    ns.wait_deleted(
        &ns.api::<Service>(),
        "minimal-tempo",
        CHANGE_TIMEOUT,
        "Tempo Service deleted",
    )
    .await;
    ns.wait_deleted(
        &ns.api::<ConfigMap>(),
        "minimal-tempo-config",
        CHANGE_TIMEOUT,
        "Tempo config deleted",
    )
    .await;
    ns.wait_deleted(
        &ns.api::<ServiceAccount>(),
        "minimal-tempo",
        CHANGE_TIMEOUT,
        "Tempo ServiceAccount deleted",
    )
    .await;
    let stack = wait_ready(&ns, "minimal").await;
    assert_eq!(
        condition(&stack, "TempoReady").map(|c| (c.0, c.1)),
        Some(("True".into(), "Disabled".into()))
    );
    let collector = ns
        .api::<ConfigMap>()
        .get("minimal-collector-config")
        .await
        .unwrap();
    assert!(!collector.data.unwrap()["config.yaml"].contains("tempo"));
    drop(op);
    ns.cleanup().await.unwrap();
}

async fn claims(ns: &TestNamespace) -> Vec<String> {
    ns.api::<PersistentVolumeClaim>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect()
}

#[tokio::test]
async fn deleting_the_stack_keeps_volumes_unless_policy_is_delete() {
    let (_cluster, ns, op) = setup("volumes").await;
    let mut keep = sample("minimal.yaml", ns.name()).unwrap();
    keep.metadata.name = Some("keep".into());
    let mut drop_ = sample("minimal.yaml", ns.name()).unwrap();
    drop_.metadata.name = Some("gone".into());
    drop_.data["spec"] = json!({"storage": {"deletionPolicy": "Delete"}});
    stack::create(&ns, &keep).await.unwrap();
    stack::create(&ns, &drop_).await.unwrap();
    wait_ready(&ns, "keep").await;
    wait_ready(&ns, "gone").await;
    let all = claims(&ns).await;
    for c in [
        "data-keep-prometheus-0",
        "data-keep-loki-0",
        "data-gone-prometheus-0",
        "data-gone-tempo-0",
    ] {
        assert!(all.contains(&c.to_string()), "{c} missing from {all:?}");
    }
    stack::delete(&ns, "keep").await;
    stack::delete(&ns, "gone").await;
    let sts = ns.api::<StatefulSet>();
    for name in ["keep-prometheus", "gone-prometheus"] {
        ns.wait_deleted(
            &sts,
            name,
            CHANGE_TIMEOUT,
            &format!("{name} garbage-collected"),
        )
        .await;
    }
    ns.wait_deleted(
        &stacks(&ns),
        "gone",
        CHANGE_TIMEOUT,
        "stack with deletionPolicy Delete finalized",
    )
    .await;
    ns.wait_for(
        CHANGE_TIMEOUT,
        "claims of the Delete stack removed",
        async || {
            let all = claims(&ns).await;
            Ok((!all.iter().any(|c| c.contains("-gone-"))).then_some(all))
        },
    )
    .await;
    let left = claims(&ns).await;
    for c in [
        "data-keep-prometheus-0",
        "data-keep-tempo-0",
        "data-keep-loki-0",
    ] {
        assert!(left.contains(&c.to_string()), "Retain lost {c}: {left:?}");
    }
    drop(op);
    ns.cleanup().await.unwrap();
}

/// A running stack moved to object storage: Loki and Tempo get their new configs
/// and credentials, their claims are the same objects as before (never deleted
/// by the change), and the stack is Ready again; then to three replicas of each
/// and back (`scale_to_three_replicas`).
#[tokio::test]
async fn switching_to_object_storage_keeps_the_volumes() {
    let (ns, op) = setup_minimal("object-store").await;
    let pvcs = ns.api::<PersistentVolumeClaim>();
    let uid = async |name: &str| pvcs.get(name).await.unwrap().metadata.uid;
    let before = (
        uid("data-minimal-loki-0").await,
        uid("data-minimal-tempo-0").await,
    );
    assert!(before.0.is_some() && before.1.is_some());
    ns.create_secret(
        "store-creds",
        &[
            ("accessKeyId", "AKIAEXAMPLE"),
            ("secretAccessKey", "example"),
        ],
    )
    .await
    .unwrap();
    let sts = ns.api::<StatefulSet>();
    let loki_hash = pod_hash(&sts.get("minimal-loki").await.unwrap());
    merge_patch(
        &ns,
        "minimal",
        json!({"spec": {"storage": {"objectStore": {
            "s3": {"endpoint": "minio.storage.svc:9000", "region": "us-east-1",
                   "forcePathStyle": true, "insecure": true},
            "buckets": {"logs": "acme-logs", "traces": "acme-traces"},
            "credentialsSecret": "store-creds",
            "logsSince": "2099-01-01",
        }}}}),
    )
    .await
    .unwrap();
    wait_loki_hash_changes(&ns, &loki_hash).await;
    let stack = wait_ready(&ns, "minimal").await;
    for c in ["LokiReady", "TempoReady"] {
        assert_eq!(
            condition(&stack, c).map(|c| c.0),
            Some("True".into()),
            "{c}"
        );
    }
    let cms = ns.api::<ConfigMap>();
    let loki = cms.get("minimal-loki-config").await.unwrap().data.unwrap();
    let loki = &loki["loki.yaml"];
    for want in [
        "bucketnames: acme-logs",
        "object_store: filesystem",
        "object_store: s3",
        "directory: /var/loki/chunks",
    ] {
        assert!(loki.contains(want), "loki.yaml lacks {want}:\n{loki}");
    }
    let tempo = cms.get("minimal-tempo-config").await.unwrap().data.unwrap();
    assert!(tempo["tempo.yaml"].contains("backend: s3"));
    for name in ["minimal-loki", "minimal-tempo"] {
        let set = sts.get(name).await.unwrap();
        let spec = set.spec.unwrap();
        let env = spec.template.spec.unwrap().containers[0]
            .env
            .clone()
            .unwrap_or_default();
        let from = |n: &str| {
            env.iter()
                .find(|e| e.name == n)
                .and_then(|e| e.value_from.as_ref()?.secret_key_ref.as_ref())
                .map(|r| (r.name.clone(), r.key.clone()))
        };
        assert_eq!(
            from("AWS_SECRET_ACCESS_KEY"),
            Some(("store-creds".into(), "secretAccessKey".into())),
            "{name}"
        );
    }
    let after = (
        uid("data-minimal-loki-0").await,
        uid("data-minimal-tempo-0").await,
    );
    assert_eq!(before, after, "the claims were replaced");
    // A rotated key reaches the pods through their environment only at start:
    // the operator sees the Secret change and rolls Loki and Tempo.
    let hashes = async || {
        (
            pod_hash(&sts.get("minimal-loki").await.unwrap()),
            pod_hash(&sts.get("minimal-tempo").await.unwrap()),
        )
    };
    let (loki, tempo) = hashes().await;
    ns.replace_secret(
        "store-creds",
        &[
            ("accessKeyId", "AKIAEXAMPLE"),
            ("secretAccessKey", "rotated"),
        ],
    )
    .await
    .unwrap();
    ns.wait_for(
        CHANGE_TIMEOUT,
        "Loki and Tempo roll after the key rotates",
        async || {
            let (l, t) = hashes().await;
            Ok((l != loki && t != tempo).then_some(()))
        },
    )
    .await;
    scale_to_three_replicas(&ns, before).await;
    prometheus_pair_and_back(&ns).await;
    drop(op);
    ns.cleanup().await.unwrap();
}

/// The stack of `switching_to_object_storage_keeps_the_volumes`, on its object
/// store, goes to three replicas of Loki and Tempo: refused (changing nothing)
/// while `logsSince` keeps older logs on the first volume, then, without it, a
/// ring of three each, with their members Services and the first claims kept;
/// and back to one, which removes what the ring needed.
async fn scale_to_three_replicas(ns: &TestNamespace, claims: (Option<String>, Option<String>)) {
    let three = json!({"spec": {"loki": {"replicas": 3}, "tempo": {"replicas": 3}}});
    let before = fingerprint(ns).await;
    merge_patch(ns, "minimal", three).await.unwrap();
    refused_changing_nothing(
        ns,
        &before,
        "spec.storage.objectStore.logsSince: is for one Loki replica",
    )
    .await;

    merge_patch(
        ns,
        "minimal",
        json!({"spec": {"storage": {"objectStore": {"logsSince": null}}}}),
    )
    .await
    .unwrap();
    let sts = ns.api::<StatefulSet>();
    for name in ["minimal-loki", "minimal-tempo"] {
        ns.wait_condition(
            &sts,
            name,
            CHANGE_TIMEOUT,
            &format!("{name} runs 3 ready replicas"),
            |s: &StatefulSet| {
                s.spec.as_ref().and_then(|s| s.replicas) == Some(3)
                    && s.status.as_ref().and_then(|s| s.ready_replicas) == Some(3)
            },
        )
        .await;
    }
    wait_ready(ns, "minimal").await;
    let services = ns.api::<Service>();
    for name in ["minimal-loki-members", "minimal-tempo-members"] {
        let spec = services.get(name).await.unwrap().spec.unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("None"), "{name}");
        assert_eq!(spec.publish_not_ready_addresses, Some(true), "{name}");
    }
    let loki = ns
        .api::<ConfigMap>()
        .get("minimal-loki-config")
        .await
        .unwrap();
    let loki = &loki.data.unwrap()["loki.yaml"];
    let join = format!("dns+minimal-loki-members.{}.svc:7946", ns.name());
    for want in ["store: memberlist", "replication_factor: 3", join.as_str()] {
        assert!(loki.contains(want), "loki.yaml lacks {want}:\n{loki}");
    }
    let tempo = sts.get("minimal-tempo").await.unwrap();
    let args = tempo.spec.unwrap().template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap_or_default();
    assert!(
        args.contains(&"-target=scalable-single-binary".to_string()),
        "{args:?}"
    );
    let pvcs = ns.api::<PersistentVolumeClaim>();
    let uid = async |name: &str| pvcs.get(name).await.unwrap().metadata.uid;
    assert_eq!(
        (
            uid("data-minimal-loki-0").await,
            uid("data-minimal-tempo-0").await
        ),
        claims,
        "the first replicas' claims were replaced"
    );
    let all = self::claims(ns).await;
    for c in ["data-minimal-loki-2", "data-minimal-tempo-2"] {
        assert!(all.contains(&c.to_string()), "{c} missing from {all:?}");
    }

    // Back to one: the ring's Service goes, every claim stays.
    merge_patch(
        ns,
        "minimal",
        json!({"spec": {"loki": {"replicas": 1}, "tempo": {"replicas": 1}}}),
    )
    .await
    .unwrap();
    for name in ["minimal-loki-members", "minimal-tempo-members"] {
        ns.wait_deleted(&services, name, CHANGE_TIMEOUT, &format!("{name} pruned"))
            .await;
    }
    wait_ready(ns, "minimal").await;
    let left = self::claims(ns).await;
    for c in all {
        assert!(left.contains(&c), "scaling down deleted {c}: {left:?}");
    }
}

/// Prometheus to an HA pair and back: two replicas with a sidecar each, a
/// Service per replica whose Endpoints (filled by the real endpoints
/// controller from the labels the real StatefulSet controller sets) hold
/// exactly that replica's pod, the Thanos Query ready and Grafana pointed at
/// it, the stack Ready; back to one, the pair's children are pruned and both
/// claims stay.
async fn prometheus_pair_and_back(ns: &TestNamespace) {
    let first_claim = ns
        .api::<PersistentVolumeClaim>()
        .get("data-minimal-prometheus-0")
        .await
        .unwrap()
        .metadata
        .uid;
    merge_patch(
        ns,
        "minimal",
        json!({"spec": {"prometheus": {"replicas": 2}}}),
    )
    .await
    .unwrap();
    let sts = ns.api::<StatefulSet>();
    let set = ns
        .wait_condition(
            &sts,
            "minimal-prometheus",
            CHANGE_TIMEOUT,
            "Prometheus runs 2 ready replicas",
            |s: &StatefulSet| {
                s.spec.as_ref().and_then(|s| s.replicas) == Some(2)
                    && s.status.as_ref().and_then(|s| s.ready_replicas) == Some(2)
            },
        )
        .await;
    let containers: Vec<String> = set
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(containers, ["prometheus", "thanos-sidecar"]);
    ns.wait_condition(
        &ns.api::<Deployment>(),
        "minimal-prometheus-query",
        CHANGE_TIMEOUT,
        "the Thanos Query is available",
        |d: &Deployment| d.status.as_ref().and_then(|s| s.available_replicas) == Some(2),
    )
    .await;
    let pods = ns.api::<k8s_openapi::api::core::v1::Pod>();
    let endpoints = ns.api::<k8s_openapi::api::core::v1::Endpoints>();
    for i in 0..2 {
        let pod = pods.get(&format!("minimal-prometheus-{i}")).await.unwrap();
        let ip = pod.status.and_then(|s| s.pod_ip).unwrap();
        let name = format!("minimal-prometheus-{i}");
        let e = ns
            .wait_condition(
                &endpoints,
                &name,
                CHANGE_TIMEOUT,
                &format!("{name} lists its replica"),
                |e: &k8s_openapi::api::core::v1::Endpoints| {
                    e.subsets
                        .iter()
                        .flatten()
                        .any(|s| s.addresses.as_ref().is_some_and(|a| !a.is_empty()))
                },
            )
            .await;
        let ips: Vec<String> = e
            .subsets
            .iter()
            .flatten()
            .flat_map(|s| s.addresses.clone().unwrap_or_default())
            .map(|a| a.ip)
            .collect();
        assert_eq!(ips, [ip], "{name} selects exactly replica {i}");
    }
    let grafana = ns
        .api::<ConfigMap>()
        .get("minimal-grafana-config")
        .await
        .unwrap();
    let datasources = &grafana.data.unwrap()["datasources.yaml"];
    let query = format!("http://minimal-prometheus-query.{}.svc:10902", ns.name());
    assert!(datasources.contains(&query), "{datasources}");
    wait_ready(ns, "minimal").await;

    merge_patch(
        ns,
        "minimal",
        json!({"spec": {"prometheus": {"replicas": 1}}}),
    )
    .await
    .unwrap();
    let services = ns.api::<Service>();
    for name in [
        "minimal-prometheus-0",
        "minimal-prometheus-1",
        "minimal-prometheus-query",
    ] {
        ns.wait_deleted(&services, name, CHANGE_TIMEOUT, &format!("{name} pruned"))
            .await;
    }
    ns.wait_deleted(
        &ns.api::<Deployment>(),
        "minimal-prometheus-query",
        CHANGE_TIMEOUT,
        "the Query pruned",
    )
    .await;
    wait_ready(ns, "minimal").await;
    let pvcs = ns.api::<PersistentVolumeClaim>();
    assert_eq!(
        pvcs.get("data-minimal-prometheus-0")
            .await
            .unwrap()
            .metadata
            .uid,
        first_claim,
        "the first replica's claim was replaced"
    );
    assert!(pvcs.get("data-minimal-prometheus-1").await.is_ok());
}

/// How soon a deleted stack must leave the operator's metrics.
const FORGET_TIMEOUT: Duration = Duration::from_secs(30);

/// `sextant_stacks_managed` and every `sextant_stacks_by_condition` series (its
/// labels, e.g. `{condition="Ready",status="True"}`) as the operator serves them.
async fn stack_metrics(op: &Operator) -> anyhow::Result<(f64, BTreeMap<String, f64>)> {
    let body = op.get("/metrics").await?;
    let mut managed = None;
    let mut by_condition = BTreeMap::new();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        if series == "sextant_stacks_managed" {
            managed = Some(value.parse()?);
        } else if let Some(labels) = series.strip_prefix("sextant_stacks_by_condition{") {
            by_condition.insert(format!("{{{labels}"), value.parse()?);
        }
    }
    let managed =
        managed.ok_or_else(|| anyhow::anyhow!("no sextant_stacks_managed in:\n{body}"))?;
    Ok((managed, by_condition))
}

/// What `sextant_stacks_by_condition` should hold for these stacks: one count per
/// condition type and status of their current status.
async fn expected_by_condition(
    ns: &TestNamespace,
    names: &[&str],
) -> anyhow::Result<BTreeMap<String, f64>> {
    let mut want = BTreeMap::new();
    for name in names {
        let stack = stacks(ns).get(name).await?;
        let conditions = stack.data["status"]["conditions"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("{name} has no conditions yet"))?;
        for c in conditions {
            let labels = format!(
                "{{condition=\"{}\",status=\"{}\"}}",
                c["type"].as_str().unwrap_or_default(),
                c["status"].as_str().unwrap_or_default()
            );
            *want.entry(labels).or_insert(0.0) += 1.0;
        }
    }
    Ok(want)
}

/// Waits until the operator's stack metrics count exactly the stacks `names`.
async fn wait_metrics_count(
    ns: &TestNamespace,
    op: &Operator,
    names: &[&str],
    timeout: Duration,
    description: &str,
) {
    ns.wait_for(timeout, description, async || {
        let (managed, by_condition) = stack_metrics(op).await?;
        let want = expected_by_condition(ns, names).await?;
        anyhow::ensure!(
            managed == names.len() as f64 && by_condition == want,
            "sextant_stacks_managed {managed} (want {}), sextant_stacks_by_condition \
             {by_condition:?} (want {want:?})",
            names.len()
        );
        Ok(Some(()))
    })
    .await;
}

#[tokio::test]
async fn deleted_stacks_leave_the_stack_metrics() {
    // Without cluster-wide collection, so that no stack holds a finalizer (a
    // stack with ClusterRoleBindings holds one: see tests/node_agent.rs).
    let cluster = Cluster::connect().await;
    install_crds(cluster.client()).await.unwrap();
    let ns = TestNamespace::create(&cluster, "forget").await.unwrap();
    let op = Operator::start_without_cluster_roles(&cluster, ns.name(), &[])
        .await
        .unwrap();
    let named = |name: &str| {
        let mut s = sample("minimal.yaml", ns.name()).unwrap();
        s.metadata.name = Some(name.into());
        s
    };
    // `keep` and `gone` are Ready and own children; `broken` is invalid for
    // sextant (Loki keeps logs in whole days), so it has no children whose garbage
    // collection could trigger a reconcile after it is deleted.
    let mut broken = named("broken");
    broken.data["spec"] = json!({"retention": {"logs": "36h"}});
    for stack in [named("keep"), named("gone"), broken] {
        stack::create(&ns, &stack).await.unwrap();
    }
    wait_ready(&ns, "keep").await;
    wait_ready(&ns, "gone").await;
    stack::wait_condition(
        &ns,
        "broken",
        "Reconciled",
        CHANGE_TIMEOUT,
        "Reconciled=False InvalidSpec",
        |(st, r, _)| st == "False" && r == "InvalidSpec",
    )
    .await;
    wait_metrics_count(
        &ns,
        &op,
        &["keep", "gone", "broken"],
        CHANGE_TIMEOUT,
        "the operator's metrics count the three stacks",
    )
    .await;
    let (_, before) = stack_metrics(&op).await.unwrap();
    assert_eq!(
        before.get("{condition=\"Ready\",status=\"True\"}"),
        Some(&2.0),
        "{before:?}"
    );

    // The default deletionPolicy, Retain, and no cluster-scoped children: no
    // finalizer, so a deleted stack is never reconciled again.
    for name in ["gone", "broken"] {
        let stack = stacks(&ns).get(name).await.unwrap();
        assert!(
            stack.finalizers().is_empty(),
            "{name}: {:?}",
            stack.finalizers()
        );
    }
    stack::delete_and_wait(&ns, "gone", CHANGE_TIMEOUT).await;
    wait_metrics_count(
        &ns,
        &op,
        &["keep", "broken"],
        FORGET_TIMEOUT,
        "the deleted Ready stack leaves sextant_stacks_managed and sextant_stacks_by_condition",
    )
    .await;
    let (_, after) = stack_metrics(&op).await.unwrap();
    assert_eq!(
        after.get("{condition=\"Ready\",status=\"True\"}"),
        Some(&1.0),
        "{after:?}"
    );

    stack::delete_and_wait(&ns, "broken", CHANGE_TIMEOUT).await;
    wait_metrics_count(
        &ns,
        &op,
        &["keep"],
        FORGET_TIMEOUT,
        "the deleted invalid stack (no children) leaves the metrics",
    )
    .await;
    drop(op);
    ns.cleanup().await.unwrap();
}

/// A renewed OTLP certificate reaches the collector without a rollout: the
/// Secret is mounted whole (the kubelet rewrites it in place) and the
/// receivers re-read it (`reload_interval`, `crate::render::otelcol`), so
/// sextant must not restart the collector for it. After the Secret changes, a
/// reconcile (forced by a change to Loki) rolls Loki and leaves the
/// collector's Deployment and config as they were. No collector runs here:
/// that the collector re-reads the files is read in its source, not seen.
#[tokio::test]
async fn a_renewed_otlp_certificate_does_not_roll_the_collector() {
    let (_cluster, ns, op) = setup("tls-rotation").await;
    ns.create_secret("otlp-tls", &[("tls.crt", "cert-1"), ("tls.key", "key-1")])
        .await
        .unwrap();
    let mut obs = sample("minimal.yaml", ns.name()).unwrap();
    obs.data["spec"] = json!({"collector": {"tls": {"secretName": "otlp-tls"}}});
    stack::create(&ns, &obs).await.unwrap();
    wait_ready(&ns, "minimal").await;
    let deployments = ns.api::<Deployment>();
    let collector = deployments.get("minimal-collector").await.unwrap();
    let volume = collector
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.volumes.as_ref())
        .and_then(|v| v.iter().find(|v| v.name == "tls").cloned())
        .unwrap();
    assert_eq!(
        volume.secret.and_then(|s| s.secret_name).as_deref(),
        Some("otlp-tls")
    );
    let before = fingerprint(&ns).await;

    ns.replace_secret("otlp-tls", &[("tls.crt", "cert-2"), ("tls.key", "key-2")])
        .await
        .unwrap();
    change_loki_retention(&ns).await;
    let after = fingerprint(&ns).await;
    let changed: Vec<&String> = before
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert_eq!(
        changed,
        ["ConfigMap/minimal-loki-config", "StatefulSet/minimal-loki"],
        "the collector is left alone: {before:#?}\n{after:#?}"
    );
    drop(op);
    ns.cleanup().await.unwrap();
}
