//! The CRD on a current Kubernetes: `crds/*.yaml` installed into the CRD server of
//! Kubernetes 1.36 (`apiextensions-apiserver`, see `server.rs`), which evaluates the
//! OpenAPI schema **and the CEL `x-kubernetes-validations`** exactly as a 1.36
//! kube-apiserver does. The 1.20 control plane of the end-to-end tests drops CEL rules,
//! and `tests/crd.rs` evaluates them only with kube's client-side CEL evaluator.
//!
//! What it proves, on one server started once:
//! - the CRD is accepted and Established by a 1.36 server (it would refuse a CEL rule
//!   that does not compile or exceeds the cost budget);
//! - every sample under `config/samples/` is created (201), and every stack of the
//!   previous release (`tests/fixtures/previous-release/`) with strict field
//!   validation;
//! - every stack fixture under `tests/fixtures/bad/` gets what its `# crd:` header says
//!   (format in `tests/bad_input.rs`): `accepted` (201: only sextant's own validation
//!   catches it) or `refused <path>` (422 whose message names `<path>`, as
//!   `<path>: <reason>`);
//! - every CEL rule of the CRD refuses at least one fixture, and with the CEL rules
//!   removed from the CRD the same server accepts each fixture that only a CEL rule
//!   refused: those 422s come from the rules, not from the schema.
//!
//! What it does not prove: anything about built-in APIs (the server serves none: no
//! namespaces, no RBAC, no workloads, no discovery), the operator, or status updates.
//! Those are the end-to-end tests' job, on the 1.20 control plane.
//!
//! Needs `apiextensions-apiserver` on PATH, its etcd 3.5 beside it (`../libexec/etcd`,
//! or `SEXTANT_CRD_ETCD`), and openssl: `scripts/tools.sh install crd-server`. Without
//! them the test is skipped, unless `SEXTANT_REQUIRE_TOOLS=1` (as `make test` sets).

#[path = "../common/mod.rs"]
mod common;
mod server;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};
use server::{Binaries, CrdServer, Reply};
use sextant::api::ObservabilityStack;

const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const STACKS: &str = "/apis/observability.sextant.dev/v1alpha1";
/// How long a created or changed CRD may take to be served.
const SERVE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a fixture's `# crd:` header expects of the CRD server.
#[derive(Clone, Debug, PartialEq)]
enum Expect {
    Accepted,
    Refused(String),
}

struct Case {
    file: String,
    expect: Expect,
    object: Value,
}

/// What one create did.
struct Outcome {
    file: String,
    reply: Reply,
    /// The CRD's CEL messages the refusal quotes.
    cel: Vec<String>,
    /// Whether kube's client-side CEL evaluator agrees (`None`: not compared).
    client_cel: Option<bool>,
    problem: Option<String>,
}

fn binaries() -> Option<Binaries> {
    let apiserver = common::tool("apiextensions-apiserver")?;
    let openssl = common::tool("openssl")?;
    let etcd = std::env::var_os("SEXTANT_CRD_ETCD")
        .map(PathBuf::from)
        .unwrap_or_else(|| apiserver.parent().unwrap().join("../libexec/etcd"));
    if !etcd.is_file() {
        let why = format!(
            "{} missing (the CRD server's etcd): run `scripts/tools.sh install crd-server`",
            etcd.display()
        );
        if std::env::var("SEXTANT_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{why}");
        }
        eprintln!("SKIPPED: {why}");
        return None;
    }
    Some(Binaries {
        apiserver,
        etcd,
        openssl,
    })
}

/// Every CRD in `crds/*.yaml`, as JSON.
fn crds() -> Vec<Value> {
    let mut out = Vec::new();
    for path in common::yaml_files("crds") {
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v = Value::deserialize(doc).unwrap();
            if v["kind"] == "CustomResourceDefinition" {
                out.push(v);
            }
        }
    }
    assert!(!out.is_empty(), "no CustomResourceDefinition in crds/");
    out
}

