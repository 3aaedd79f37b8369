//! The Helm chart end to end: `helm install` charts/sextant, then run `sextant` as a
//! local process with the token of the chart's own ServiceAccount (never an admin
//! credential), with the arguments the chart's Deployment gives it, and bring stacks
//! to Ready. The chart runs no pod (`replicaCount=0`): on the local control plane no
//! container could run its image anyway.
//!
//! A permission the chart forgot makes these tests fail (the stack never becomes
//! Ready, and the audit log shows the 403). A permission the chart grants but the
//! operator never uses is listed by `chart_rbac_suffices_and_every_grant_is_used`,
//! which compares the kube-apiserver audit log of the ServiceAccount with the rules.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
    PostParams,
};
use kube::{Api, ResourceExt};
use serde_json::json;
use sextant_e2e::audit::{self, Allowed, audit_log_path, calls_by, compare, grants};
use sextant_e2e::helm::Release;
use sextant_e2e::objects::requested_storage;
use sextant_e2e::operator::{Operator, kubectl};
use sextant_e2e::stack::{self, merge_patch, sample, wait_ready};
use sextant_e2e::{Cluster, TestNamespace, install_crds, install_monitoring_crds};

const CHANGE_TIMEOUT: Duration = Duration::from_secs(120);

/// Installs the chart into `release_ns` with `values` (plus `replicaCount=0`), and
/// starts the operator as a local process with the chart's ServiceAccount token and
/// the Deployment's arguments. `isolate_to`: a namespace to watch when the chart
/// watches every namespace, so this operator leaves other tests' stacks alone (the
/// ClusterRole allows the namespaced list and watch just as well).
async fn install_and_run(
    cluster: &Cluster,
    release_ns: &str,
    values: &[(&str, &str)],
    isolate_to: Option<&str>,
) -> (Release, Operator, Vec<String>) {
    let mut all = vec![("replicaCount", "0")];
    all.extend_from_slice(values);
    let release = Release::install(cluster, release_ns, release_ns, &all).unwrap();
    let mut args = release.operator_args().await.unwrap();
    assert_eq!(args.first().map(String::as_str), Some("run"), "{args:?}");
    if let Some(ns) = isolate_to
        && !args.iter().any(|a| a.starts_with("--namespace"))
    {
        args.push(format!("--namespace={ns}"));
    }
    let kubeconfig = release.service_account_kubeconfig().await.unwrap();
    let operator = Operator::start_with_kubeconfig(
        &kubeconfig,
        &format!("helm-{release_ns}"),
        &args,
        // What the chart's downward API gives the pod.
        &[("POD_NAMESPACE", release_ns), ("POD_NAME", "sextant-e2e-0")],
    )
    .await
    .unwrap();
    println!(
        "operator: {} {}",
        sextant_e2e::operator::sextant_bin().display(),
        args.join(" ")
    );
    println!(
        "  as {} (kubeconfig {})",
        release.service_account_user(),
        kubeconfig.display()
    );
    (release, operator, args)
}

/// The rules the release grants the operator: its ClusterRoles that a release
/// ClusterRoleBinding binds to the operator's ServiceAccount (not the ones the
/// operator only binds for the stacks' collectors: [`stack_cluster_roles`]), and
/// its Roles in any namespace.
async fn release_grants(cluster: &Cluster, release: &Release) -> Vec<audit::Grant> {
    let lp = ListParams::default().labels(&format!("app.kubernetes.io/instance={}", release.name));
    let user = release.service_account_user();
    let bound: Vec<String> = Api::<ClusterRoleBinding>::all(cluster.client().clone())
        .list(&lp)
        .await
        .unwrap()
        .into_iter()
        .filter(|b| {
            b.subjects.iter().flatten().any(|s| {
                s.kind == "ServiceAccount"
                    && format!(
                        "system:serviceaccount:{}:{}",
                        s.namespace.as_deref().unwrap_or_default(),
                        s.name
                    ) == user
            })
        })
        .map(|b| b.role_ref.name)
        .collect();
    let mut out = Vec::new();
    for cr in Api::<ClusterRole>::all(cluster.client().clone())
        .list(&lp)
        .await
        .unwrap()
        .into_iter()
        .filter(|cr| bound.contains(&cr.name_any()))
    {
        out.extend(grants(
            &format!("ClusterRole/{}", cr.name_any()),
            &cr.rules.unwrap_or_default(),
        ));
    }
    for r in Api::<Role>::all(cluster.client().clone())
        .list(&lp)
        .await
        .unwrap()
    {
        let source = format!(
            "Role/{}/{}",
            r.namespace().unwrap_or_default(),
            r.name_any()
        );
        out.extend(grants(&source, &r.rules.unwrap_or_default()));
    }
    out
}

/// Runs kubectl commands when dropped, also when the test panics: without its
/// operator, a stack holding the PVC finalizer would keep its namespace Terminating,
/// and a StorageClass would outlive the test.
struct KubectlOnDrop {
    cluster: Cluster,
    commands: Vec<Vec<String>>,
}

impl Drop for KubectlOnDrop {
    fn drop(&mut self) {
        for args in &self.commands {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let _ = kubectl(&self.cluster, &args);
        }
    }
}

