//! Upgrading from the previous release, as docs/upgrading.md's steps say: the previous
//! release's CRD, chart and operator binary (`scripts/previous-release.sh` builds it
//! from the commit in `tests/fixtures/previous-release/COMMIT`) run the previous
//! release's samples until they are Ready; then the operator stops, the new CRD is
//! applied, the release is upgraded to `charts/sextant`, and the new operator starts
//! with the new Deployment's arguments and environment, as the chart's
//! ServiceAccount.
//!
//! What it asserts, from the kube-apiserver audit log and the objects:
//! - every child the new operator wrote has a changed content (no no-op write), and
//!   the list of writes is printed with the fields that changed;
//! - the workloads whose pods rolled are exactly those whose pod template changed,
//!   and each of them changed its config hash or names what else changed (printed:
//!   the pod-roll list a release checklist reads, docs/releasing.md);
//! - no PersistentVolumeClaim is written, deleted or replaced;
//! - no condition that was True before the upgrade is seen otherwise during it (a
//!   watch records every status the stacks pass through), except while a
//!   workload the upgrade rolled (listed, with its config hash changed) replaces
//!   its one pod: then its component's condition may be `Progressing` and the
//!   stack's `Ready` `ComponentsNotReady`, and the report lists each such drop;
//! - afterwards, a reconcile of each converged stack makes no API request but the
//!   GETs of the Secrets its spec names (the children come from the operator's
//!   cache).
//!
//! Its own test binary: it installs the previous CRD over the current one, which no
//! other test may see. It leaves the current CRD installed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::discovery::{Discovery, Scope};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use sextant_e2e::audit::{Call, audit_log_offset, audit_log_path, calls_by_since};
use sextant_e2e::cluster::state_dir;
use sextant_e2e::crd::{install_crd, read_crds};
use sextant_e2e::helm::{Release, chart_dir};
use sextant_e2e::objects::CONFIG_HASH;
use sextant_e2e::operator::{Operator, kubectl};
use sextant_e2e::{
    Cluster, TestNamespace, install_crds, install_monitoring_crds, repo_root, stack, wait_for,
};

/// How long the operator must write nothing before its work counts as done.
const QUIET: Duration = Duration::from_secs(10);
const SETTLE_TIMEOUT: Duration = Duration::from_secs(300);
const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

/// Runs `scripts/previous-release.sh` (builds the previous release once; cached) and
/// returns its directory: `src/` (the commit's tree) and `bin/sextant`.
fn previous_release() -> PathBuf {
    let out = std::process::Command::new(repo_root().join("scripts/previous-release.sh"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("running scripts/previous-release.sh");
    assert!(
        out.status.success(),
        "scripts/previous-release.sh failed ({})",
        out.status
    );
    let text = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(text.lines().last().unwrap_or_default().trim())
}

/// One object the operator wrote, by what the audit log names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    group: String,
    resource: String,
    namespace: Option<String>,
    name: String,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = if self.group.is_empty() {
            String::new()
        } else {
            format!(".{}", self.group)
        };
        write!(f, "{}{group}/{}", self.resource, self.name)
    }
}

/// The writes of `calls` to objects other than the stacks, events, leases and
/// reviews: the children. A status subresource is not a child write.
fn child_writes(calls: &[Call]) -> Vec<Key> {
    calls
        .iter()
        .filter(|c| WRITE_VERBS.contains(&c.verb.as_str()) && c.authorized())
        .filter(|c| !c.resource.contains('/'))
        .filter(|c| {
            !matches!(
                c.resource.as_str(),
                "events" | "leases" | "observabilitystacks" | "tokenreviews"
            ) && !c.resource.ends_with("reviews")
        })
        .filter_map(|c| {
            Some(Key {
                group: c.group.clone(),
                resource: c.resource.clone(),
                namespace: c.namespace.clone(),
                name: c.name.clone()?,
            })
        })
        .collect()
}

/// The API of every (group, plural) the cluster serves, at its preferred version.
async fn resources(client: &Client) -> BTreeMap<(String, String), (ApiResource, Scope)> {
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let mut out = BTreeMap::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            out.insert((ar.group.clone(), ar.plural.clone()), (ar, caps.scope));
        }
    }
    out
}

