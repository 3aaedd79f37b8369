//! Bad input against a real API server: every fixture of `tests/fixtures/bad/` that
//! is a stack (not a CLI-only file) is applied to a running, Ready stack and is
//! either refused by the API server (422 naming the field) or accepted and reported
//! as `Reconciled=False, reason=InvalidSpec` naming the field, with a Warning event;
//! either way no child changes (resourceVersion of every ConfigMap, Service,
//! ServiceAccount, Secret, Role and RoleBinding, generation of every Deployment and
//! StatefulSet). Fixtures that are valid stacks (a missing Secret, a selector that
//! matches nothing) get the condition their header names instead.
//!
//! The header format is described in `tests/bad_input.rs`. A fixture with a
//! `gap-cluster` header is a known defect: its case records what happens and does
//! not fail. Each test prints a table of what it observed (run with `--nocapture`).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::{Duration, Instant};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::core::DynamicObject;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sextant_e2e::operator::Operator;
use sextant_e2e::stack::{self, stacks};
use sextant_e2e::wait::poll;
use sextant_e2e::{Cluster, TestNamespace, install_crds, repo_root};

/// The stack every spec fixture is applied to.
const STACK: &str = "bad";
/// How long a stack may take to become Ready (first time: pods start).
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the operator may take to report on a new generation.
const REPORT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a known gap is watched before its state is recorded.
const GAP_TIMEOUT: Duration = Duration::from_secs(20);

/// What the fixture's `cluster:` header expects.
#[derive(Clone, Debug, PartialEq)]
enum Expect {
    Schema(String),
    Invalid(String),
    NewStackInvalid(String),
    SecretNotFound(String),
    Applied,
    Pruned(String),
}

struct Case {
    file: String,
    expect: Expect,
    gap: Option<String>,
    object: Value,
    /// A Secret to create before the case: name, key, value.
    secret: Option<(String, String, String)>,
}

fn header(text: &str, key: &str) -> Option<String> {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
        .map(|v| v.trim().to_string())
}

/// Every fixture a cluster can be given, in file order.
fn cases() -> Vec<Case> {
    let dir = repo_root().join("tests/fixtures/bad");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let cluster = header(&text, "cluster").unwrap_or_else(|| panic!("{file}: no cluster"));
        let (kind, arg) = cluster.split_once(' ').unwrap_or((cluster.as_str(), ""));
        let arg = arg.to_string();
        let expect = match kind {
            "cli-only" => continue,
            "schema" => Expect::Schema(arg),
            "invalid" => Expect::Invalid(arg),
            "new-stack-invalid" => Expect::NewStackInvalid(arg),
            "secret-not-found" => Expect::SecretNotFound(arg),
            "applied" => Expect::Applied,
            "pruned" => Expect::Pruned(arg),
            other => panic!("{file}: unknown cluster outcome {other}"),
        };
        let object: Value = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|e| panic!("{file}: a cluster fixture must be one YAML object: {e}"));
        let secret = header(&text, "secret").map(|h| {
            let parsed = h.split_once(' ').and_then(|(name, kv)| {
                let (k, v) = kv.split_once('=')?;
                Some((name.to_string(), k.to_string(), v.to_string()))
            });
            parsed.unwrap_or_else(|| panic!("{file}: secret must be `<name> <key>=<value>`"))
        });
        out.push(Case {
            file,
            expect,
            gap: header(&text, "gap-cluster"),
            object,
            secret,
        });
    }
    out
}

/// A condition: (status, reason, message, observedGeneration).
fn condition(s: &DynamicObject, type_: &str) -> Option<(String, String, String, i64)> {
    s.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_string(),
                c["reason"].as_str().unwrap_or_default().to_string(),
                c["message"].as_str().unwrap_or_default().to_string(),
                c["observedGeneration"].as_i64().unwrap_or_default(),
            )
        })
}