/// A ServiceMonitor whose CA is in a ConfigMap (the operator reads it with a
/// GET, granted by the chart for exactly this).
const MONITOR_WITH_CA: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: backend-ca
data:
  ca.crt: "-----BEGIN CERTIFICATE-----e2e"
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: backend
  labels: {release: helm-e2e}
spec:
  selector:
    matchLabels: {app: backend}
  endpoints:
    - port: https
      scheme: https
      tlsConfig:
        ca: {configMap: {name: backend-ca, key: ca.crt}}
"#;

#[tokio::test]
async fn chart_rbac_suffices_and_every_grant_is_used() {
    let cluster = Cluster::connect().await;
    install_crds(cluster.client()).await.unwrap();
    // Served before the operator starts, so that it watches them.
    install_monitoring_crds(cluster.client()).await.unwrap();
    cluster.require_ready_node().await;
    let ns = TestNamespace::create(&cluster, "helm-rbac").await.unwrap();
    let (release, op, _args) = install_and_run(
        &cluster,
        ns.name(),
        // Leader election too, so that its Role is exercised.
        &[("leaderElection.enabled", "true")],
        Some(ns.name()),
    )
    .await;

    // 1. The minimal sample, unchanged but for its namespace, becomes Ready.
    stack::create(&ns, &sample("minimal.yaml", ns.name()).unwrap())
        .await
        .unwrap();
    wait_ready(&ns, "minimal").await;
    let get = kubectl(&cluster, &["get", "obs", "-n", ns.name()]).unwrap();
    println!("$ kubectl get obs -n {}\n{get}", ns.name());
    assert!(get.contains("AllComponentsReady"), "{get}");
    stack_cluster_roles(&cluster, &release, ns.name(), "minimal").await;

    // 2. Everything else the operator may do, so that every grant is exercised.
    //    a. A stack naming its admin Secret (get) and a contact point whose Secret
    //       value sextant renders into its own Secret (server-side apply: patch),
    //       with deletionPolicy Delete (finalizer patch), on an expandable
    //       StorageClass.
    let class = format!("e2e-expandable-{}", ns.name());
    let classes: Api<StorageClass> = Api::all(cluster.client().clone());
    let sc: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": class, "labels": {"e2e.sextant.dev/test": "helm-rbac"}},
        "provisioner": "kubernetes.io/no-provisioner",
        "allowVolumeExpansion": true,
    }))
    .unwrap();
    classes.create(&PostParams::default(), &sc).await.unwrap();
    let pv_name = format!("{}-data-refs-prometheus-0", ns.name());
    let pv: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": pv_name, "labels": {"e2e.sextant.dev/test": "helm-rbac"}},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": class,
            "hostPath": {"path": format!("/tmp/sextant-e2e-pv/{pv_name}")},
            "claimRef": {"namespace": ns.name(), "name": "data-refs-prometheus-0"},
            "persistentVolumeReclaimPolicy": "Retain",
        },
    }))
    .unwrap();
    Api::<PersistentVolume>::all(cluster.client().clone())
        .create(&PostParams::default(), &pv)
        .await
        .unwrap();
    let _guard = KubectlOnDrop {
        cluster: cluster.clone(),
        commands: vec![
            [
                "patch",
                "obs",
                "refs",
                "-n",
                ns.name(),
                "--type=merge",
                "-p",
                r#"{"metadata":{"finalizers":null}}"#,
            ]
            .map(String::from)
            .to_vec(),
            ["delete", "storageclass", &class, "--ignore-not-found"]
                .map(String::from)
                .to_vec(),
            ["delete", "persistentvolume", &pv_name, "--ignore-not-found"]
                .map(String::from)
                .to_vec(),
        ],
    };
    ns.create_secret(
        "admin-creds",
        &[("admin-user", "admin"), ("admin-password", "e2e-only")],
    )
    .await
    .unwrap();
    ns.create_secret("chat-hook", &[("url", "https://hooks.example/e2e")])
        .await
        .unwrap();
    let mut refs = sample("minimal.yaml", ns.name()).unwrap();
    refs.metadata.name = Some("refs".into());
    refs.data["spec"] = json!({
        "storage": {"deletionPolicy": "Delete", "storageClassName": class},
        // cert-manager and the Gateway API are served (stand-in CRDs): the
        // collector's Certificate and Grafana's HTTPRoute are created.
        "collector": {"tls": {
            "secretName": "refs-otlp-tls",
            "certificate": {"issuerRef": {"name": "e2e-ca", "kind": "ClusterIssuer"}},
        }},
        "prometheus": {
            "storage": {"size": "1Gi"},
            // Monitors of every namespace: the Namespace list, the monitor
            // lists, and the ConfigMap a monitor's TLS settings name.
            "monitorSelector": {"matchLabels": {"release": "helm-e2e"}},
            "monitorNamespaceSelector": {},
        },
        "grafana": {
            "adminCredentials": {"secretName": "admin-creds"},
            "storage": {"size": "1Gi"},
            "httpRoute": {
                "parentRefs": [{"name": "public", "namespace": "gateway-system"}],
                "hostnames": ["grafana.refs.example.com"],
            },
            "alerting": {"contactPoints": [
                {"name": "chat", "type": "slack", "secretRef": {"name": "chat-hook", "key": "url"}},
            ]},
        },
    });
    ns.apply_yaml(MONITOR_WITH_CA).await.unwrap();
    stack::create(&ns, &refs).await.unwrap();
    wait_ready(&ns, "refs").await;
    // The Certificate and the HTTPRoute, as sextant built them.
    let custom = |group: &str, kind: &str, plural: &str| {
        let gvk = GroupVersionKind::gvk(group, "v1", kind);
        Api::<DynamicObject>::namespaced_with(
            cluster.client().clone(),
            ns.name(),
            &ApiResource::from_gvk_with_plural(&gvk, plural),
        )
    };
    let certificates = custom("cert-manager.io", "Certificate", "certificates");
    let cert = certificates.get("refs-collector-tls").await.unwrap();
    assert_eq!(cert.data["spec"]["secretName"], "refs-otlp-tls");
    assert_eq!(cert.data["spec"]["issuerRef"]["kind"], "ClusterIssuer");
    let dns = cert.data["spec"]["dnsNames"].as_array().unwrap();
    assert!(
        dns.contains(&json!(format!("refs-collector.{}.svc", ns.name()))),
        "{dns:?}"
    );
    let routes = custom("gateway.networking.k8s.io", "HTTPRoute", "httproutes");
    let route = routes.get("refs-grafana").await.unwrap();
    assert_eq!(
        route.data["spec"]["hostnames"],
        json!(["grafana.refs.example.com"])
    );
    assert_eq!(
        route.data["spec"]["rules"][0]["backendRefs"][0]["name"],
        "refs-grafana"
    );
    // Both go away with their options.
    merge_patch(
        &ns,
        "refs",
        json!({"spec": {"collector": {"tls": null}, "grafana": {"httpRoute": null}}}),
    )
    .await
    .unwrap();
    ns.wait_deleted(
        &routes,
        "refs-grafana",
        CHANGE_TIMEOUT,
        "the HTTPRoute pruned",
    )
    .await;
    ns.wait_deleted(
        &certificates,
        "refs-collector-tls",
        CHANGE_TIMEOUT,
        "the Certificate pruned",
    )
    .await;
    // Grafana's data claim: created by sextant (the chart's `create` on
    // claims), owned by no one, mounted by Grafana's pod.
    let grafana_claim = ns
        .api::<PersistentVolumeClaim>()
        .get("refs-grafana-data")
        .await
        .unwrap();
    assert_eq!(grafana_claim.metadata.owner_references, None);
    assert_eq!(requested_storage(&grafana_claim), Some("1Gi"));
    let grafana_volumes = ns
        .api::<Deployment>()
        .get("refs-grafana")
        .await
        .unwrap()
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .volumes
        .unwrap();
    assert!(
        grafana_volumes.iter().any(|v| v.name == "data"
            && v.persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.as_str())
                == Some("refs-grafana-data")),
        "{grafana_volumes:?}"
    );
    ns.api::<Secret>()
        .get("refs-grafana-alerting")
        .await
        .unwrap();
    let files = ns
        .api::<Secret>()
        .get("refs-prometheus-monitor-files")
        .await
        .unwrap();
    assert!(
        files
            .data
            .unwrap_or_default()
            .values()
            .any(|v| v.0 == b"-----BEGIN CERTIFICATE-----e2e"),
        "the monitor's CA is copied from its ConfigMap"
    );

    //    b. Volume growth: Prometheus's claim binds to the volume made for it above
    //       (bound by hand where no PV binder runs), then asks for more: the operator
    //       reads the StorageClass, grows the claim and re-creates the StatefulSet.
    let claims = ns.api::<PersistentVolumeClaim>();
    let claim = "data-refs-prometheus-0";
    let bound = sextant_e2e::wait::poll(Duration::from_secs(20), async || {
        let c = claims.get_opt(claim).await?;
        let phase = c.and_then(|c| c.status).and_then(|s| s.phase);
        Ok((phase.as_deref() == Some("Bound")).then_some(()))
    })
    .await;
    if bound.is_err() {
        // A control plane without the persistentvolume-binder controller.
        claims
            .patch_status(
                claim,
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}}),
                ),
            )
            .await
            .unwrap();
    }
    merge_patch(
        &ns,
        "refs",
        json!({"spec": {"prometheus": {"storage": {"size": "2Gi"}}}}),
    )
    .await
    .unwrap();
    ns.wait_condition(
        &claims,
        claim,
        CHANGE_TIMEOUT,
        "the claim grows to 2Gi",
        |c| requested_storage(c) == Some("2Gi"),
    )
    .await;

    //    b'. Grafana behind an Ingress, OTLP on node ports and an extra
    //        collector argument: created with the stack's children, and the
    //        status warns of the plain, open OTLP and names the override (the
    //        gate is one core v0.159.0 registers, confmap/internal/metadata/
    //        generated_feature_gates.go).
    merge_patch(
        &ns,
        "minimal",
        json!({"spec": {
            "grafana": {"ingress": {"host": "grafana.example.com"}},
            "collector": {
                "externalService": {"type": "NodePort"},
                "extraArgs": ["--feature-gates=confmap.enableMergeAppendOption"],
            },
        }}),
    )
    .await
    .unwrap();
    ns.wait_for(CHANGE_TIMEOUT, "Grafana's Ingress created", async || {
        Ok(ns
            .api::<Ingress>()
            .get_opt("minimal-grafana")
            .await?
            .map(|_| ()))
    })
    .await;
    let external = ns
        .wait_for(
            CHANGE_TIMEOUT,
            "the external OTLP Service created",
            async || {
                Ok(ns
                    .api::<Service>()
                    .get_opt("minimal-collector-external")
                    .await?)
            },
        )
        .await;
    let spec = external.spec.unwrap();
    assert_eq!(spec.type_.as_deref(), Some("NodePort"));
    let ports: Vec<(i32, bool)> = spec
        .ports
        .iter()
        .flatten()
        .map(|p| (p.port, p.node_port.is_some()))
        .collect();
    assert_eq!(ports, [(4317, true), (4318, true)], "node ports allocated");
    let warned = ns
        .wait_for(CHANGE_TIMEOUT, "IngestSecured False", async || {
            let s = stack::stacks(&ns).get("minimal").await?;
            Ok(stack::condition(&s, "IngestSecured")
                .filter(|(status, _, _)| status == "False")
                .map(|c| (c, s)))
        })
        .await;
    let ((_, reason, message), with_args) = warned;
    assert_eq!(reason, "ExposedInsecurely", "{message}");
    let (status, reason, message) = stack::condition(&with_args, "ConfigOverridden").unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "OverridesInEffect"),
        "{message}"
    );
    assert!(message.contains("collector (extraArgs)"), "{message}");
    let args = ns
        .api::<Deployment>()
        .get("minimal-collector")
        .await
        .unwrap()
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers[0]
        .args
        .clone()
        .unwrap();
    assert_eq!(
        args,
        [
            "--config=/conf/config.yaml",
            "--feature-gates=confmap.enableMergeAppendOption"
        ]
    );
    merge_patch(
        &ns,
        "minimal",
        json!({"spec": {"collector": {"externalService": null, "extraArgs": null}}}),
    )
    .await
    .unwrap();
    ns.wait_deleted(
        &ns.api::<Service>(),
        "minimal-collector-external",
        CHANGE_TIMEOUT,
        "the external OTLP Service pruned",
    )
    .await;

    //    c. Pruning: without Prometheus, Grafana, the node agent and the cluster
    //       collector, their StatefulSet, Deployments, DaemonSet, Role,
    //       RoleBindings, generated admin Secret and the agent's, the cluster
    //       collector's and Prometheus's ClusterRoleBindings are deleted; the
    //       metadata binding is kept for the collector alone.
    merge_patch(
        &ns,
        "minimal",
        json!({"spec": {
            "prometheus": {"enabled": false},
            "grafana": {"enabled": false},
            "nodeAgent": {"enabled": false},
            "clusterCollector": {"enabled": false},
        }}),
    )
    .await
    .unwrap();
    ns.wait_deleted(
        &ns.api::<DaemonSet>(),
        "minimal-node-agent",
        CHANGE_TIMEOUT,
        "the node agent pruned",
    )
    .await;
    let cluster_bindings = Api::<ClusterRoleBinding>::all(cluster.client().clone());
    ns.wait_deleted(
        &cluster_bindings,
        &format!("sextant:{}:minimal:node-agent", ns.name()),
        CHANGE_TIMEOUT,
        "the node agent's ClusterRoleBinding pruned",
    )
    .await;
    ns.wait_deleted(
        &cluster_bindings,
        &format!("sextant:{}:minimal:cluster-collector", ns.name()),
        CHANGE_TIMEOUT,
        "the cluster collector's ClusterRoleBinding pruned",
    )
    .await;
    ns.wait_deleted(
        &ns.api::<Deployment>(),
        "minimal-cluster-collector",
        CHANGE_TIMEOUT,
        "the cluster collector pruned",
    )
    .await;
    ns.wait_deleted(
        &ns.api::<RoleBinding>(),
        "minimal-cluster-collector-lease",
        CHANGE_TIMEOUT,
        "the cluster collector's Lease RoleBinding pruned",
    )
    .await;
    ns.wait_deleted(
        &cluster_bindings,
        &format!("sextant:{}:minimal:prometheus-discovery", ns.name()),
        CHANGE_TIMEOUT,
        "Prometheus's discovery ClusterRoleBinding pruned",
    )
    .await;
    let metadata = cluster_bindings
        .get(&format!("sextant:{}:minimal:k8s-metadata", ns.name()))
        .await
        .unwrap();
    let subjects: Vec<&str> = metadata
        .subjects
        .iter()
        .flatten()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(subjects, ["minimal-collector"]);
    ns.wait_deleted(
        &ns.api::<StatefulSet>(),
        "minimal-prometheus",
        CHANGE_TIMEOUT,
        "Prometheus pruned",
    )
    .await;
    ns.wait_deleted(
        &ns.api::<Deployment>(),
        "minimal-grafana",
        CHANGE_TIMEOUT,
        "Grafana pruned",
    )
    .await;
    ns.wait_deleted(
        &ns.api::<Ingress>(),
        "minimal-grafana",
        CHANGE_TIMEOUT,
        "Grafana's Ingress pruned",
    )
    .await;
    ns.wait_deleted(
        &ns.api::<Role>(),
        "minimal-prometheus",
        CHANGE_TIMEOUT,
        "Prometheus's Role pruned",
    )
    .await;
    ns.wait_deleted(
        &ns.api::<RoleBinding>(),
        "minimal-prometheus",
        CHANGE_TIMEOUT,
        "its RoleBinding pruned",
    )
    .await;
    ns.wait_deleted(
        &ns.api::<Secret>(),
        "minimal-grafana-admin",
        CHANGE_TIMEOUT,
        "generated admin Secret pruned",
    )
    .await;
    wait_ready(&ns, "minimal").await;

    //    d. Deleting the Delete-policy stack deletes its claims and its
    //       ClusterRoleBindings, then its finalizers.
    stack::delete_and_wait(&ns, "refs", CHANGE_TIMEOUT).await;
    ns.wait_for(CHANGE_TIMEOUT, "the claims of refs deleted", async || {
        let left: Vec<String> = claims
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .map(ResourceExt::name_any)
            .filter(|n| n.contains("-refs-") || n.starts_with("refs-"))
            .collect();
        Ok(left.is_empty().then_some(()))
    })
    .await;
    for grant in [
        "node-agent",
        "k8s-metadata",
        "prometheus-discovery",
        "cluster-collector",
    ] {
        let name = format!("sextant:{}:refs:{grant}", ns.name());
        assert!(
            cluster_bindings.get_opt(&name).await.unwrap().is_none(),
            "{name} outlived its stack"
        );
    }

    // SIGTERM: the operator releases its Lease (a patch) on the way out.
    let status = op.stop().await.unwrap();
    assert!(status.success(), "operator exit: {status}");

    // 3. What the ServiceAccount called, against what the chart grants.
    let user = release.service_account_user();
    let granted = release_grants(&cluster, &release).await;
    let log = audit_log_path();
    if !log.exists() && sextant_e2e::cluster::local_kubeconfig().exists() {
        panic!(
            "no audit log at {}: this control plane was started before e2e/cluster.sh enabled \
             audit logging; restart it (`make cluster-down cluster-up`)",
            log.display()
        );
    }
    let calls = match calls_by(&log, &user) {
        Ok(calls) => calls,
        Err(e) if std::env::var("SEXTANT_E2E_CLUSTER").is_ok_and(|v| v == "external") => {
            println!("NOTE: not comparing calls with grants on an external cluster: {e:#}");
            cleanup(release, classes, &class, ns).await;
            return;
        }
        Err(e) => panic!("{e:#}"),
    };
    let mut allow = allowed(&cluster).await;
    // RBAC checks `bind` on the referenced ClusterRole inside each request that
    // creates a ClusterRoleBinding; the audit log records only the create.
    let bindings_created = calls
        .iter()
        .filter(|c| c.resource == "clusterrolebindings" && c.verb == "patch" && c.code == 201)
        .count();
    assert!(
        bindings_created >= 3,
        "the operator created the stacks' ClusterRoleBindings ({bindings_created} seen)"
    );
    allow.push(Allowed {
        group: "rbac.authorization.k8s.io",
        resource: "clusterroles",
        verb: "bind",
        reason: format!(
            "checked by RBAC inside each of the {bindings_created} ClusterRoleBinding creates"
        ),
    });
    let comparison = compare(&granted, &calls, &allow);
    println!(
        "\nRBAC of release {} ({} grants) against {} audited calls of {user}:\n\n{}",
        release.name,
        granted.len(),
        calls.len(),
        comparison.table()
    );
    assert!(
        comparison.denied.is_empty(),
        "the operator was refused calls: the chart lacks a permission\n{}",
        comparison.table()
    );
    assert!(
        comparison.unused.is_empty(),
        "the chart grants permissions the operator never used (remove them, or allow-list \
         them in allowed() with the reason):\n{}",
        comparison.table()
    );
    cleanup(release, classes, &class, ns).await;
}

