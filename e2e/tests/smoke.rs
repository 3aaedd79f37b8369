//! Smoke tests of the end-to-end harness against a real API server: workloads become
//! ready through the simulated kubelet, DaemonSets place a pod on each node they
//! tolerate, the garbage collector honours ownerReferences,
//! and sextant's CRD installs, accepts the minimal sample and rejects invalid stacks.
//! Without a reachable cluster every test fails with instructions (never skips).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use sextant_e2e::{
    Cluster, TestNamespace, api_status, install_crds, parse_documents, repo_root, stack,
};

const WORKLOAD_TIMEOUT: Duration = Duration::from_secs(120);
const GC_TIMEOUT: Duration = Duration::from_secs(60);

const STATEFULSET: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      initContainers:
      - {name: init, image: "busybox:1.36", command: ["true"]}
      containers:
      - name: web
        image: "nginx:1.27"
        ports: [{name: http, containerPort: 80}]
        readinessProbe: {httpGet: {path: /, port: http}}
"#;

const DAEMONSET: &str = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - {name: agent, image: "busybox:1.36"}
"#;

/// The taint the local control plane's second node carries, as GPU nodes do.
const GPU_TAINT: &str = "nvidia.com/gpu";

fn pod_is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[tokio::test]
async fn statefulset_becomes_ready_and_scales_down_through_the_simulated_kubelet() {
    let cluster = Cluster::connect().await;
    let node = cluster.require_ready_node().await;
    let ns = TestNamespace::create(&cluster, "statefulset")
        .await
        .expect("create namespace");
    ns.apply_yaml(STATEFULSET)
        .await
        .expect("create StatefulSet");

    let sets: Api<StatefulSet> = ns.api();
    ns.wait_condition(
        &sets,
        "web",
        WORKLOAD_TIMEOUT,
        "StatefulSet web has 2 ready replicas",
        |s| s.status.as_ref().and_then(|st| st.ready_replicas) == Some(2),
    )
    .await;

    // What `kubectl get pods -o wide` shows: both Running and Ready, on a node, with an IP.
    let pods: Api<Pod> = ns.api();
    let web0 = pods.get("web-0").await.expect("web-0 exists");
    let web1 = pods.get("web-1").await.expect("web-1 exists");
    for pod in [&web0, &web1] {
        let status = pod.status.as_ref().expect("pod has a status");
        assert_eq!(
            status.phase.as_deref(),
            Some("Running"),
            "{}",
            pod.name_any()
        );
        assert!(pod_is_ready(pod), "{} is not Ready", pod.name_any());
        assert!(status.pod_ip.is_some(), "{} has no IP", pod.name_any());
        let spec = pod.spec.as_ref().expect("pod has a spec");
        assert!(spec.node_name.is_some(), "{} is not bound", pod.name_any());
        let init = status
            .init_container_statuses
            .as_deref()
            .unwrap_or_default();
        assert!(
            init.iter().all(|c| c
                .state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .is_some_and(|t| t.exit_code == 0)),
            "{}: init containers did not complete: {init:?}",
            pod.name_any()
        );
    }
    assert!(
        [&web0, &web1]
            .iter()
            .any(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node.as_str())),
        "no pod landed on the Ready node {node}"
    );

    // OrderedReady: web-1 is only created once web-0 is Ready.
    let web0_ready_at = web0
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.last_transition_time.clone())
        .expect("web-0 Ready has a transition time");
    let web1_created_at = web1
        .metadata
        .creation_timestamp
        .clone()
        .expect("web-1 creation time");
    assert!(
        web1_created_at >= web0_ready_at,
        "web-1 was created at {:?}, before web-0 became Ready at {:?}",
        web1_created_at,
        web0_ready_at
    );

    // Scaling down deletes web-1 for real: the simulated kubelet finishes the deletion.
    sets.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .expect("scale down");
    ns.wait_deleted(
        &pods,
        "web-1",
        WORKLOAD_TIMEOUT,
        "pod web-1 is gone after scaling down",
    )
    .await;
    ns.wait_condition(
        &sets,
        "web",
        WORKLOAD_TIMEOUT,
        "StatefulSet web has 1 ready replica",
        |s| {
            let status = s.status.as_ref();
            status.map(|st| st.replicas) == Some(1)
                && status.and_then(|st| st.ready_replicas) == Some(1)
        },
    )
    .await;
    ns.cleanup().await.expect("delete namespace");
}

#[tokio::test]
async fn deployment_becomes_available_through_the_simulated_kubelet() {
    let cluster = Cluster::connect().await;
    cluster.require_ready_node().await;
    let ns = TestNamespace::create(&cluster, "deployment")
        .await
        .expect("create namespace");
    ns.apply_yaml(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: collector}
spec:
  replicas: 3
  selector: {matchLabels: {app: collector}}
  template:
    metadata: {labels: {app: collector}}
    spec:
      containers: [{name: otelcol, image: "otel/opentelemetry-collector-contrib:0.120.0"}]
"#,
    )
    .await
    .expect("create Deployment");
    let deployments: Api<Deployment> = ns.api();
    ns.wait_condition(
        &deployments,
        "collector",
        WORKLOAD_TIMEOUT,
        "Deployment collector has 3 available replicas",
        |d| {
            let status = d.status.as_ref();
            status.and_then(|s| s.available_replicas) == Some(3)
                && status
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.type_ == "Available" && c.status == "True")
                    })
        },
    )
    .await;
    ns.cleanup().await.expect("delete namespace");
}

