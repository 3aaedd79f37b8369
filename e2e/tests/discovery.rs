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

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::DeleteParams;
use serde_json::{Value, json};
use sextant_e2e::cluster::Source;
use sextant_e2e::operator::{Operator, free_port, http_get};
use sextant_e2e::stack::{self, sample, wait_ready};
use sextant_e2e::{Cluster, TestNamespace, apply_yaml, install_crds};

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
    let config: Value = serde_yaml_ng::from_str(prometheus_yml).unwrap();
    let jobs: Vec<Value> = config["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["job_name"] == "kubernetes-pods" || j["job_name"] == "kubernetes-services")
        .cloned()
        .map(|mut j| {
            for sd in j["kubernetes_sd_configs"].as_array_mut().unwrap() {
                sd["kubeconfig_file"] = json!(kubeconfig);
            }
            j
        })
        .collect();
    assert_eq!(
        jobs.len(),
        2,
        "both discovery jobs are rendered: {prometheus_yml}"
    );
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