/// The stack's ClusterRoleBindings bind the chart's two ClusterRoles, and through
/// them its node agent (and only it) reads the kubelet's stats and both
/// collectors read pods and namespaces in the whole cluster, as the API server's
/// own authorizer answers (SubjectAccessReview).
async fn stack_cluster_roles(cluster: &Cluster, release: &Release, ns: &str, stack: &str) {
    let fullname = release.fullname();
    let roles = Api::<ClusterRole>::all(cluster.client().clone());
    let rules = |cr: ClusterRole| {
        let mut out: Vec<String> = cr
            .rules
            .iter()
            .flatten()
            .flat_map(|r| {
                r.resources
                    .iter()
                    .flatten()
                    .flat_map(move |res| r.verbs.iter().map(move |v| format!("{res}:{v}")))
            })
            .collect();
        out.sort();
        out
    };
    let agent_role = roles.get(&format!("{fullname}-node-agent")).await.unwrap();
    assert_eq!(rules(agent_role), ["nodes/stats:get"]);
    let discovery_role = roles
        .get(&format!("{fullname}-prometheus-discovery"))
        .await
        .unwrap();
    assert_eq!(
        rules(discovery_role),
        [
            "endpoints:list",
            "endpoints:watch",
            "endpointslices:list",
            "endpointslices:watch",
            "pods:list",
            "pods:watch",
            "services:list",
            "services:watch"
        ]
    );
    let metadata_role = roles
        .get(&format!("{fullname}-k8s-metadata"))
        .await
        .unwrap();
    assert_eq!(
        rules(metadata_role),
        [
            "namespaces:get",
            "namespaces:list",
            "namespaces:watch",
            "pods:get",
            "pods:list",
            "pods:watch"
        ]
    );

    let bindings = Api::<ClusterRoleBinding>::all(cluster.client().clone());
    for (grant, role, subjects) in [
        ("node-agent", "node-agent", vec!["node-agent"]),
        (
            "k8s-metadata",
            "k8s-metadata",
            vec!["collector", "node-agent"],
        ),
        (
            "prometheus-discovery",
            "prometheus-discovery",
            vec!["prometheus"],
        ),
        (
            "cluster-collector",
            "cluster-collector",
            vec!["cluster-collector"],
        ),
    ] {
        let name = format!("sextant:{ns}:{stack}:{grant}");
        let b = bindings.get(&name).await.unwrap();
        assert_eq!(b.role_ref.name, format!("{fullname}-{role}"), "{name}");
        let mut got: Vec<String> = b
            .subjects
            .iter()
            .flatten()
            .map(|s| format!("{}/{}", s.namespace.as_deref().unwrap_or_default(), s.name))
            .collect();
        got.sort();
        let want: Vec<String> = subjects
            .iter()
            .map(|c| format!("{ns}/{stack}-{c}"))
            .collect();
        assert_eq!(got, want, "{name}");
    }

    // The Lease role, bound in the stack's namespace only.
    let lease = Api::<RoleBinding>::namespaced(cluster.client().clone(), ns)
        .get(&format!("{stack}-cluster-collector-lease"))
        .await
        .unwrap();
    assert_eq!(lease.role_ref.kind, "ClusterRole");
    assert_eq!(
        lease.role_ref.name,
        format!("{fullname}-cluster-collector-lease")
    );
    let cluster_collector = format!("system:serviceaccount:{ns}:{stack}-cluster-collector");
    for verb in ["get", "create", "update"] {
        assert!(
            can_in(
                cluster,
                &cluster_collector,
                verb,
                "coordination.k8s.io/leases",
                Some(ns)
            )
            .await,
            "{verb} leases"
        );
        assert!(
            !can_in(
                cluster,
                &cluster_collector,
                verb,
                "coordination.k8s.io/leases",
                Some("default")
            )
            .await,
            "{verb} leases outside the stack's namespace"
        );
    }
    for resource in [
        "nodes",
        "pods",
        "namespaces",
        "apps/deployments",
        "apps/replicasets",
        "batch/jobs",
        "events.k8s.io/events",
    ] {
        assert!(
            can(cluster, &cluster_collector, "watch", resource, None, None).await,
            "{resource}"
        );
    }
    assert!(!can(cluster, &cluster_collector, "list", "secrets", None, None).await);
    assert!(!can(cluster, &cluster_collector, "patch", "pods", None, None).await);

    let agent = format!("system:serviceaccount:{ns}:{stack}-node-agent");
    let collector = format!("system:serviceaccount:{ns}:{stack}-collector");
    let node = cluster.require_ready_node().await;
    assert!(can(cluster, &agent, "get", "nodes", Some("stats"), Some(&node)).await);
    assert!(
        !can(
            cluster,
            &collector,
            "get",
            "nodes",
            Some("stats"),
            Some(&node)
        )
        .await
    );
    assert!(!can(cluster, &agent, "get", "nodes", Some("proxy"), Some(&node)).await);
    // The operator may bind these two ClusterRoles and no other, nor escalate.
    let operator = release.service_account_user();
    let rbac = "rbac.authorization.k8s.io/clusterroles";
    for role in [
        "node-agent",
        "k8s-metadata",
        "prometheus-discovery",
        "cluster-collector",
        "cluster-collector-lease",
    ] {
        let name = format!("{fullname}-{role}");
        assert!(
            can(cluster, &operator, "bind", rbac, None, Some(&name)).await,
            "{name}"
        );
    }
    for name in ["cluster-admin", "admin", "edit", "view"] {
        assert!(
            !can(cluster, &operator, "bind", rbac, None, Some(name)).await,
            "{name}"
        );
    }
    assert!(
        !can(
            cluster,
            &operator,
            "escalate",
            rbac,
            None,
            Some("cluster-admin")
        )
        .await
    );
    assert!(
        !can(
            cluster,
            &operator,
            "get",
            "nodes",
            Some("stats"),
            Some(&node)
        )
        .await
    );
    let prometheus = format!("system:serviceaccount:{ns}:{stack}-prometheus");
    for resource in [
        "pods",
        "services",
        "endpoints",
        "discovery.k8s.io/endpointslices",
    ] {
        assert!(
            can(cluster, &prometheus, "watch", resource, None, None).await,
            "{resource}"
        );
    }
    assert!(!can(cluster, &prometheus, "get", "secrets", None, None).await);
    assert!(!can(cluster, &collector, "list", "services", None, None).await);
    for user in [&agent, &collector] {
        assert!(
            can(cluster, user, "watch", "pods", None, None).await,
            "{user}"
        );
        assert!(
            can(cluster, user, "list", "namespaces", None, None).await,
            "{user}"
        );
        assert!(
            !can(cluster, user, "list", "secrets", None, None).await,
            "{user}"
        );
        assert!(
            !can(cluster, user, "patch", "pods", None, None).await,
            "{user}"
        );
    }
}