/// Ready=True and Reconciled=True for the stack's current generation.
fn settled(s: &DynamicObject) -> bool {
    let generation = s.metadata.generation.unwrap_or_default();
    ["Ready", "Reconciled"].iter().all(|t| {
        condition(s, t).is_some_and(|(status, _, _, g)| status == "True" && g == generation)
    }) && s.data["status"]["observedGeneration"] == json!(generation)
}

async fn wait_settled(ns: &TestNamespace, name: &str) -> DynamicObject {
    ns.wait_condition(
        &stacks(ns),
        name,
        READY_TIMEOUT,
        &format!("stack {name} Ready=True and Reconciled=True for its generation"),
        settled,
    )
    .await
}

async fn add<K>(ns: &TestNamespace, lp: &ListParams, by_generation: bool, out: &mut Fingerprint)
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug,
{
    for o in ns.api::<K>().list(lp).await.unwrap() {
        let value = if by_generation {
            o.meta().generation.unwrap_or_default().to_string()
        } else {
            o.resource_version().unwrap_or_default()
        };
        out.insert(format!("{}/{}", K::kind(&()), o.name_any()), value);
    }
}

type Fingerprint = BTreeMap<String, String>;

/// resourceVersion of every child that has no status, generation of every workload:
/// what changes only when someone writes it.
async fn fingerprint(ns: &TestNamespace, stack: &str) -> Fingerprint {
    let lp = ListParams::default().labels(&format!(
        "app.kubernetes.io/managed-by=sextant,app.kubernetes.io/instance={stack}"
    ));
    let mut out = Fingerprint::new();
    add::<ConfigMap>(ns, &lp, false, &mut out).await;
    add::<Service>(ns, &lp, false, &mut out).await;
    add::<ServiceAccount>(ns, &lp, false, &mut out).await;
    add::<Secret>(ns, &lp, false, &mut out).await;
    add::<Role>(ns, &lp, false, &mut out).await;
    add::<RoleBinding>(ns, &lp, false, &mut out).await;
    add::<Deployment>(ns, &lp, true, &mut out).await;
    add::<StatefulSet>(ns, &lp, true, &mut out).await;
    out
}