/// Every stack fixture (all but `cluster: cli-only`) with its `crd:` expectation.
fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for path in common::yaml_files("tests/fixtures/bad") {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        if common::header(&text, "cluster").as_deref() == Some("cli-only") {
            continue;
        }
        let expect = match common::header(&text, "crd").as_deref() {
            Some("accepted") => Expect::Accepted,
            Some(h) if h.starts_with("refused ") => Expect::Refused(h[8..].trim().to_string()),
            other => {
                missing.push(format!("{file}: `# crd:` is {other:?}"));
                continue;
            }
        };
        let object = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|e| panic!("{file}: a stack fixture must be one YAML object: {e}"));
        out.push(Case {
            file,
            expect,
            object,
        });
    }
    assert!(
        missing.is_empty(),
        "stack fixtures need `# crd: accepted` or `# crd: refused <path>`:\n{}",
        missing.join("\n")
    );
    out
}

/// The message (or, lacking one, the rule) of every CEL rule in `v`.
fn cel_messages(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for rule in m
                .get("x-kubernetes-validations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let text = rule.get("message").or_else(|| rule.get("rule"));
                out.insert(text.and_then(Value::as_str).unwrap().to_string());
            }
            m.values().for_each(|x| cel_messages(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| cel_messages(x, out)),
        _ => {}
    }
}

fn without_cel(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("x-kubernetes-validations");
            m.values_mut().for_each(without_cel);
        }
        Value::Array(a) => a.iter_mut().for_each(without_cel),
        _ => {}
    }
}

/// A namespace of its own for each object: names repeat across fixtures. Any name
/// serves: the server has no namespace API and NamespaceLifecycle is off.
fn namespace_for(file: &str) -> String {
    let stem = file.trim_end_matches(".yaml").to_lowercase();
    let mut ns: String = format!("t-{stem}").chars().take(63).collect();
    while ns.ends_with('-') {
        ns.pop();
    }
    ns
}

async fn create(server: &CrdServer, file: &str, object: &Value, query: &str) -> Reply {
    let ns = namespace_for(file);
    let mut object = object.clone();
    object["metadata"]["namespace"] = json!(ns);
    let path = format!("{STACKS}/namespaces/{ns}/observabilitystacks{query}");
    server
        .call("POST", &path, Some(&object))
        .await
        .unwrap_or_else(|e| panic!("{file}: {e:#}\n{}", server.log_tail(20)))
}

/// Whether a refusal names `path` as a field error does: `<path>: <reason>`.
fn names_field(message: &str, path: &str) -> bool {
    message.contains(&format!("{path}: "))
}

fn short(s: &str) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() > 150 {
        format!("{}...", s.chars().take(150).collect::<String>())
    } else {
        s
    }
}