/// Whether the API server's authorizer allows `user` the cluster-wide `verb` on
/// `resource` (`group/resource`, or a core-group `resource`).
async fn can(
    cluster: &Cluster,
    user: &str,
    verb: &str,
    resource: &str,
    subresource: Option<&str>,
    name: Option<&str>,
) -> bool {
    review(cluster, user, verb, resource, subresource, name, None).await
}

/// Whether the authorizer allows `user` the `verb` on `resource` in `namespace`.
async fn can_in(
    cluster: &Cluster,
    user: &str,
    verb: &str,
    resource: &str,
    namespace: Option<&str>,
) -> bool {
    review(cluster, user, verb, resource, None, None, namespace).await
}

async fn review(
    cluster: &Cluster,
    user: &str,
    verb: &str,
    resource: &str,
    subresource: Option<&str>,
    name: Option<&str>,
    namespace: Option<&str>,
) -> bool {
    let (group, resource) = resource.split_once('/').unwrap_or(("", resource));
    let review: SubjectAccessReview = serde_json::from_value(json!({
        "spec": {
            "user": user,
            "groups": ["system:serviceaccounts", "system:authenticated"],
            "resourceAttributes": {
                "verb": verb,
                "group": group,
                "resource": resource,
                "subresource": subresource,
                "name": name,
                "namespace": namespace,
            },
        },
    }))
    .unwrap();
    let answer = Api::<SubjectAccessReview>::all(cluster.client().clone())
        .create(&PostParams::default(), &review)
        .await
        .unwrap();
    answer.status.is_some_and(|s| s.allowed)
}