/// The children whose fingerprint differs, added or removed.
fn changed(before: &Fingerprint, after: &Fingerprint) -> Vec<String> {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

/// Drops `[N]` indices: Kubernetes 1.20 names list items without them.
fn without_indices(s: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for c in s.chars() {
        match c {
            '[' => skipping = true,
            ']' if skipping => skipping = false,
            _ if skipping && c.is_ascii_digit() => {}
            _ => {
                if skipping {
                    skipping = false;
                }
                out.push(c);
            }
        }
    }
    out
}

/// Whether an API server message names `path` (or, for a CEL rule that sits on
/// the parent object, its parent).
fn names_field(message: &str, path: &str, parent_ok: bool) -> bool {
    let message = without_indices(message);
    let path = without_indices(path);
    message.contains(&path)
        || (parent_ok
            && path
                .rsplit_once('.')
                .is_some_and(|(parent, _)| message.contains(parent)))
}

fn short(s: &str) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() > 160 {
        format!("{}...", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

/// One line of the table a test prints.
struct Row {
    file: String,
    observed: String,
    problem: Option<String>,
}

/// What the Warning events about a stack say.
enum EventSeen {
    /// An event with the reason names the field.
    Named,
    /// Events with the reason exist, but none names the field: kube's event
    /// recorder folds every event of one reason about one object within 6 minutes
    /// into the first one (a series), keeping the first message.
    Stale(String),
    Missing,
}

/// Waits for a Warning event on `stack` with `reason`, preferably naming `needle`.
async fn warning_event(ns: &TestNamespace, stack: &str, reason: &str, needle: &str) -> EventSeen {
    let events: Api<Event> = ns.api();
    let mut stale = None;
    let started = Instant::now();
    // The event follows the status write by a few milliseconds; a folded one is
    // given 2 s to show a newer message before it counts as stale.
    let named = poll(Duration::from_secs(10), async || {
        let list = events.list(&ListParams::default()).await?;
        let ours: Vec<&Event> = list
            .items
            .iter()
            .filter(|e| {
                e.involved_object.name.as_deref() == Some(stack)
                    && e.reason.as_deref() == Some(reason)
                    && e.type_.as_deref() == Some("Warning")
            })
            .collect();
        if let Some(e) = ours.first() {
            stale = Some(e.message.clone().unwrap_or_default());
        }
        let named = ours
            .iter()
            .any(|e| e.message.as_deref().is_some_and(|m| m.contains(needle)));
        let give_up = stale.is_some() && started.elapsed() > Duration::from_secs(2);
        Ok((named || give_up).then_some(named))
    })
    .await;
    match (named, stale) {
        (Ok(true), _) => EventSeen::Named,
        (_, Some(message)) => EventSeen::Stale(message),
        (_, None) => EventSeen::Missing,
    }
}

/// Waits until the operator reported on `generation` (`Reconciled` carries it).
async fn report(
    ns: &TestNamespace,
    name: &str,
    generation: i64,
    timeout: Duration,
) -> Result<DynamicObject, String> {
    let api = stacks(ns);
    let mut last = None;
    let found = poll(timeout, async || {
        let s = api.get(name).await?;
        let done = condition(&s, "Reconciled").is_some_and(|c| c.3 == generation);
        last = Some(s.clone());
        Ok(done.then_some(s))
    })
    .await;
    found.map_err(|_| {
        let seen = last
            .as_ref()
            .and_then(|s| condition(s, "Reconciled"))
            .map(|c| format!("Reconciled={} {} for generation {}", c.0, c.1, c.3))
            .unwrap_or_else(|| "no Reconciled condition".into());
        format!(
            "no report on generation {generation} within {}s (last: {seen})",
            timeout.as_secs()
        )
    })
}

async fn replace_spec(ns: &TestNamespace, spec: &Value) -> Result<DynamicObject, kube::Error> {
    let patch = json!([{"op": "replace", "path": "/spec", "value": spec}]);
    stacks(ns)
        .patch(
            STACK,
            &PatchParams::default(),
            &Patch::Json::<()>(serde_json::from_value(patch).unwrap()),
        )
        .await
}

/// Puts the valid spec back and waits until the stack settles on it.
async fn restore(ns: &TestNamespace) {
    replace_spec(ns, &json!({})).await.unwrap();
    wait_settled(ns, STACK).await;
}

/// Applies one spec fixture to the settled stack and checks the outcome.
async fn spec_case(ns: &TestNamespace, case: &Case) -> Row {
    let mut row = Row {
        file: case.file.clone(),
        observed: String::new(),
        problem: None,
    };
    let before = fingerprint(ns, STACK).await;
    let generation_before = stacks(ns)
        .get(STACK)
        .await
        .unwrap()
        .metadata
        .generation
        .unwrap_or_default();
    let result = replace_spec(ns, &case.object["spec"]).await;
    let mut problems = Vec::new();
    let mut must_be_unchanged = true;
    match (&result, &case.expect) {
        (Err(kube::Error::Api(status)), Expect::Schema(path) | Expect::Invalid(path))
            if status.code == 422 =>
        {
            row.observed = format!("schema-rejected (422): {}", short(&status.message));
            let parent_ok = matches!(case.expect, Expect::Invalid(_));
            if !names_field(&status.message, path, parent_ok) {
                problems.push(format!("the 422 does not name {path}"));
            }
        }
        (Err(e), _) => {
            row.observed = format!("refused: {}", short(&e.to_string()));
            problems.push("unexpected refusal".to_string());
        }
        (Ok(_), Expect::Schema(path)) => {
            row.observed = "accepted".into();
            problems.push(format!(
                "the API server accepted it; its schema should refuse {path}"
            ));
        }
        (Ok(stack), Expect::Invalid(path)) => {
            let generation = stack.metadata.generation.unwrap_or_default();
            let timeout = if case.gap.is_some() {
                GAP_TIMEOUT
            } else {
                REPORT_TIMEOUT
            };
            match report(ns, STACK, generation, timeout).await {
                Ok(s) => {
                    let (status, reason, message, _) = condition(&s, "Reconciled").unwrap();
                    row.observed = format!("Reconciled={status} {reason}: {}", short(&message));
                    if status != "False" || reason != "InvalidSpec" {
                        problems.push("not reported as InvalidSpec".into());
                    } else if !message.contains(path.as_str()) {
                        problems.push(format!("the message does not name {path}"));
                    } else {
                        match warning_event(ns, STACK, "InvalidSpec", path).await {
                            EventSeen::Named => row.observed.push_str(" [event names the field]"),
                            EventSeen::Stale(m) => row.observed.push_str(&format!(
                                " [event shows an older message: {}]",
                                short(&m)
                            )),
                            EventSeen::Missing => {
                                problems.push("no InvalidSpec Warning event".into())
                            }
                        }
                    }
                }
                Err(e) => {
                    row.observed = e;
                    problems.push("no InvalidSpec report".into());
                }
            }
        }
        (Ok(stack), Expect::SecretNotFound(path)) => {
            must_be_unchanged = false;
            let generation = stack.metadata.generation.unwrap_or_default();
            // The condition of the component that cannot start without it.
            let types = ["GrafanaReady", "CollectorReady", "LokiReady", "TempoReady"];
            let seen = poll(REPORT_TIMEOUT, async || {
                let s = stacks(ns).get(STACK).await?;
                Ok(types
                    .iter()
                    .filter_map(|t| condition(&s, t).map(|c| (*t, c)))
                    .find(|(_, c)| c.3 == generation && c.1 == "SecretNotFound")
                    .map(|c| (c, condition(&s, "Reconciled"))))
            })
            .await;
            match seen {
                Ok(((type_, (status, reason, message, _)), reconciled)) => {
                    row.observed = format!("{type_}={status} {reason}: {}", short(&message));
                    if status != "False" || !message.contains(path.as_str()) {
                        problems.push(format!("{type_} does not name {path}"));
                    }
                    if reconciled.is_some_and(|r| r.1 == "InvalidSpec") {
                        problems.push("a missing Secret must not be InvalidSpec".into());
                    }
                }
                Err(_) => {
                    row.observed = "no SecretNotFound report".into();
                    problems.push("SecretNotFound never reported".into());
                }
            }
        }
        (Ok(stack), Expect::Applied) => {
            must_be_unchanged = false;
            let generation = stack.metadata.generation.unwrap_or_default();
            match report(ns, STACK, generation, REPORT_TIMEOUT).await {
                Ok(s) => {
                    let (status, reason, message, _) = condition(&s, "Reconciled").unwrap();
                    row.observed = format!("Reconciled={status} {reason}: {}", short(&message));
                    if status != "True" {
                        problems.push("not applied".into());
                    }
                }
                Err(e) => {
                    row.observed = e;
                    problems.push("no report".into());
                }
            }
        }
        (Ok(stack), Expect::Pruned(path)) => {
            let pointer = format!("/{}", path.replace('.', "/"));
            let generation = stack.metadata.generation.unwrap_or_default();
            row.observed = format!(
                "accepted, field pruned by the API server (generation {})",
                if generation == generation_before {
                    "unchanged"
                } else {
                    "changed"
                }
            );
            if stack.data.pointer(&pointer).is_some() {
                problems.push(format!("{path} was stored"));
            }
            if generation != generation_before
                && let Err(e) = report(ns, STACK, generation, REPORT_TIMEOUT).await
            {
                problems.push(e);
            }
        }
        (Ok(_), Expect::NewStackInvalid(_)) => unreachable!("not a spec update"),
    }
    let after = fingerprint(ns, STACK).await;
    let diff = changed(&before, &after);
    if must_be_unchanged && !diff.is_empty() {
        problems.push(format!("children changed: {}", diff.join(", ")));
    }
    if result.is_ok() {
        restore(ns).await;
        let restored = fingerprint(ns, STACK).await;
        let diff = changed(&after, &restored);
        if must_be_unchanged && !diff.is_empty() {
            problems.push(format!(
                "restoring the valid spec changed children: {}",
                diff.join(", ")
            ));
        }
    }
    match &case.gap {
        Some(gap) if !problems.is_empty() => {
            row.observed = format!("KNOWN GAP: {} [{}]", row.observed, problems.join("; "));
            println!("{}: known gap: {gap}", case.file);
        }
        Some(_) => println!(
            "{}: behaves as expected now: remove its gap-cluster header",
            case.file
        ),
        None if !problems.is_empty() => row.problem = Some(problems.join("; ")),
        None => {}
    }
    row
}

/// Creates a stack under the fixture's own name (a bad name cannot be a spec update).
async fn new_stack_case(ns: &TestNamespace, case: &Case, path: &str) -> Row {
    let name = case.object["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let mut row = Row {
        file: case.file.clone(),
        observed: String::new(),
        problem: None,
    };
    let before = fingerprint(ns, STACK).await;
    let object = stack::object(ns.name(), &name, case.object["spec"].clone());
    let mut problems = Vec::new();
    match stack::create(ns, &object).await {
        Err(kube::Error::Api(status)) if status.code == 422 => {
            row.observed = format!("schema-rejected (422): {}", short(&status.message));
            if !names_field(&status.message, path, false) {
                problems.push(format!("the 422 does not name {path}"));
            }
        }
        Err(e) => {
            row.observed = format!("refused: {e}");
            problems.push("unexpected refusal".into());
        }
        Ok(_) => {
            match report(ns, &name, 1, REPORT_TIMEOUT).await {
                Ok(s) => {
                    let (status, reason, message, _) = condition(&s, "Reconciled").unwrap();
                    row.observed = format!("Reconciled={status} {reason}: {}", short(&message));
                    if reason != "InvalidSpec" || !message.contains(path) {
                        problems.push(format!("not InvalidSpec naming {path}"));
                    } else if let EventSeen::Missing =
                        warning_event(ns, &name, "InvalidSpec", path).await
                    {
                        problems.push("no InvalidSpec Warning event".into());
                    }
                }
                Err(e) => {
                    row.observed = e;
                    problems.push("no report".into());
                }
            }
            let own = fingerprint(ns, &name).await;
            if !own.is_empty() {
                problems.push(format!("children created: {own:?}"));
            }
            stacks(ns)
                .delete(&name, &DeleteParams::default())
                .await
                .unwrap();
            ns.wait_deleted(
                &stacks(ns),
                &name,
                REPORT_TIMEOUT,
                "the invalid stack deleted",
            )
            .await;
        }
    }
    let diff = changed(&before, &fingerprint(ns, STACK).await);
    if !diff.is_empty() {
        problems.push(format!("children of {STACK} changed: {}", diff.join(", ")));
    }
    if !problems.is_empty() {
        row.problem = Some(problems.join("; "));
    }
    row
}

/// Runs the cases `select` picks against one operator and one Ready stack in a
/// fresh namespace, prints what each did, and fails listing every case that broke
/// its contract.
async fn run(test: &str, select: impl Fn(usize, &Case) -> bool) {
    let started = Instant::now();
    let chosen: Vec<Case> = cases()
        .into_iter()
        .enumerate()
        .filter(|(i, c)| select(*i, c))
        .map(|(_, c)| c)
        .collect();
    assert!(!chosen.is_empty(), "{test}: no fixture selected");
    let cluster = Cluster::connect().await;
    cluster.require_ready_node().await;
    install_crds(cluster.client()).await.unwrap();
    let ns = TestNamespace::create(&cluster, test).await.unwrap();
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();
    for (name, key, value) in chosen.iter().filter_map(|c| c.secret.as_ref()) {
        match ns
            .create_secret(name, &[(key.as_str(), value.as_str())])
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => panic!("creating Secret {name}: {e}"),
        }
    }
    stack::create(&ns, &stack::object(ns.name(), STACK, json!({})))
        .await
        .unwrap();
    wait_settled(&ns, STACK).await;
    let start = fingerprint(&ns, STACK).await;
    assert!(
        start.keys().any(|k| k.starts_with("StatefulSet/"))
            && start.keys().any(|k| k.starts_with("Secret/"))
            && start.keys().any(|k| k.starts_with("RoleBinding/")),
        "the fingerprint misses kinds: {start:?}"
    );
    let setup = started.elapsed();

    let mut rows = Vec::new();
    for case in &chosen {
        let t = Instant::now();
        let row = match &case.expect {
            Expect::NewStackInvalid(path) => new_stack_case(&ns, case, path).await,
            _ => spec_case(&ns, case).await,
        };
        println!(
            "{:<44} {:>5.1}s  {}{}",
            row.file,
            t.elapsed().as_secs_f64(),
            row.observed,
            row.problem
                .as_ref()
                .map(|p| format!("  <-- FAILED: {p}"))
                .unwrap_or_default()
        );
        rows.push(row);
    }
    assert!(
        op.get("/healthz").await.is_ok(),
        "the operator is not healthy after bad input:\n{}",
        op.log_tail(40)
    );
    let log = std::fs::read_to_string(&op.log).unwrap_or_default();
    assert!(
        !log.contains("panicked at"),
        "the operator panicked:\n{}",
        op.log_tail(40)
    );
    println!(
        "{test}: {} cases in {:.1}s (setup {:.1}s)",
        rows.len(),
        started.elapsed().as_secs_f64(),
        setup.as_secs_f64()
    );
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|r| r.problem.as_ref().map(|p| format!("{}: {p}", r.file)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} case(s) broke the contract:\n{}\n--- operator log:\n{}",
        failures.len(),
        failures.join("\n"),
        op.log_tail(30)
    );
    drop(op);
    ns.cleanup().await.unwrap();
}

fn is_known_gap(c: &Case) -> bool {
    c.gap.is_some()
}

#[tokio::test]
async fn schema_refuses_malformed_stacks_and_no_child_changes() {
    run("bad-schema", |_, c| {
        matches!(c.expect, Expect::Schema(_)) && !is_known_gap(c)
    })
    .await;
}

#[tokio::test]
async fn invalid_specs_are_reported_and_no_child_changes_part_1() {
    run("bad-invalid-1", |i, c| {
        matches!(c.expect, Expect::Invalid(_)) && !is_known_gap(c) && i % 2 == 0
    })
    .await;
}

#[tokio::test]
async fn invalid_specs_are_reported_and_no_child_changes_part_2() {
    run("bad-invalid-2", |i, c| {
        matches!(c.expect, Expect::Invalid(_)) && !is_known_gap(c) && i % 2 == 1
    })
    .await;
}

#[tokio::test]
async fn bad_names_missing_references_and_unknown_fields() {
    run("bad-refs", |_, c| {
        matches!(
            c.expect,
            Expect::NewStackInvalid(_)
                | Expect::SecretNotFound(_)
                | Expect::Applied
                | Expect::Pruned(_)
        ) && !is_known_gap(c)
    })
    .await;
}

#[tokio::test]
async fn hostile_inputs_with_known_gaps_are_recorded() {
    if !cases().iter().any(is_known_gap) {
        eprintln!("no fixture carries a gap-cluster header: no known gap to record");
        return;
    }
    run("bad-gaps", |_, c| is_known_gap(c)).await;
}
