//! Prometheus's discovery of annotated workloads, with the real program: the
//! `prometheus.yml` the operator wrote into the stack's ConfigMap, its two
//! discovery jobs run by Prometheus 3.5.3 (Debian's build, installed by
//! `scripts/tools.sh`) against the local API server, with real pods and a real
//! Service whose Endpoints the kube-controller-manager fills. The only change to
//! the rendered jobs is `kubeconfig_file` in their `kubernetes_sd_configs`
//! (Prometheus runs outside the cluster here, so it has no in-cluster
//! credentials); their roles, namespaces and relabellings are what the operator
//! rendered. No target answers a scrape (nothing listens on the simulated pod
//! IPs): what is checked is which targets Prometheus finds and what URL and labels
//! it gives them, from `/api/v1/targets`.
//!
//! The same for a prometheus-operator ServiceMonitor in another namespace: its
//! translated job appears in the config within one reconcile, Prometheus runs
//! it with the credential file the operator copied, a monitor it cannot
//! translate is named in the MonitorsTranslated condition, and a deleted one's
//! job goes.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use kube::Api;
use kube::api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};
use sextant_e2e::cluster::Source;
use sextant_e2e::operator::{Operator, free_port, http_get};
use sextant_e2e::stack::{self, sample, wait_ready};
use sextant_e2e::{Cluster, TestNamespace, apply_yaml, install_crds, install_monitoring_crds};

const TIMEOUT: Duration = Duration::from_secs(90);

/// An active target: its scrape URL and labels.
type Target = (String, BTreeMap<String, String>);