/// Creates (or replaces) a CRD and waits until it is Established and its resource
/// is served.
async fn install(server: &CrdServer, crd: &Value) {
    let name = crd["metadata"]["name"].as_str().unwrap();
    let item = format!("{CRDS}/{name}");
    let existing = server.call("GET", &item, None).await.unwrap();
    let reply = if existing.code == 200 {
        let mut crd = crd.clone();
        crd["metadata"]["resourceVersion"] = existing.body["metadata"]["resourceVersion"].clone();
        server.call("PUT", &item, Some(&crd)).await.unwrap()
    } else {
        server.call("POST", CRDS, Some(crd)).await.unwrap()
    };
    assert!(
        reply.code == 200 || reply.code == 201,
        "installing CRD {name}: HTTP {}: {}",
        reply.code,
        reply.body
    );
    let plural = crd["spec"]["names"]["plural"].as_str().unwrap();
    let version = crd["spec"]["versions"][0]["name"].as_str().unwrap();
    let group = crd["spec"]["group"].as_str().unwrap();
    let list = format!("/apis/{group}/{version}/{plural}");
    let started = Instant::now();
    loop {
        let got = server.call("GET", &item, None).await.unwrap();
        let established = got.body["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Established" && c["status"] == "True");
        if established && server.call("GET", &list, None).await.unwrap().code == 200 {
            return;
        }
        assert!(
            started.elapsed() < SERVE_TIMEOUT,
            "CRD {name} not Established and served within {}s: {}",
            SERVE_TIMEOUT.as_secs(),
            got.body["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `tests/crd.rs` checks the CEL rules with kube's evaluator (`validate_cel`); this
/// says whether it agrees with the server on an object the server accepted (201)
/// or refused by CEL. Schema refusals are not compared: the server then skips rules.
/// `None`: not compared (not a typed stack, or refused by the schema).
fn client_side_cel_agrees(object: &Value, reply: &Reply, by_cel: bool) -> Option<bool> {
    let stack = serde_json::from_value::<ObservabilityStack>(object.clone()).ok()?;
    let client_refuses = stack.validate_cel().is_err();
    match reply.code {
        201 => Some(!client_refuses),
        422 if by_cel => Some(client_refuses),
        _ => None,
    }
}

/// Creates one fixture and checks the answer against its header.
async fn check_case(server: &CrdServer, case: &Case, cel: &BTreeSet<String>) -> Outcome {
    let reply = create(server, &case.file, &case.object, "").await;
    let message = reply.message().to_string();
    let quoted: Vec<String> = cel
        .iter()
        .filter(|m| reply.code == 422 && message.contains(m.as_str()))
        .cloned()
        .collect();
    let client_cel = client_side_cel_agrees(&case.object, &reply, !quoted.is_empty());
    let problem = match (&case.expect, reply.code) {
        _ if client_cel == Some(false) => Some(format!(
            "kube's client-side CEL evaluator disagrees with the server (HTTP {}: {message})",
            reply.code
        )),
        (Expect::Accepted, 201) => None,
        (Expect::Accepted, code) => Some(format!("expected 201, got {code}: {message}")),
        (Expect::Refused(path), 422) if names_field(&message, path) => None,
        (Expect::Refused(path), 422) => {
            Some(format!("the 422 does not name `{path}: `: {message}"))
        }
        (Expect::Refused(_), code) => Some(format!("expected 422, got {code}: {message}")),
    };
    Outcome {
        file: case.file.clone(),
        reply,
        cel: quoted,
        client_cel,
        problem,
    }
}

#[tokio::test]
async fn crd_on_kubernetes_1_36_takes_samples_and_refuses_fixtures_by_schema_and_cel() {
    let Some(bins) = binaries() else { return };
    let started = Instant::now();
    let server = CrdServer::start(&bins).await.unwrap();
    let up = started.elapsed();
    let version = server.call("GET", "/version", None).await.unwrap();
    let git_version = version.body["gitVersion"].as_str().unwrap_or_default();
    assert!(
        git_version.starts_with("v1.36."),
        "the CRD server is not Kubernetes 1.36: {}",
        version.body
    );
    let crds = crds();
    for crd in &crds {
        install(&server, crd).await;
    }
    let mut cel = BTreeSet::new();
    crds.iter().for_each(|c| cel_messages(c, &mut cel));
    assert!(
        !cel.is_empty(),
        "the CRD has no CEL rule: nothing here to prove"
    );
    let installed = started.elapsed();

    let mut failures = Vec::new();
    let samples = common::yaml_files("config/samples");
    assert!(!samples.is_empty());
    for path in &samples {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let object: Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let reply = create(&server, &file, &object, "").await;
        println!("{:<44} sample: HTTP {}", file, reply.code);
        if reply.code != 201 {
            failures.push(format!(
                "sample {file}: HTTP {}: {}",
                reply.code,
                reply.message()
            ));
        } else if client_side_cel_agrees(&object, &reply, false) == Some(false) {
            failures.push(format!("sample {file}: kube's CEL evaluator refuses it"));
        }
    }

    // The stacks of the previous release (docs/api-versioning.md): created
    // with strict field validation, so a field the current CRD no longer
    // knows is a 422, not silently pruned.
    let previous = common::yaml_files("tests/fixtures/previous-release");
    let mut previous_stacks = 0;
    for path in &previous {
        let object: Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        if object["kind"] != "ObservabilityStack" {
            continue;
        }
        previous_stacks += 1;
        let file = format!(
            "previous-release-{}",
            path.file_name().unwrap().to_string_lossy()
        );
        let reply = create(&server, &file, &object, "?fieldValidation=Strict").await;
        println!("{:<44} previous release: HTTP {}", file, reply.code);
        if reply.code != 201 {
            failures.push(format!(
                "previous release {file}: HTTP {}: {}",
                reply.code,
                reply.message()
            ));
        }
    }
    assert!(
        previous_stacks >= 3,
        "{previous_stacks} previous-release stacks"
    );
    // Strict validation is real: a field the CRD does not know is refused.
    let mut unknown: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(
            common::root().join("tests/fixtures/previous-release/minimal.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    unknown["spec"]["noSuchField"] = json!(true);
    let reply = create(
        &server,
        "previous-release-unknown.yaml",
        &unknown,
        "?fieldValidation=Strict",
    )
    .await;
    // 400 with "strict decoding error: unknown field" (apiserver field validation).
    assert!(
        reply.code == 400 && reply.message().contains("unknown field"),
        "strict validation let an unknown field through: HTTP {}: {}",
        reply.code,
        reply.message()
    );

    let cases = cases();
    let mut outcomes = Vec::new();
    for case in &cases {
        let o = check_case(&server, case, &cel).await;
        println!(
            "{:<44} HTTP {}{}{}",
            o.file,
            o.reply.code,
            if o.cel.is_empty() { "" } else { " (CEL)" },
            match (&o.problem, o.reply.code) {
                (Some(p), _) => format!("  <-- FAILED: {}", short(p)),
                (None, 201) => String::new(),
                (None, _) => format!(": {}", short(o.reply.message())),
            }
        );
        if let Some(p) = &o.problem {
            failures.push(format!("{}: {p}", o.file));
        }
        outcomes.push(o);
    }
    let refused = outcomes.iter().filter(|o| o.reply.code == 422).count();
    let compared = outcomes.iter().filter(|o| o.client_cel.is_some()).count();
    assert!(refused > 0, "no fixture was refused");

    // Every CEL rule refuses some fixture...
    let quoted: BTreeSet<&String> = outcomes.iter().flat_map(|o| &o.cel).collect();
    for m in &cel {
        if !quoted.contains(m) {
            failures.push(format!(
                "CEL rule {m:?} refused no fixture: add one with `# crd: refused <path>`"
            ));
        }
    }
    // ...and is why those fixtures are refused: without the rules they get in.
    let by_cel: Vec<&Case> = cases
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| !o.cel.is_empty())
        .map(|(c, _)| c)
        .collect();
    for crd in &crds {
        let mut plain = crd.clone();
        without_cel(&mut plain);
        install(&server, &plain).await;
    }
    // The handler of a changed CRD is swapped in a moment after the update.
    let t = Instant::now();
    if let Some(probe) = by_cel.first() {
        while create(&server, &probe.file, &probe.object, "?dryRun=All")
            .await
            .code
            != 201
            && t.elapsed() < SERVE_TIMEOUT
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for case in &by_cel {
        let reply = create(&server, &case.file, &case.object, "?dryRun=All").await;
        println!("{:<44} without CEL rules: HTTP {}", case.file, reply.code);
        if reply.code != 201 {
            failures.push(format!(
                "{}: without the CEL rules still HTTP {}: {} (not refused by CEL alone?)",
                case.file,
                reply.code,
                reply.message()
            ));
        }
    }
    println!(
        "crd-server {git_version}: {} samples, {} fixtures ({refused} refused, {} by CEL; \
         kube's CEL evaluator agrees on {compared}) in {:.1}s (server up {:.1}s, CRD served {:.1}s)",
        samples.len(),
        cases.len(),
        by_cel.len(),
        started.elapsed().as_secs_f64(),
        up.as_secs_f64(),
        installed.as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}\n--- server log:\n{}",
        failures.len(),
        failures.join("\n"),
        server.log_tail(20)
    );
}