/// An object without what the API server and controllers keep on it (identity,
/// versions, managed fields, status, the Deployment revision): what sextant renders.
fn content(mut obj: Value) -> Value {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "resourceVersion",
            "managedFields",
            "generation",
            "creationTimestamp",
            "uid",
            "selfLink",
        ] {
            meta.remove(field);
        }
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove("deployment.kubernetes.io/revision");
            if a.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    if let Some(o) = obj.as_object_mut() {
        o.remove("status");
    }
    obj
}

/// The paths where `a` and `b` differ (objects field by field, anything else whole).
fn diff(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(l), Some(r)) => diff(l, r, &p, out),
                    (None, Some(_)) => out.push(format!("{p} (added)")),
                    (Some(_), None) => out.push(format!("{p} (removed)")),
                    (None, None) => {}
                }
            }
        }
        _ if a != b => out.push(path.to_owned()),
        _ => {}
    }
}

/// The objects at `keys`, by key (`None`: not found), as [`content`].
async fn objects(
    client: &Client,
    apis: &BTreeMap<(String, String), (ApiResource, Scope)>,
    keys: &BTreeSet<Key>,
) -> BTreeMap<Key, Option<Value>> {
    let mut out = BTreeMap::new();
    for key in keys {
        let (ar, scope) = apis
            .get(&(key.group.clone(), key.resource.clone()))
            .unwrap_or_else(|| panic!("the cluster does not serve {key}"));
        let api: Api<DynamicObject> = match (scope, &key.namespace) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, ar),
            _ => Api::all_with(client.clone(), ar),
        };
        let obj = api.get_opt(&key.name).await.unwrap();
        out.insert(
            key.clone(),
            obj.map(|o| content(serde_json::to_value(o).unwrap())),
        );
    }
    out
}

/// A workload, `Deployment/name`, and the template revision label of its pods.
fn workload_of(pod: &Pod) -> Option<(String, String)> {
    let owner = pod
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))?;
    let labels = pod.labels();
    match owner.kind.as_str() {
        "ReplicaSet" => {
            let hash = labels.get("pod-template-hash")?;
            let name = owner.name.strip_suffix(&format!("-{hash}"))?;
            Some((format!("Deployment/{name}"), hash.clone()))
        }
        kind @ ("StatefulSet" | "DaemonSet") => Some((
            format!("{kind}/{}", owner.name),
            labels.get("controller-revision-hash")?.clone(),
        )),
        _ => None,
    }
}

/// Per workload, the template revisions of its pods, and whether any pod is
/// terminating.
async fn pod_revisions(ns: &TestNamespace) -> (BTreeMap<String, BTreeSet<String>>, bool) {
    let pods = ns.api::<Pod>().list(&ListParams::default()).await.unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut terminating = false;
    for pod in &pods.items {
        terminating |= pod.metadata.deletion_timestamp.is_some();
        if let Some((w, rev)) = workload_of(pod) {
            out.entry(w).or_default().insert(rev);
        }
    }
    (out, terminating)
}

/// The workloads among the children: `Deployment/name` and so on, with their content.
fn workloads(objs: &BTreeMap<Key, Option<Value>>) -> BTreeMap<String, Value> {
    objs.iter()
        .filter_map(|(k, v)| {
            let kind = match (k.group.as_str(), k.resource.as_str()) {
                ("apps", "deployments") => "Deployment",
                ("apps", "statefulsets") => "StatefulSet",
                ("apps", "daemonsets") => "DaemonSet",
                _ => return None,
            };
            Some((format!("{kind}/{}", k.name), v.clone()?))
        })
        .collect()
}