/// Grants the operator does not call in this test, each with the reason it is granted.
async fn allowed(cluster: &Cluster) -> Vec<Allowed> {
    let mut out = vec![Allowed {
        group: "observability.sextant.dev",
        resource: "observabilitystacks",
        verb: "get",
        reason: "called only when a finalizer patch finds the cached stack out of date \
                 (HTTP 422, controller/finalizer.rs), which a healthy run does not meet"
            .into(),
    }];
    for verb in ["get", "list", "watch"] {
        out.push(Allowed {
            group: "",
            resource: "pods",
            verb,
            reason: "never called: held so the operator may grant Prometheus's Role these verbs \
                     (RBAC lets nobody grant what it does not hold)"
                .into(),
        });
    }
    if !cluster.serves("autoscaling", "v2").await {
        for verb in ["list", "watch", "create", "patch", "delete"] {
            out.push(Allowed {
                group: "autoscaling",
                resource: "horizontalpodautoscalers",
                verb,
                reason: "autoscaling/v2 is not served here (Kubernetes < 1.23)".into(),
            });
        }
    }
    if !cluster.serves("policy", "v1").await {
        for verb in ["list", "watch", "create", "patch", "delete"] {
            out.push(Allowed {
                group: "policy",
                resource: "poddisruptionbudgets",
                verb,
                reason: "policy/v1 is not served here (Kubernetes < 1.21)".into(),
            });
        }
    }
    out
}