/// In a fresh namespace, creates the ConfigMap `owner` and a `dependent` owned by it,
/// deletes the owner with `params` and waits until the dependent is garbage-collected.
/// Returns the namespace and its ConfigMap API.
async fn owner_deleted(test: &str, params: &DeleteParams) -> (TestNamespace, Api<ConfigMap>) {
    let cluster = Cluster::connect().await;
    let ns = TestNamespace::create(&cluster, test)
        .await
        .expect("create namespace");
    let maps: Api<ConfigMap> = ns.api();
    let owner: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "owner"}})).expect("ConfigMap");
    let owner = maps
        .create(&PostParams::default(), &owner)
        .await
        .expect("create owner");
    let dependent: ConfigMap = serde_json::from_value(json!({
        "metadata": {
            "name": "dependent",
            "ownerReferences": [{
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": owner.name_any(),
                "uid": owner.uid().expect("owner has a uid"),
                "blockOwnerDeletion": true,
            }],
        },
        "data": {"k": "v"},
    }))
    .expect("ConfigMap");
    maps.create(&PostParams::default(), &dependent)
        .await
        .expect("create dependent");
    maps.delete("owner", params).await.expect("delete owner");
    ns.wait_deleted(
        &maps,
        "dependent",
        GC_TIMEOUT,
        "ConfigMap dependent is garbage-collected",
    )
    .await;
    (ns, maps)
}

#[tokio::test]
async fn dependent_is_garbage_collected_when_owner_is_deleted_in_background() {
    let (ns, _) = owner_deleted("gc-background", &DeleteParams::background()).await;
    ns.cleanup().await.expect("delete namespace");
}

#[tokio::test]
async fn dependent_is_garbage_collected_before_owner_in_foreground() {
    // The owner waits (foregroundDeletion finalizer) until its blocking dependent is gone.
    let (ns, maps) = owner_deleted("gc-foreground", &DeleteParams::foreground()).await;
    ns.wait_deleted(
        &maps,
        "owner",
        GC_TIMEOUT,
        "ConfigMap owner is deleted after its dependent",
    )
    .await;
    ns.cleanup().await.expect("delete namespace");
}

/// The minimal sample stack, as the user would `kubectl apply` it.
fn minimal_sample() -> DynamicObject {
    let path = repo_root().join("config/samples/minimal.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut objects = parse_documents(&text).expect("sample parses");
    assert_eq!(
        objects.len(),
        1,
        "{} should hold exactly one object",
        path.display()
    );
    let sample = objects.remove(0);
    let gvk = sample
        .types
        .as_ref()
        .map(|t| (t.api_version.clone(), t.kind.clone()));
    assert_eq!(
        gvk,
        Some((stack::gvk().api_version(), stack::KIND.to_owned())),
        "{} is not an ObservabilityStack",
        path.display()
    );
    sample
}

#[tokio::test]
async fn crd_installs_and_accepts_the_minimal_sample() {
    let cluster = Cluster::connect().await;
    let names = install_crds(cluster.client())
        .await
        .expect("install CRDs from crds/");
    assert!(
        names
            .iter()
            .any(|n| n == "observabilitystacks.observability.sextant.dev"),
        "crds/ does not define observabilitystacks.observability.sextant.dev: {names:?}"
    );
    let ns = TestNamespace::create(&cluster, "crd-sample")
        .await
        .expect("create namespace");
    let sample = minimal_sample();
    let name = sample.name_any();
    let yaml = serde_yaml_ng::to_string(&sample).expect("sample serializes");
    ns.apply_yaml(&yaml)
        .await
        .expect("the API server accepts config/samples/minimal.yaml");

    // `kubectl get obs NAME` finds it.
    let (resource, _) = kube::discovery::pinned_kind(cluster.client(), &stack::gvk())
        .await
        .expect("ObservabilityStack is served");
    let stacks: Api<DynamicObject> =
        Api::namespaced_with(cluster.client().clone(), ns.name(), &resource);
    let stored = stacks.get(&name).await.expect("the sample is stored");
    assert_eq!(stored.name_any(), name);
    ns.cleanup().await.expect("delete namespace");
}

#[tokio::test]
async fn crd_rejects_invalid_stacks_naming_the_field() {
    let cluster = Cluster::connect().await;
    install_crds(cluster.client())
        .await
        .expect("install CRDs from crds/");
    let ns = TestNamespace::create(&cluster, "crd-invalid")
        .await
        .expect("create namespace");

    let cases: BTreeMap<&str, (&str, serde_json::Value)> = BTreeMap::from([
        ("negative-replicas", ("spec.collector.replicas", json!(-3))),
        (
            "forever-retention",
            ("spec.retention.metrics", json!("forever")),
        ),
    ]);
    let mut failures = Vec::new();
    for (name, (field, value)) in &cases {
        let mut stack = minimal_sample();
        stack.metadata.name = Some((*name).to_owned());
        set_field(&mut stack.data, field, value.clone());
        let yaml = serde_yaml_ng::to_string(&stack).expect("stack serializes");
        match ns.apply_yaml(&yaml).await {
            Ok(_) => failures.push(format!("{field}: {value} was accepted")),
            Err(error) => match api_status(&error) {
                Some(status) if status.code == 422 && status.message.contains(field) => {}
                Some(status) => failures.push(format!(
                    "{field}: {value} was rejected with {} {}: {} (expected 422 naming {field})",
                    status.code, status.reason, status.message
                )),
                None => failures.push(format!(
                    "{field}: {value} failed without an API status: {error:#}"
                )),
            },
        }
    }
    assert!(
        failures.is_empty(),
        "invalid stacks:\n{}",
        failures.join("\n")
    );
    ns.cleanup().await.expect("delete namespace");
}

/// Sets the dotted `field` (e.g. `spec.collector.replicas`) to `value`, creating
/// objects on the way.
fn set_field(data: &mut serde_json::Value, field: &str, value: serde_json::Value) {
    let mut cursor = data;
    for key in field.split('.') {
        if !cursor.is_object() {
            *cursor = json!({});
        }
        cursor = &mut cursor[key];
    }
    *cursor = value;
}

/// The names of the Ready nodes whose `NoSchedule`/`NoExecute` taints all have a
/// key in `tolerated`.
async fn nodes_tolerating(cluster: &Cluster, tolerated: &[&str]) -> BTreeSet<String> {
    let nodes: Api<Node> = Api::all(cluster.client().clone());
    let list = nodes.list(&Default::default()).await.expect("list nodes");
    list.items
        .iter()
        .filter(|n| {
            let ready = n
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            let taints = n
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_deref())
                .unwrap_or_default();
            ready
                && taints.iter().all(|t| {
                    !matches!(t.effect.as_str(), "NoSchedule" | "NoExecute")
                        || tolerated.contains(&t.key.as_str())
                })
        })
        .map(ResourceExt::name_any)
        .collect()
}