/// The Prometheus process, killed on drop.
struct Prometheus {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// The active targets of `job`: (scrape URL, labels).
    async fn targets(&self, job: &str) -> anyhow::Result<Vec<Target>> {
        let body = http_get(self.port, "/api/v1/targets?state=active").await?;
        let v: Value = serde_json::from_str(&body)?;
        let mut out = Vec::new();
        for t in v["data"]["activeTargets"].as_array().into_iter().flatten() {
            if t["scrapePool"] != job {
                continue;
            }
            let labels = t["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect();
            out.push((
                t["scrapeUrl"].as_str().unwrap_or_default().to_string(),
                labels,
            ));
        }
        Ok(out)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `job` has active targets and returns them.
    async fn wait_targets(&self, ns: &TestNamespace, job: &str, description: &str) -> Vec<Target> {
        ns.wait_for(TIMEOUT, description, async || {
            let t = self.targets(job).await.unwrap_or_default();
            Ok((!t.is_empty()).then_some(t))
        })
        .await
    }
}

/// The rendered discovery jobs, each with `kubeconfig_file` added.
fn discovery_jobs(prometheus_yml: &str, kubeconfig: &str) -> Value {
    let config = jobs_with_kubeconfig(prometheus_yml, kubeconfig, |name| {
        name == "kubernetes-pods" || name == "kubernetes-services"
    });
    let jobs = config["scrape_configs"].as_array().unwrap();
    assert_eq!(
        jobs.len(),
        2,
        "both discovery jobs are rendered: {prometheus_yml}"
    );
    config
}

/// The rendered jobs whose name `wanted` picks, each with `kubeconfig_file`
/// added to its `kubernetes_sd_configs`, under the rendered `global`.
fn jobs_with_kubeconfig(
    prometheus_yml: &str,
    kubeconfig: &str,
    wanted: impl Fn(&str) -> bool,
) -> Value {
    let config: Value = serde_yaml_ng::from_str(prometheus_yml).unwrap();
    let jobs: Vec<Value> = config["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| wanted(j["job_name"].as_str().unwrap_or_default()))
        .cloned()
        .map(|mut j| {
            for sd in j["kubernetes_sd_configs"].as_array_mut().unwrap() {
                sd["kubeconfig_file"] = json!(kubeconfig);
            }
            j
        })
        .collect();
    json!({"global": config["global"], "scrape_configs": jobs})
}

fn start_prometheus(config: &Value, dir: &std::path::Path) -> Prometheus {
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, serde_yaml_ng::to_string(config).unwrap()).unwrap();
    let port = free_port().unwrap();
    let log = dir.join("prometheus.log");
    let file = std::fs::File::create(&log).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("prometheus on PATH (scripts/tools.sh install; make e2e puts it there)");
    Prometheus { child, port, log }
}

const WORKLOADS: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: annotated
  annotations:
    prometheus.io/scrape: "true"
    prometheus.io/port: "9102"
    prometheus.io/path: /custom/metrics
    prometheus.io/scheme: https
spec:
  containers:
    - name: app
      image: example.invalid/app
      ports: [{name: http, containerPort: 8080}, {name: metrics, containerPort: 9102}]
---
apiVersion: v1
kind: Pod
metadata:
  name: plain
spec:
  containers:
    - name: app
      image: example.invalid/app
      ports: [{name: metrics, containerPort: 9102}]
---
apiVersion: v1
kind: Pod
metadata:
  name: backend
  labels: {app: backend}
spec:
  containers:
    - name: app
      image: example.invalid/app
      ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: backend
  annotations:
    prometheus.io/scrape: "true"
    prometheus.io/port: "9200"
spec:
  selector: {app: backend}
  ports: [{name: http, port: 80, targetPort: 8080}]
"#;

#[tokio::test]
async fn prometheus_finds_annotated_pods_and_services_with_the_rendered_jobs() {
    let cluster = Cluster::connect().await;
    install_crds(cluster.client()).await.unwrap();
    cluster.require_ready_node().await;
    let ns = TestNamespace::create(&cluster, "discovery").await.unwrap();
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();

    // Discovery in this test's namespace only, so other tests' pods stay out.
    let mut minimal = sample("minimal.yaml", ns.name()).unwrap();
    minimal.data["spec"]["prometheus"] = json!({"discovery": {"namespaces": [ns.name()]}});
    stack::create(&ns, &minimal).await.unwrap();
    wait_ready(&ns, "minimal").await;
    let cm = ns
        .api::<ConfigMap>()
        .get("minimal-prometheus-config")
        .await
        .unwrap();
    let rendered = cm.data.unwrap_or_default()["prometheus.yml"].clone();

    apply_yaml(cluster.client(), ns.name(), WORKLOADS)
        .await
        .unwrap();
    let pods = ns.api::<Pod>();
    let mut ips = BTreeMap::new();
    for name in ["annotated", "plain", "backend"] {
        let pod = ns
            .wait_condition(
                &pods,
                name,
                TIMEOUT,
                &format!("pod {name} has an IP"),
                |p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some(),
            )
            .await;
        ips.insert(name, pod.status.and_then(|s| s.pod_ip).unwrap_or_default());
    }

    let Source::File(kubeconfig) = cluster.source() else {
        panic!(
            "Prometheus needs a kubeconfig file; this cluster came from {}",
            cluster.source()
        );
    };
    let kubeconfig = kubeconfig.display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let prometheus = start_prometheus(&discovery_jobs(&rendered, &kubeconfig), dir.path());

    // The annotated pod: one target (its two container ports collapse into the
    // annotated one), on the annotated scheme, port and path, with its namespace,
    // pod and node. The pod without annotations is not a target.
    let want_pod = format!("https://{}:9102/custom/metrics", ips["annotated"]);
    let found = prometheus
        .wait_targets(&ns, "kubernetes-pods", "Prometheus finds the annotated pod")
        .await;
    assert_eq!(found.len(), 1, "{found:?}\n{}", prometheus.log_text());
    let (url, labels) = &found[0];
    assert_eq!(url, &want_pod);
    assert_eq!(labels.get("namespace").map(String::as_str), Some(ns.name()));
    assert_eq!(labels.get("pod").map(String::as_str), Some("annotated"));
    assert_eq!(
        labels.get("node").map(String::as_str),
        Some("sextant-sim-node")
    );
    assert_eq!(
        labels.get("job").map(String::as_str),
        Some("kubernetes-pods")
    );

    // The annotated Service: its endpoint, on the annotated port.
    let want_service = format!("http://{}:9200/metrics", ips["backend"]);
    let found = prometheus
        .wait_targets(
            &ns,
            "kubernetes-services",
            "Prometheus finds the annotated Service",
        )
        .await;
    assert_eq!(found.len(), 1, "{found:?}\n{}", prometheus.log_text());
    let (url, labels) = &found[0];
    assert_eq!(url, &want_service);
    assert_eq!(labels.get("service").map(String::as_str), Some("backend"));
    assert_eq!(labels.get("pod").map(String::as_str), Some("backend"));
    assert_eq!(
        labels.get("node").map(String::as_str),
        Some("sextant-sim-node")
    );
    assert_eq!(labels.get("namespace").map(String::as_str), Some(ns.name()));

    // A deleted pod leaves the targets (Prometheus watches, not only lists).
    pods.delete("annotated", &DeleteParams::default())
        .await
        .unwrap();
    ns.wait_for(TIMEOUT, "the deleted pod is no target", async || {
        let t = prometheus.targets("kubernetes-pods").await?;
        Ok(t.is_empty().then_some(()))
    })
    .await;

    drop(prometheus);
    drop(op);
    ns.cleanup().await.unwrap();
}

/// How long a monitor change may take to reach the rendered config: one
/// watch-triggered reconcile (debounced 1 s), well under the operator's
/// requeue of a Ready stack (300 s) and its progress retry (at least 24 s).
const ONE_RECONCILE: Duration = Duration::from_secs(20);

const MONITORED: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: backend
  labels: {app: backend}
spec:
  containers:
    - name: app
      image: example.invalid/app
      ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: backend
  labels: {app: backend}
spec:
  selector: {app: backend}
  ports: [{name: web, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Secret
metadata:
  name: backend-token
stringData:
  token: s3cret-token
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: backend
  labels: {release: e2e}
spec:
  selector:
    matchLabels: {app: backend}
    matchExpressions: [{key: app, operator: Exists}]
  endpoints:
    - port: web
      path: /stats
      interval: 15s
      bearerTokenSecret: {name: backend-token, key: token}
      relabelings:
        - targetLabel: team
          replacement: payments
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: unselected
  labels: {release: other}
spec:
  selector:
    matchLabels: {app: backend}
  endpoints: [{port: web}]
"#;

const UNTRANSLATABLE: &str = r#"
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata:
  name: oauth
  labels: {release: e2e}
spec:
  selector:
    matchLabels: {app: backend}
  podMetricsEndpoints:
    - port: http
      oauth2:
        clientId: {secret: {name: backend-token, key: token}}
        clientSecret: {name: backend-token, key: token}
        tokenUrl: https://issuer.example/token
"#;

#[tokio::test]
async fn service_monitors_of_other_namespaces_become_jobs_that_prometheus_runs() {
    let cluster = Cluster::connect().await;
    install_crds(cluster.client()).await.unwrap();
    install_monitoring_crds(cluster.client()).await.unwrap();
    cluster.require_ready_node().await;
    let ns = TestNamespace::create(&cluster, "monitors").await.unwrap();
    let apps = TestNamespace::create(&cluster, "monitored").await.unwrap();
    // The stack selects the monitors of namespaces labelled for this test only.
    let label = "sextant-e2e/monitored-by";
    Api::<Namespace>::all(cluster.client().clone())
        .patch(
            apps.name(),
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {label: ns.name()}}})),
        )
        .await
        .unwrap();
    // Started after the CRDs are served: the operator finds them at start.
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();