async fn cleanup(release: Release, classes: Api<StorageClass>, class: &str, ns: TestNamespace) {
    let name = release.fullname();
    release.uninstall().unwrap();
    let _ = classes.delete(class, &DeleteParams::default()).await;
    let gone = Api::<ClusterRole>::all(ns.client().clone())
        .get_opt(&name)
        .await
        .unwrap();
    assert!(gone.is_none(), "helm uninstall left ClusterRole {name}");
    ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn namespaced_mode_grants_only_roles_and_brings_a_stack_to_ready() {
    let cluster = Cluster::connect().await;
    install_crds(cluster.client()).await.unwrap();
    cluster.require_ready_node().await;
    let home = TestNamespace::create(&cluster, "helm-home").await.unwrap();
    let watched = TestNamespace::create(&cluster, "helm-watched")
        .await
        .unwrap();
    let (release, op, args) = install_and_run(
        &cluster,
        home.name(),
        &[("watchNamespaces[0]", watched.name())],
        None,
    )
    .await;
    assert!(
        args.contains(&format!("--namespace={}", watched.name())),
        "the chart passes the watched namespace: {args:?}"
    );

    // Nothing cluster-wide but the read-only StorageClass access.
    let lp = ListParams::default().labels(&format!("app.kubernetes.io/instance={}", release.name));
    let cluster_roles = Api::<ClusterRole>::all(cluster.client().clone())
        .list(&lp)
        .await
        .unwrap();
    let cluster_wide: BTreeMap<String, Vec<String>> = cluster_roles
        .iter()
        .map(|cr| {
            let resources = cr
                .rules
                .iter()
                .flatten()
                .flat_map(|r| r.resources.clone().unwrap_or_default())
                .collect();
            (cr.name_any(), resources)
        })
        .collect();
    assert!(
        cluster_wide
            .values()
            .all(|r| r == &["storageclasses".to_string()]),
        "namespaced mode grants only StorageClass reads cluster-wide: {cluster_wide:?}"
    );
    let bindings = Api::<ClusterRoleBinding>::all(cluster.client().clone())
        .list(&lp)
        .await
        .unwrap();
    assert_eq!(bindings.items.len(), cluster_roles.items.len());
    let roles = Api::<Role>::all(cluster.client().clone())
        .list(&lp)
        .await
        .unwrap();
    let role_namespaces: Vec<String> = roles.iter().filter_map(ResourceExt::namespace).collect();
    assert_eq!(
        role_namespaces,
        [watched.name().to_string()],
        "Roles only in the watched namespace"
    );

    stack::create(&watched, &sample("minimal.yaml", watched.name()).unwrap())
        .await
        .unwrap();
    let ready = wait_ready(&watched, "minimal").await;

    // No node agent, no cluster collector and no binding: the stack says so,
    // and is whole without them.
    let (status, reason, message) = stack::condition(&ready, "NodeAgentReady").unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "NotGranted"),
        "{message}"
    );
    let (_, reason, message) = stack::condition(&ready, "CollectorReady").unwrap();
    assert_eq!(reason, "NotGranted", "{message}");
    let (status, reason, message) = stack::condition(&ready, "ClusterCollectorReady").unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "NotGranted"),
        "{message}"
    );
    assert!(
        watched
            .api::<Deployment>()
            .get_opt("minimal-cluster-collector")
            .await
            .unwrap()
            .is_none(),
        "no cluster collector in namespaced mode"
    );
    assert!(
        watched
            .api::<DaemonSet>()
            .get_opt("minimal-node-agent")
            .await
            .unwrap()
            .is_none(),
        "no node agent DaemonSet in namespaced mode"
    );
    let stack_bindings = Api::<ClusterRoleBinding>::all(cluster.client().clone())
        .list(&ListParams::default().labels(&format!(
            "observability.sextant.dev/stack-namespace={}",
            watched.name()
        )))
        .await
        .unwrap();
    assert!(
        stack_bindings.items.is_empty(),
        "no ClusterRoleBinding for the stack"
    );

    // The ServiceAccount can do nothing in a namespace it does not watch.
    let kubeconfig = release.service_account_kubeconfig().await.unwrap();
    let as_operator = Cluster::try_connect_to(&kubeconfig).await.unwrap();
    let err = stack::stacks_in(as_operator.client(), home.name())
        .list(&ListParams::default())
        .await
        .expect_err("the ServiceAccount may not list stacks outside the watched namespace");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 403),
        "{err:?}"
    );

    op.stop().await.unwrap();
    release.uninstall().unwrap();
    watched.cleanup().await.unwrap();
    home.cleanup().await.unwrap();
}