/// Whether condition `type_` of stack `stack`, seen not True with `reason`, is
/// explained by a roll the upgrade made: `<Component>Ready` `Progressing` while
/// that component's workload rolled (one replica: its pod is replaced), or
/// `Ready` `ComponentsNotReady` while any of the stack's workloads rolled.
fn rolled_through(rolled: &BTreeSet<String>, stack: &str, type_: &str, reason: &str) -> bool {
    let of_stack = |w: &String| {
        w.split_once('/')
            .is_some_and(|(_, n)| n.starts_with(&format!("{stack}-")))
    };
    match (type_, reason) {
        ("Ready", "ComponentsNotReady") => rolled.iter().any(of_stack),
        (t, "Progressing") => t.strip_suffix("Ready").is_some_and(|component| {
            let mut kebab = String::new();
            for (i, ch) in component.chars().enumerate() {
                if ch.is_ascii_uppercase() && i > 0 {
                    kebab.push('-');
                }
                kebab.push(ch.to_ascii_lowercase());
            }
            let name = format!("{stack}-{kebab}");
            rolled
                .iter()
                .any(|w| w.split_once('/').is_some_and(|(_, n)| n == name))
        }),
        _ => false,
    }
}

/// Whether every workload in `ns` finished its rollout (status caught up with its
/// spec) and no pod is terminating.
async fn rollouts_done(ns: &TestNamespace, names: &BTreeSet<String>) -> bool {
    let client = ns.client().clone();
    for w in names {
        let (kind, name) = w.split_once('/').unwrap_or_default();
        let ar = ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk("apps", "v1", kind));
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns.name(), &ar);
        let Some(obj) = api.get_opt(name).await.unwrap() else {
            continue;
        };
        let v = serde_json::to_value(obj).unwrap();
        let st = &v["status"];
        let generation = v["metadata"]["generation"].as_i64();
        if st["observedGeneration"].as_i64() != generation {
            return false;
        }
        let done = match kind {
            "Deployment" => {
                let want = v["spec"]["replicas"].as_i64().unwrap_or(1);
                st["updatedReplicas"].as_i64().unwrap_or(0) == want
                    && st["replicas"].as_i64().unwrap_or(0) == want
                    && st["readyReplicas"].as_i64().unwrap_or(0) == want
            }
            "StatefulSet" => {
                let want = v["spec"]["replicas"].as_i64().unwrap_or(1);
                st["currentRevision"] == st["updateRevision"]
                    && st["readyReplicas"].as_i64().unwrap_or(0) == want
            }
            _ => {
                let want = st["desiredNumberScheduled"].as_i64().unwrap_or(0);
                st["updatedNumberScheduled"].as_i64().unwrap_or(0) == want
                    && st["numberReady"].as_i64().unwrap_or(0) == want
            }
        };
        if !done {
            return false;
        }
    }
    let (revisions, terminating) = pod_revisions(ns).await;
    !terminating && revisions.values().all(|r| r.len() == 1)
}

/// Waits until `user` has made no child write for [`QUIET`] since `offset`, and
/// returns its writes since then.
async fn quiet_writes(user: &str, offset: u64) -> Vec<Key> {
    let log = audit_log_path();
    let mut last = usize::MAX;
    wait_for(SETTLE_TIMEOUT, "the operator stops writing", async || {
        let n = child_writes(&calls_by_since(&log, user, offset)?).len();
        let settled = n == last;
        last = n;
        if !settled {
            tokio::time::sleep(QUIET).await;
        }
        Ok(settled.then_some(()))
    })
    .await;
    child_writes(&calls_by_since(&log, user, offset).unwrap())
}

/// A stack's conditions: (type, status, reason), in order.
type Conditions = Vec<(String, String, String)>;

/// Every distinct set of conditions seen, per stack, in order.
type Seen = Arc<Mutex<Vec<(String, Conditions)>>>;