/// The nodes of the DaemonSet's live (not terminating) pods, once it has rolled
/// out `want` pods, all Ready.
async fn daemonset_nodes(ns: &TestNamespace, want: i32) -> BTreeSet<String> {
    let sets: Api<DaemonSet> = ns.api();
    ns.wait_condition(
        &sets,
        "agent",
        WORKLOAD_TIMEOUT,
        &format!("DaemonSet agent rolled out to {want} node(s), all Ready"),
        |d| {
            let generation = d.metadata.generation;
            d.status.as_ref().is_some_and(|s| {
                s.observed_generation == generation
                    && s.desired_number_scheduled == want
                    && s.updated_number_scheduled == Some(want)
                    && s.number_ready == want
            })
        },
    )
    .await;
    let pods: Api<Pod> = ns.api();
    let list = pods
        .list(&kube::api::ListParams::default().labels("app=agent"))
        .await
        .expect("list pods");
    let live: Vec<&Pod> = list
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    assert!(
        live.iter().all(|p| pod_is_ready(p)),
        "not all Ready: {live:?}"
    );
    let nodes: Vec<String> = live
        .iter()
        .filter_map(|p| p.spec.as_ref().and_then(|s| s.node_name.clone()))
        .collect();
    let distinct: BTreeSet<String> = nodes.iter().cloned().collect();
    assert_eq!(
        nodes.len(),
        distinct.len(),
        "two pods on one node: {nodes:?}"
    );
    distinct
}

#[tokio::test]
async fn daemonset_runs_one_pod_on_each_node_it_tolerates() {
    let cluster = Cluster::connect().await;
    cluster.require_ready_node().await;
    let untainted = nodes_tolerating(&cluster, &[]).await;
    let with_gpu = nodes_tolerating(&cluster, &[GPU_TAINT]).await;
    assert!(
        with_gpu.len() > untainted.len(),
        "no Ready node is tainted {GPU_TAINT}: the local control plane registers one \
         (e2e/cluster.sh); on another cluster taint a node to run this test"
    );
    let ns = TestNamespace::create(&cluster, "daemonset")
        .await
        .expect("create namespace");
    ns.apply_yaml(DAEMONSET).await.expect("create DaemonSet");

    // Without a toleration: only the untainted nodes.
    let placed = daemonset_nodes(&ns, untainted.len() as i32).await;
    assert_eq!(placed, untainted);

    // Tolerating the GPU taint: every node, the tainted one included.
    let sets: Api<DaemonSet> = ns.api();
    let toleration = json!({"spec": {"template": {"spec": {"tolerations": [
        {"key": GPU_TAINT, "operator": "Exists", "effect": "NoSchedule"}
    ]}}}});
    sets.patch("agent", &PatchParams::default(), &Patch::Merge(&toleration))
        .await
        .expect("add the toleration");
    let placed = daemonset_nodes(&ns, with_gpu.len() as i32).await;
    assert_eq!(placed, with_gpu);
    ns.cleanup().await.expect("delete namespace");
}