/// `--leader-election` with a ServiceAccount that may not touch the Lease (the
/// chart with one replica grants no Lease rights): the operator must exit non-zero
/// and say why, not keep serving /healthz with no controller behind it.
#[tokio::test]
async fn leader_election_without_lease_rights_exits_and_says_why() {
    let cluster = Cluster::connect().await;
    install_crds(cluster.client()).await.unwrap();
    let ns = TestNamespace::create(&cluster, "helm-nolease")
        .await
        .unwrap();
    let release = Release::install(
        &cluster,
        ns.name(),
        ns.name(),
        &[("replicaCount", "0"), ("leaderElection.enabled", "false")],
    )
    .unwrap();
    let kubeconfig = release.service_account_kubeconfig().await.unwrap();
    let args: Vec<String> = [
        "run",
        "--leader-election",
        "--leader-election-namespace",
        ns.name(),
        "--namespace",
        ns.name(),
    ]
    .map(String::from)
    .into();
    let mut op =
        Operator::spawn_with_kubeconfig(&kubeconfig, &format!("helm-{}", ns.name()), &args, &[])
            .unwrap();
    let status = op.wait_exit(Duration::from_secs(60)).await;
    let text = std::fs::read_to_string(&op.log).unwrap_or_default();
    let Some(status) = status else {
        panic!("still running 60 s after a 403 on the Lease; log:\n{text}")
    };
    assert!(!status.success(), "exited with {status}; log:\n{text}");
    assert!(
        text.contains("sextant-leader") && text.contains("forbidden"),
        "the log does not say that the Lease is forbidden:\n{text}"
    );
    release.uninstall().unwrap();
    ns.cleanup().await.unwrap();
}