    let mut minimal = sample("minimal.yaml", ns.name()).unwrap();
    minimal.data["spec"]["prometheus"] = json!({
        "discovery": {"annotations": false},
        "monitorSelector": {"matchLabels": {"release": "e2e"}},
        "monitorNamespaceSelector": {"matchLabels": {label: ns.name()}},
    });
    stack::create(&ns, &minimal).await.unwrap();
    let ready = wait_ready(&ns, "minimal").await;
    let (status, reason, message) = stack::condition(&ready, "MonitorsTranslated").unwrap();
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Translated"));
    assert!(message.starts_with("0 ServiceMonitors"), "{message}");

    apply_yaml(cluster.client(), apps.name(), MONITORED)
        .await
        .unwrap();
    let job = format!("serviceMonitor/{}/backend/0", apps.name());
    let configs = ns.api::<ConfigMap>();
    let rendered = |cm: ConfigMap| cm.data.unwrap_or_default()["prometheus.yml"].clone();
    let prometheus_yml = ns
        .wait_for(
            ONE_RECONCILE,
            "the ServiceMonitor's job is in the rendered config",
            async || {
                let text = rendered(configs.get("minimal-prometheus-config").await?);
                Ok(text.contains(&job).then_some(text))
            },
        )
        .await;
    assert!(
        !prometheus_yml.contains("/unselected/"),
        "a monitor outside the selector is no job:\n{prometheus_yml}"
    );
    // The token is copied into the stack's Secret, which Prometheus mounts.
    let files = ns
        .api::<Secret>()
        .get("minimal-prometheus-monitor-files")
        .await
        .unwrap()
        .data
        .unwrap_or_default();
    let token_files: Vec<&String> = files
        .iter()
        .filter(|(_, v)| v.0 == b"s3cret-token")
        .map(|(k, _)| k)
        .collect();
    assert_eq!(token_files.len(), 1, "{:?}", files.keys());
    let sts = ns
        .api::<StatefulSet>()
        .get("minimal-prometheus")
        .await
        .unwrap();
    let pod = sts.spec.unwrap().template.spec.unwrap();
    assert!(
        pod.volumes.iter().flatten().any(|v| v
            .secret
            .as_ref()
            .and_then(|s| s.secret_name.as_deref())
            == Some("minimal-prometheus-monitor-files")),
        "Prometheus mounts the monitors' files"
    );