/// The conditions of a stack.
fn conditions(stack: &DynamicObject) -> Conditions {
    stack.data["status"]["conditions"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                    (s("type"), s("status"), s("reason"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The previous release's samples, each with its namespace set to `ns`.
fn previous_samples(prev: &std::path::Path, ns: &str) -> Vec<DynamicObject> {
    let dir = prev.join("src/config/samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let mut s: DynamicObject =
                serde_yaml_ng::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            s.metadata.namespace = Some(ns.to_owned());
            s
        })
        .collect()
}

const TLS: [(&str, &str); 3] = [
    ("tls.crt", "-----BEGIN CERTIFICATE-----e2e"),
    ("tls.key", "-----BEGIN PRIVATE KEY-----e2e"),
    ("ca.crt", "-----BEGIN CERTIFICATE-----e2e"),
];

/// The Secrets the production sample references (validation reads their keys).
const PRODUCTION_SECRETS: [(&str, &[(&str, &str)]); 9] = [
    ("otlp-tls", &TLS),
    ("grafana-tls", &TLS),
    ("otlp-tokens", &[("tokens", "e2e-token")]),
    (
        "grafana-admin",
        &[("admin-user", "admin"), ("admin-password", "e2e")],
    ),
    (
        "grafana-oidc",
        &[("client-id", "e2e"), ("client-secret", "e2e")],
    ),
    ("pagerduty", &[("integration-key", "e2e")]),
    ("slack-webhook", &[("url", "https://hooks.example/e2e")]),
    ("smtp", &[("password", "e2e")]),
    ("mirror-pull", &[(".dockerconfigjson", "{\"auths\":{}}")]),
];

/// Creates the Secrets the production sample references.
async fn production_secrets(ns: &TestNamespace) {
    for (name, data) in PRODUCTION_SECRETS {
        ns.create_secret(name, data).await.unwrap();
    }
}

/// `(name, value)` pairs as the `&str` pairs `Operator` takes.
fn str_pairs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The operator's arguments from the release's Deployment, limited to `ns` when the
/// chart watches every namespace, so that other tests' stacks are left alone.
async fn operator_args(release: &Release, ns: &str) -> Vec<String> {
    let mut args = release.operator_args().await.unwrap();
    if !args.iter().any(|a| a.starts_with("--namespace")) {
        args.push(format!("--namespace={ns}"));
    }
    args
}

/// What the test sees of the namespace at one moment: the children by key and the
/// pods' template revisions by workload.
struct Snapshot {
    objects: BTreeMap<Key, Option<Value>>,
    revisions: BTreeMap<String, BTreeSet<String>>,
}

impl Snapshot {
    async fn take(
        ns: &TestNamespace,
        apis: &BTreeMap<(String, String), (ApiResource, Scope)>,
        keys: &BTreeSet<Key>,
    ) -> Self {
        Self {
            objects: objects(ns.client(), apis, keys).await,
            revisions: pod_revisions(ns).await.0,
        }
    }
}

/// What changed between two snapshots, given the writes made in between.
struct Changes {
    /// One line per written object: what it is, how often, what changed.
    writes: Vec<String>,
    /// Written objects whose content is the same before and after.
    unchanged: Vec<String>,
    /// One line per workload whose pods rolled or whose template changed.
    rolls: Vec<String>,
    /// The workloads whose pods rolled.
    rolled: BTreeSet<String>,
    /// The workloads whose pod template changed.
    template_changed: BTreeSet<String>,
    /// Template changes with neither a new config hash nor another changed field.
    unexplained: Vec<String>,
}

impl Changes {
    fn between(before: &Snapshot, after: &Snapshot, writes: &[Key]) -> Self {
        let written: BTreeSet<&Key> = writes.iter().collect();
        let mut lines = Vec::new();
        let mut unchanged = Vec::new();
        for key in written {
            let times = writes.iter().filter(|k| *k == key).count();
            let a = before.objects.get(key).cloned().flatten();
            let b = after.objects.get(key).cloned().flatten();
            let what = match (&a, &b) {
                (None, Some(_)) => "created".to_owned(),
                (Some(_), None) => "deleted".to_owned(),
                (None, None) => "created and deleted".to_owned(),
                (Some(a), Some(b)) => {
                    let mut paths = Vec::new();
                    diff(a, b, "", &mut paths);
                    if paths.is_empty() {
                        unchanged.push(key.to_string());
                    }
                    let shown: Vec<&str> = paths.iter().take(6).map(String::as_str).collect();
                    let more = paths.len().saturating_sub(shown.len());
                    let more = if more > 0 {
                        format!(" (+{more} more)")
                    } else {
                        String::new()
                    };
                    format!("changed {}{more}", shown.join(", "))
                }
            };
            lines.push(format!("{key} x{times}: {what}"));
        }

        let (wl_before, wl_after) = (workloads(&before.objects), workloads(&after.objects));
        let hash = |v: &Value| {
            v["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH]
                .as_str()
                .map(str::to_owned)
        };
        let rolled: BTreeSet<String> = before
            .revisions
            .iter()
            .filter(|(w, revs)| after.revisions.get(*w).is_some_and(|a| a != *revs))
            .map(|(w, _)| w.clone())
            .collect();
        let mut template_changed = BTreeSet::new();
        let mut unexplained = Vec::new();
        let mut rolls = Vec::new();
        for (w, a) in &wl_before {
            let Some(b) = wl_after.get(w) else {
                rolls.push(format!("{w}: deleted"));
                continue;
            };
            let mut paths = Vec::new();
            diff(
                &a["spec"]["template"],
                &b["spec"]["template"],
                "template",
                &mut paths,
            );
            if paths.is_empty() && !rolled.contains(w) {
                continue;
            }
            let hash_changed = hash(a) != hash(b);
            let other: Vec<&str> = paths
                .iter()
                .map(String::as_str)
                .filter(|p| !p.contains(CONFIG_HASH))
                .collect();
            if !paths.is_empty() {
                template_changed.insert(w.clone());
                if !hash_changed && other.is_empty() {
                    unexplained.push(w.clone());
                }
            }
            rolls.push(format!(
                "{w}: {}, {}{}",
                if rolled.contains(w) {
                    "pods rolled"
                } else {
                    "pods kept"
                },
                if hash_changed {
                    "config hash changed"
                } else {
                    "config hash unchanged"
                },
                if other.is_empty() {
                    String::new()
                } else {
                    format!("; template also changed at {}", other.join(", "))
                }
            ));
        }
        for w in wl_after.keys().filter(|w| !wl_before.contains_key(*w)) {
            rolls.push(format!("{w}: new"));
        }
        Self {
            writes: lines,
            unchanged,
            rolls,
            rolled,
            template_changed,
            unexplained,
        }
    }

    /// The lists, as the test prints them and writes them to [`report_path`].
    fn report(&self, title: &str) -> String {
        let mut out = format!("{title}: children written ({}):\n", self.writes.len());
        for l in &self.writes {
            out += &format!("  {l}\n");
        }
        out += &format!("{title}: pods that rolled:\n");
        if self.rolls.is_empty() {
            out += "  (none)\n";
        }
        for l in &self.rolls {
            out += &format!("  {l}\n");
        }
        out
    }

    /// The assertions every change must pass: no write without a change, the pods
    /// that rolled are those whose template changed, and each such change has a
    /// reason.
    fn check(&self, title: &str) {
        assert!(
            self.unchanged.is_empty(),
            "{title}: children written whose content did not change: {:?}",
            self.unchanged
        );
        assert_eq!(
            self.rolled, self.template_changed,
            "{title}: the pods that rolled are not the workloads whose template changed"
        );
        assert!(
            self.unexplained.is_empty(),
            "{title}: templates changed without a reason: {:?}",
            self.unexplained
        );
    }
}

/// Where the test writes what it printed (e2e/run.sh shows it after the tests):
/// `<state dir>/logs/upgrade-report.txt`.
fn report_path() -> PathBuf {
    state_dir().join("logs").join("upgrade-report.txt")
}

/// Prints `text` and appends it to [`report_path`].
fn report(text: &str) {
    println!("{text}");
    let path = report_path();
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    if let Err(e) = std::fs::write(&path, old + text + "\n") {
        eprintln!("writing {}: {e}", path.display());
    }
}

/// Waits until the operator running as `user` stopped writing (since `offset`) and
/// every rollout of `workloads` finished; returns the writes since `offset`.
async fn converge(ns: &TestNamespace, user: &str, offset: u64, wl: &BTreeSet<String>) -> Vec<Key> {
    let mut writes = Vec::new();
    for _ in 0..3 {
        writes = quiet_writes(user, offset).await;
        if rollouts_done(ns, wl).await {
            break;
        }
    }
    wait_for(SETTLE_TIMEOUT, "every rollout finished", async || {
        Ok(rollouts_done(ns, wl).await.then_some(()))
    })
    .await;
    // A rollout that finished after the last quiet check may have been followed by
    // a status-driven write: take the writes once more.
    let again = quiet_writes(user, offset).await;
    if again.len() > writes.len() {
        writes = again;
    }
    writes
}

/// The claims in the namespace: name, uid and resourceVersion.
fn claims(cluster: &Cluster, ns: &str) -> String {
    kubectl(
        cluster,
        &[
            "get",
            "pvc",
            "-n",
            ns,
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.metadata.uid}/{.metadata.resourceVersion} {end}",
        ],
    )
    .unwrap()
}

/// Records every distinct set of conditions each stack in `api` passes through,
/// until aborted; survives the watch being closed (as a CRD replacement does).
fn record_conditions(api: Api<DynamicObject>) -> (Seen, tokio::task::JoinHandle<()>) {
    let seen: Seen = Arc::default();
    let task = {
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut events =
                std::pin::pin!(watcher::watcher(api, watcher::Config::default()).default_backoff());
            while let Some(event) = events.next().await {
                let (watcher::Event::Apply(o) | watcher::Event::InitApply(o)) = (match event {
                    Ok(e) => e,
                    Err(_) => continue,
                }) else {
                    continue;
                };
                let c = conditions(&o);
                let name = o.name_any();
                let mut seen = seen.lock().unwrap();
                if seen.iter().rev().find(|(n, _)| *n == name).map(|(_, c)| c) != Some(&c) {
                    seen.push((name, c));
                }
            }
        })
    };
    (seen, task)
}

#[tokio::test]
async fn upgrade_from_the_previous_release_rewrites_and_rolls_only_what_changed() {
    let prev = previous_release();
    let commit: String = prev
        .file_name()
        .map(|n| n.to_string_lossy().chars().take(12).collect())
        .unwrap_or_default();
    let _ = std::fs::remove_file(report_path());
    report(&format!("previous release: {commit} ({})", prev.display()));
    let cluster = Cluster::connect().await;
    let client = cluster.client().clone();
    // The previous release's CRD, as its users have it.
    for crd in read_crds(&prev.join("src/crds")).unwrap() {
        install_crd(&client, crd).await.unwrap();
    }
    // cert-manager's Certificate (and the Gateway API, prometheus-operator) served,
    // so that the production sample's Certificate is among the children checked.
    install_monitoring_crds(&client).await.unwrap();
    // e2e/cluster.sh gives the simulated node the label the production sample's
    // node selector asks for.
    cluster.require_ready_node().await;
    let ns = TestNamespace::create(&cluster, "upgrade").await.unwrap();
    production_secrets(&ns).await;

    // 1. The previous release: chart, operator, samples, all Ready.
    let release = Release::install_chart(
        &cluster,
        &prev.join("src/charts/sextant"),
        ns.name(),
        ns.name(),
        &[("replicaCount", "0")],
    )
    .unwrap();
    let user = release.service_account_user();
    let kubeconfig = release.service_account_kubeconfig().await.unwrap();
    let pod_name = "sextant-e2e-0";
    let old_env = release.operator_env(pod_name).await.unwrap();
    let old = Operator::start_binary_with_kubeconfig(
        &prev.join("bin/sextant"),
        &kubeconfig,
        &format!("{}-previous", ns.name()),
        &operator_args(&release, ns.name()).await,
        &str_pairs(&old_env),
    )
    .await
    .unwrap();
    let samples = previous_samples(&prev, ns.name());
    assert!(
        samples.len() >= 3,
        "the previous release has {} samples",
        samples.len()
    );
    let names: Vec<String> = samples.iter().map(|s| s.name_any()).collect();
    for s in &samples {
        stack::create(&ns, s).await.unwrap();
    }
    for name in &names {
        stack::wait_ready(&ns, name).await;
    }
    let apis = resources(&client).await;
    let children: BTreeSet<Key> = quiet_writes(&user, 0).await.into_iter().collect();
    let wl: BTreeSet<String> = workloads(&objects(&client, &apis, &children).await)
        .into_keys()
        .collect();
    converge(&ns, &user, 0, &wl).await;
    let before = Snapshot::take(&ns, &apis, &children).await;
    let stacks = stack::stacks(&ns);
    let mut true_before: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in &names {
        let s = stacks.get(name).await.unwrap();
        let trues = conditions(&s)
            .into_iter()
            .filter(|(_, status, _)| status == "True")
            .map(|(t, _, _)| t);
        true_before.insert(name.clone(), trues.collect());
    }
    let claims_before = claims(&cluster, ns.name());
    assert!(
        !claims_before.is_empty(),
        "the samples made no claim to check"
    );
    report(&format!(
        "before the upgrade: {} stacks Ready ({}), {} children, {} workloads, {} claims",
        names.len(),
        names.join(", "),
        children.len(),
        wl.len(),
        claims_before.split_whitespace().count()
    ));

    // 2. The upgrade, as docs/upgrading.md says: the new CRD (the previous operator still
    //    runs), then the release, whose new Deployment replaces the operator.
    let offset = audit_log_offset(&audit_log_path()).unwrap();
    let (seen, recorder) = record_conditions(stacks.clone());
    let crds = repo_root().join("crds").display().to_string();
    let version = client.apiserver_version().await.unwrap();
    let minor: u32 = version
        .minor
        .trim_end_matches('+')
        .parse()
        .unwrap_or_default();
    if minor >= 25 {
        kubectl(
            &cluster,
            &["apply", "--server-side", "--force-conflicts", "-f", &crds],
        )
        .unwrap();
    } else {
        kubectl(&cluster, &["replace", "--validate=false", "-f", &crds]).unwrap();
    }
    // Waits until the new CRD is served (and puts the tests' hash annotation on it).
    install_crds(&client).await.unwrap();
    release
        .upgrade(&chart_dir(), &[("replicaCount", "0")])
        .unwrap();
    // The chart's Deployment changed: Kubernetes replaces the operator's pod, which
    // gets SIGTERM.
    let status = old.stop().await.unwrap();
    assert!(
        status.success(),
        "the previous operator exited with {status}"
    );
    let new_env = release.operator_env(pod_name).await.unwrap();
    let new = Operator::start_with_kubeconfig(
        &kubeconfig,
        &format!("{}-current", ns.name()),
        &operator_args(&release, ns.name()).await,
        &str_pairs(&new_env),
    )
    .await
    .unwrap();

    // 3. Converged: every stack reconciled by the new operator and Ready, no write
    //    for a while, every rollout finished.
    wait_for(
        SETTLE_TIMEOUT,
        "the new operator reconciled every stack",
        async || {
            let n = new.metric_sum("sextant_reconciles_total").await?;
            Ok((n >= names.len() as f64).then_some(()))
        },
    )
    .await;
    for name in &names {
        stack::wait_ready(&ns, name).await;
    }
    let writes = converge(&ns, &user, offset, &wl).await;
    let keys: BTreeSet<Key> = children.iter().chain(&writes).cloned().collect();
    let after = Snapshot::take(&ns, &apis, &keys).await;
    recorder.abort();
    let upgrade = Changes::between(&before, &after, &writes);
    report(&upgrade.report(&format!("upgrade from {commit}")));

    // 4. The conditions seen through it.
    let seen = seen.lock().unwrap().clone();
    let mut text =
        "stack conditions seen during the upgrade, in order (after the first, what changed):"
            .to_owned();
    let mut dropped = Vec::new();
    let mut rolling = BTreeSet::new();
    let mut last: BTreeMap<&String, &Conditions> = BTreeMap::new();
    for (name, conds) in &seen {
        let line: Vec<String> = conds
            .iter()
            .filter(|c| last.get(name).is_none_or(|l| !l.contains(c)))
            .map(|(t, s, r)| format!("{t}={s}/{r}"))
            .collect();
        last.insert(name, conds);
        text += &format!("\n  {name}: {}", line.join(" "));
        for (t, s, r) in conds {
            if true_before.get(name).is_some_and(|ts| ts.contains(t)) && s != "True" {
                let line = format!("{name} {t}={s} ({r})");
                if rolled_through(&upgrade.rolled, name, t, r) {
                    rolling.insert(line);
                } else {
                    dropped.push(line);
                }
            }
        }
    }
    if !rolling.is_empty() {
        text += "\nwhile their pods rolled (a new config hash, in the list above):";
        for line in &rolling {
            text += &format!("\n  {line}");
        }
    }
    report(&text);

    upgrade.check("upgrade");
    assert!(
        !writes
            .iter()
            .any(|k| k.resource == "persistentvolumeclaims"),
        "the upgrade wrote a PersistentVolumeClaim"
    );
    assert_eq!(
        claims_before,
        claims(&cluster, ns.name()),
        "a PersistentVolumeClaim changed"
    );
    for name in &names {
        assert!(
            seen.iter().any(|(n, _)| n == name),
            "the watch never saw stack {name}"
        );
    }
    assert!(
        dropped.is_empty(),
        "conditions that were True before the upgrade were seen otherwise: {dropped:?}"
    );

    // 5. The same measure sees a roll when there is one: a change of the minimal
    //    stack's scrape interval rewrites Prometheus's config, and only its pods
    //    roll.
    let offset = audit_log_offset(&audit_log_path()).unwrap();
    let minimal = names
        .iter()
        .find(|n| n.as_str() == "minimal")
        .expect("the previous release has the minimal sample");
    stack::merge_patch(
        &ns,
        minimal,
        json!({"spec": {"prometheus": {"scrapeInterval": "45s"}}}),
    )
    .await
    .unwrap();
    let writes = converge(&ns, &user, offset, &wl).await;
    let keys: BTreeSet<Key> = keys.iter().chain(&writes).cloned().collect();
    let control = Snapshot::take(&ns, &apis, &keys).await;
    let change = Changes::between(&after, &control, &writes);
    report(&change.report("control (minimal: spec.prometheus.scrapeInterval 45s)"));
    change.check("control");
    // Grafana's Prometheus datasource carries the scrape interval too (its
    // `timeInterval`), so Grafana rolls with Prometheus.
    let expected = BTreeSet::from([
        format!("StatefulSet/{minimal}-prometheus"),
        format!("Deployment/{minimal}-grafana"),
    ]);
    assert_eq!(
        change.rolled, expected,
        "a new scrape interval rolls exactly {expected:?}"
    );

    // 6. A reconcile of a converged stack reads nothing from the API server: the
    //    children come from the operator's cache (controller/cache.rs). Each
    //    stack is poked (an annotation: a watch event, no generation change);
    //    the only requests allowed are the GETs of the Secrets a stack's spec
    //    names (production's), which are read for their values.
    let offset = audit_log_offset(&audit_log_path()).unwrap();
    let before = new.metric_sum("sextant_reconciles_total").await.unwrap();
    for name in &names {
        stack::merge_patch(
            &ns,
            name,
            json!({"metadata": {"annotations": {"e2e.sextant.dev/poke": "1"}}}),
        )
        .await
        .unwrap();
    }
    wait_for(
        SETTLE_TIMEOUT,
        "the poked stacks were reconciled",
        async || {
            let n = new.metric_sum("sextant_reconciles_total").await?;
            Ok((n >= before + names.len() as f64).then_some(()))
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let referenced = PRODUCTION_SECRETS.map(|(name, _)| name);
    let calls: Vec<Call> = calls_by_since(&audit_log_path(), &user, offset)
        .unwrap()
        .into_iter()
        .filter(|c| c.verb != "watch" && !c.non_resource() && c.resource != "leases")
        .collect();
    let reads: Vec<String> = calls
        .iter()
        .map(|c| {
            format!(
                "{} {}/{}",
                c.verb,
                c.resource,
                c.name.as_deref().unwrap_or("")
            )
        })
        .collect();
    report(&format!(
        "requests of {} reconciles of converged stacks (watches and leases aside): {}",
        new.metric_sum("sextant_reconciles_total").await.unwrap() - before,
        if reads.is_empty() {
            "none".to_owned()
        } else {
            reads.join(", ")
        }
    ));
    let unexpected: Vec<&String> = calls
        .iter()
        .zip(&reads)
        .filter(|(c, _)| {
            !(c.verb == "get"
                && c.resource == "secrets"
                && c.name.as_deref().is_some_and(|n| referenced.contains(&n)))
        })
        .map(|(_, r)| r)
        .collect();
    assert!(
        unexpected.is_empty(),
        "a reconcile of a converged stack made requests beyond the referenced Secrets: {unexpected:?}"
    );

    for name in &names {
        stack::delete_and_wait(&ns, name, Duration::from_secs(120)).await;
    }
    drop(new);
    release.uninstall().unwrap();
    ns.cleanup().await.unwrap();
}