    // The real Prometheus on the translated job: the Service's endpoint, with
    // prometheus-operator's target labels and the monitor's relabelling. The
    // file paths are the rendered ones, moved into a temporary directory that
    // holds the rendered Secret's files.
    let pod_ip = apps
        .wait_condition(
            &apps.api::<Pod>(),
            "backend",
            TIMEOUT,
            "pod backend has an IP",
            |p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some(),
        )
        .await
        .status
        .and_then(|s| s.pod_ip)
        .unwrap_or_default();
    let Source::File(kubeconfig) = cluster.source() else {
        panic!(
            "Prometheus needs a kubeconfig file; this cluster came from {}",
            cluster.source()
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let files_dir = dir.path().join("monitor-files");
    std::fs::create_dir(&files_dir).unwrap();
    for (key, value) in &files {
        std::fs::write(files_dir.join(key), &value.0).unwrap();
    }
    let moved = prometheus_yml.replace(
        "/etc/prometheus-monitor-files",
        &files_dir.display().to_string(),
    );
    let config = jobs_with_kubeconfig(&moved, &kubeconfig.display().to_string(), |name| {
        name == job
    });
    let prometheus = start_prometheus(&config, dir.path());
    let found = prometheus
        .wait_targets(&ns, &job, "Prometheus finds the ServiceMonitor's endpoint")
        .await;
    assert_eq!(found.len(), 1, "{found:?}\n{}", prometheus.log_text());
    let (url, labels) = &found[0];
    assert_eq!(url, &format!("http://{pod_ip}:8080/stats"));
    for (name, value) in [
        ("namespace", apps.name()),
        ("service", "backend"),
        ("pod", "backend"),
        ("endpoint", "web"),
        ("job", "backend"),
        ("team", "payments"),
    ] {
        assert_eq!(
            labels.get(name).map(String::as_str),
            Some(value),
            "label {name}: {labels:?}"
        );
    }
    drop(prometheus);

    // A monitor that cannot be translated is named in the condition, and the
    // translated one stays.
    apply_yaml(cluster.client(), apps.name(), UNTRANSLATABLE)
        .await
        .unwrap();
    let stacks = stack::stacks(&ns);
    let message = ns
        .wait_for(ONE_RECONCILE, "the PodMonitor is reported", async || {
            let s = stacks.get("minimal").await?;
            Ok(stack::condition(&s, "MonitorsTranslated")
                .filter(|(status, reason, _)| status == "False" && reason == "Untranslatable")
                .map(|(_, _, message)| message))
        })
        .await;
    assert!(
        message.contains(&format!("PodMonitor {}/oauth", apps.name()))
            && message.contains("oauth2"),
        "{message}"
    );
    assert!(message.contains("1 ServiceMonitors"), "{message}");
    let text = rendered(configs.get("minimal-prometheus-config").await.unwrap());
    assert!(text.contains(&job), "{text}");
    assert!(!text.contains("podMonitor/"), "{text}");

    // Deleted, its job leaves the config within one reconcile.
    Api::<DynamicObject>::namespaced_with(
        cluster.client().clone(),
        apps.name(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor"),
            "servicemonitors",
        ),
    )
    .delete("backend", &DeleteParams::default())
    .await
    .unwrap();
    ns.wait_for(
        ONE_RECONCILE,
        "the deleted ServiceMonitor's job is gone",
        async || {
            let text = rendered(configs.get("minimal-prometheus-config").await?);
            Ok((!text.contains(&job)).then_some(()))
        },
    )
    .await;

    drop(op);
    apps.cleanup().await.unwrap();
    ns.cleanup().await.unwrap();
}
