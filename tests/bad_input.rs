//! Bad input, without a cluster: every malformed or hostile stack under
//! `tests/fixtures/bad/` makes `sextant check` fail with a message naming the field,
//! `sextant render` never panics on any of them, and a property test injects random
//! values at random paths of valid specs to show that parse, validate and build never
//! panic.
//!
//! Each fixture starts with a header of `# key: value` lines:
//!
//! - `case`: what is wrong, in words;
//! - `check`: `error <text>` (`sextant check` exits non-zero and its output holds
//!   `<text>`, a field path or the CLI's reason) or `ok` (the stack is valid: its
//!   problem is only visible in a cluster, such as a missing Secret);
//! - `cluster`: what a real API server and operator do with it, asserted by
//!   `e2e/tests/bad_input.rs`: `schema <path>` (422 naming the path), `invalid <path>`
//!   (accepted, then `Reconciled=False InvalidSpec` naming the path; a 422 from a CEL
//!   rule on Kubernetes >= 1.25 also passes), `new-stack-invalid <path>` (the same,
//!   for a stack created under its own name), `secret-not-found <path>`
//!   (`GrafanaReady`, `CollectorReady`, `LokiReady` or `TempoReady` False `SecretNotFound`), `applied`,
//!   `pruned <path>` (the API server drops the unknown field), or `cli-only`;
//! - `crd` (on every fixture whose `cluster` is not `cli-only`): what the Kubernetes
//!   1.36 CRD server does when the stack is created, asserted by `tests/crd_server/`:
//!   `refused <path>` (422 whose message names `<path>` as `<path>: <reason>`, from the
//!   CRD's schema or one of its CEL rules; the 1.36 path, with list indices where the
//!   server gives them) or `accepted` (201: only sextant's own validation refuses it,
//!   or it is a valid stack). A CEL rule on the whole object (the `metadata.name`
//!   rules) is reported at field `<nil>`: there the path is named by the rule's
//!   message, which starts with `metadata.name: `;
//! - `secret` (optional): `<name> <key>=<value>`, a Secret `e2e/tests/bad_input.rs`
//!   creates in the namespace before the case (for a reference to a Secret that
//!   exists but lacks the key);
//! - `gap-check` / `gap-cluster` (optional): a known defect of sextant, described;
//!   the expectation above is what sextant should do, and the test reports the case
//!   instead of failing until the defect is fixed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value, json};
use sextant::api::ObservabilityStack;
use sextant::build::build;
use sextant::cli::{self, Format};
use sextant::model::Capabilities;
use sextant::validate::{Dereferenced, is_dns_label, validate};

/// One fixture and what its header expects.
#[derive(Debug)]
struct Fixture {
    file: String,
    path: PathBuf,
    text: String,
    case: String,
    /// `None`: `sextant check` accepts it; `Some(text)`: it refuses it naming `text`.
    check_error: Option<String>,
    cluster: String,
    gap_check: Option<String>,
}

fn fixtures() -> Vec<Fixture> {
    common::yaml_files("tests/fixtures/bad")
        .into_iter()
        .map(|path| {
            let file = path.file_name().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let need = |key| {
                common::header(&text, key).unwrap_or_else(|| panic!("{file}: no `# {key}:` header"))
            };
            let check = need("check");
            let check_error = match check.as_str() {
                "ok" => None,
                other => Some(
                    other
                        .strip_prefix("error ")
                        .unwrap_or_else(|| panic!("{file}: check must be `ok` or `error <text>`"))
                        .to_string(),
                ),
            };
            Fixture {
                case: need("case"),
                cluster: need("cluster"),
                check_error,
                gap_check: common::header(&text, "gap-check"),
                file,
                path,
                text,
            }
        })
        .collect()
}

fn sextant(args: &[&str], file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .arg("-f")
        .arg(file)
        .output()
        .unwrap()
}

fn text_of(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A process that panicked exits with 101; one killed by a signal has no code.
fn crashed(out: &Output) -> bool {
    matches!(out.status.code(), None | Some(101)) || text_of(out).contains("panicked at")
}

#[test]
fn there_are_at_least_30_fixtures_each_naming_its_outcome() {
    let all = fixtures();
    assert!(all.len() >= 30, "only {} fixtures", all.len());
    let mut numbers = std::collections::BTreeSet::new();
    for f in &all {
        let (nn, rest) = f.file.split_once('-').unwrap_or((&f.file, ""));
        assert!(
            (2..=3).contains(&nn.len())
                && nn.bytes().all(|b| b.is_ascii_digit())
                && !rest.is_empty(),
            "{}: name it NN-name.yaml (or NNN-name.yaml)",
            f.file
        );
        assert!(numbers.insert(nn.to_string()), "{}: number reused", f.file);
        let kind = f.cluster.split(' ').next().unwrap();
        assert!(
            [
                "schema",
                "invalid",
                "new-stack-invalid",
                "secret-not-found",
                "applied",
                "pruned",
                "cli-only"
            ]
            .contains(&kind),
            "{}: unknown cluster outcome {kind:?}",
            f.file
        );
        assert!(!f.case.is_empty());
        let crd = common::header(&f.text, "crd");
        match (kind, crd.as_deref()) {
            ("cli-only", None) => {}
            ("cli-only", Some(_)) => panic!("{}: a cli-only fixture has no `crd:`", f.file),
            (_, Some("accepted")) => {}
            (_, Some(r)) if r.strip_prefix("refused ").is_some_and(|p| !p.is_empty()) => {}
            (_, other) => panic!(
                "{}: `# crd:` must be `accepted` or `refused <path>`, not {other:?}",
                f.file
            ),
        }
    }
    let refused = all.iter().filter(|f| f.check_error.is_some()).count();
    assert!(refused >= 30, "only {refused} fixtures are refused");
}

#[test]
fn sextant_check_refuses_every_bad_fixture_naming_the_field() {
    let mut failures = Vec::new();
    let mut gaps = Vec::new();
    for f in fixtures() {
        let out = sextant(&["check"], &f.path);
        let text = text_of(&out);
        let first = text.lines().next().unwrap_or_default().to_string();
        if crashed(&out) {
            failures.push(format!("{}: sextant check crashed: {text}", f.file));
            continue;
        }
        let ok = out.status.success();
        match (&f.check_error, ok) {
            (None, true) => println!("{:<44} accepted (as expected)", f.file),
            (None, false) => failures.push(format!("{}: expected valid, got: {text}", f.file)),
            (Some(needle), false) if text.contains(needle.as_str()) => {
                println!("{:<44} refused: {first}", f.file);
                if f.gap_check.is_some() {
                    gaps.push(format!(
                        "{}: refused now; remove its gap-check header",
                        f.file
                    ));
                }
            }
            (Some(needle), false) => failures.push(format!(
                "{}: refused, but the message does not name {needle:?}: {text}",
                f.file
            )),
            (Some(_), true) => match &f.gap_check {
                Some(gap) => gaps.push(format!("{}: KNOWN GAP: {gap}", f.file)),
                None => failures.push(format!("{}: sextant check accepted it", f.file)),
            },
        }
    }
    for g in &gaps {
        println!("{g}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sextant_render_never_panics_and_agrees_with_check() {
    let mut failures = Vec::new();
    for f in fixtures() {
        let check = sextant(&["check"], &f.path);
        for format in ["yaml", "json"] {
            let out = sextant(&["render", "-o", format], &f.path);
            if crashed(&out) {
                failures.push(format!(
                    "{} ({format}): render crashed: {}",
                    f.file,
                    text_of(&out)
                ));
            } else if out.status.success() != check.status.success() {
                failures.push(format!(
                    "{} ({format}): render exit {:?}, check exit {:?}",
                    f.file,
                    out.status.code(),
                    check.status.code()
                ));
            } else if !out.status.success() && !out.stdout.is_empty() {
                failures.push(format!(
                    "{} ({format}): a failed render printed objects",
                    f.file
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn library_parse_check_and_render_agree_with_the_binary() {
    for f in fixtures() {
        let result =
            cli::parse(&f.file, &f.text).and_then(|s| cli::render(&s, &Capabilities::current()));
        match (&result, &f.check_error) {
            (Ok(resources), _) => {
                assert!(
                    f.check_error.is_none() || f.gap_check.is_some(),
                    "{}",
                    f.file
                );
                assert!(!cli::format(resources, Format::Json).is_empty());
                assert!(!cli::format(resources, Format::Yaml).is_empty());
            }
            (Err(e), Some(needle)) => {
                assert!(e.to_string().contains(needle.as_str()), "{}: {e}", f.file)
            }
            (Err(e), None) => panic!("{}: expected valid: {e}", f.file),
        }
    }
}

#[test]
fn every_error_of_a_many_faults_stack_is_reported_at_once() {
    // One stack carrying the InvalidSpec faults of several fixtures at once: every
    // field is named, none hides another.
    let stack = common::with_spec(
        "retention: {traces: 0s, logs: 36h}\n\
         collector: {autoscaling: {minReplicas: 8, maxReplicas: 3}, resources: {limits: {memory: 64Mi}}}\n\
         tempo: {storage: {size: \"0\"}, resources: {limits: {cpu: lots}}}\n\
         loki: {retention: {streams: [{selector: '{namespace=}', period: 48h}]}}\n\
         grafana: {dashboards: {inline: [{name: a, json: '[1]'}]}, alerting: {ruleGroups: [{name: g, rules: [{alert: A, expr: 'sum('}]}]}}",
    );
    let errors = validate(&stack, &Dereferenced::offline()).unwrap_err().0;
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    for p in [
        "spec.retention.traces",
        "spec.retention.logs",
        "spec.collector.autoscaling.maxReplicas",
        "spec.collector.resources.limits.memory",
        "spec.tempo.storage.size",
        "spec.tempo.resources.limits.cpu",
        "spec.loki.retention.streams[0].selector",
        "spec.grafana.dashboards.inline[0].json",
        "spec.grafana.alerting.ruleGroups[0].rules[0].expr",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:#?}");
    }
}

// ---- property: random values injected at random paths of valid specs ----

/// Specs that pass validation, as JSON: the samples and one with every list filled.
fn base_specs() -> Vec<Value> {
    let mut out: Vec<Value> = common::samples()
        .into_iter()
        .map(|(_, s)| serde_json::to_value(&s.spec).unwrap())
        .collect();
    out.push(json!({
        "storage": {"storageClassName": "fast", "deletionPolicy": "Delete"},
        "collector": {"replicas": 3, "autoscaling": {"enabled": false},
                      "resourceAttributes": {"team": "a"},
                      "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}},
        "prometheus": {"retention": {"time": "10d", "size": "10GiB"}, "storage": {"size": "20Gi"}},
        "tempo": {"retention": {"period": "72h"}, "metricsGenerator": {"enabled": false}},
        "loki": {"retention": {"period": "14d", "streams": [{"selector": "{a=\"b\"}", "period": "2d", "priority": 3}]}},
        "grafana": {
            "adminCredentials": {"secretName": "admin"},
            "dashboards": {"builtin": ["agent-fleet"], "configMapSelector": {"matchLabels": {"t": "x"}},
                           "inline": [{"name": "d", "folder": "f", "json": "{\"title\": \"T\"}"}]},
            "alerting": {"builtinRules": {"disabled": ["CollectorAtMaxReplicas"]},
                         "ruleGroups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "for": "5m",
                                          "labels": {"severity": "page"}, "annotations": {"summary": "s"}}]}],
                         "contactPoints": [{"name": "p", "type": "webhook", "secretRef": {"name": "w", "key": "url"}},
                                           {"name": "m", "type": "email", "addresses": ["a@b.c"]}],
                         "defaultContactPoint": "m"},
            "smtp": {"host": "smtp.example.com:587", "fromAddress": "g@example.com", "user": "g",
                     "passwordSecretRef": {"name": "smtp", "key": "password"}, "startTlsPolicy": "NoStartTLS"}
        }
    }));
    for spec in &out {
        let stack = object("s", spec.clone());
        let parsed: ObservabilityStack = serde_json::from_value(stack).unwrap();
        validate(&parsed, &Dereferenced::offline())
            .unwrap_or_else(|e| panic!("base spec invalid: {e}"));
    }
    out
}

/// Every property name of the CRD's schema, so injected keys hit real fields.
fn field_names() -> Vec<String> {
    fn walk(v: &Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Object(props)) = m.get("properties") {
                    out.extend(props.keys().cloned());
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let crd = serde_json::to_value(<ObservabilityStack as kube::CustomResourceExt>::crd()).unwrap();
    let mut names = std::collections::BTreeSet::new();
    walk(&crd["spec"]["versions"][0]["schema"], &mut names);
    names.into_iter().collect()
}

fn object(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "observability.sextant.dev/v1alpha1", "kind": "ObservabilityStack",
        "metadata": {"name": name, "namespace": "ns", "uid": "0000-1111"}, "spec": spec,
    })
}

fn interesting_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            " ",
            "0",
            "-1",
            "0s",
            "1y",
            "36h",
            "99999999999999999999d",
            "1e308",
            "NaN",
            "0Gi",
            "1.5Gi",
            "1Ei",
            "9999999Ei",
            "lots",
            "250m",
            "45GiB",
            "up",
            "up == 0",
            "sum(",
            "{a=\"b\"}",
            "{a=~\".*\"}",
            "{}",
            "{\"title\": \"x\"}",
            "[]",
            "null",
            "../..",
            ".",
            "a/b",
            "sextant-builtin",
            "agent-fleet",
            "Retain",
            "Delete",
            "email",
            "slack",
            "In",
            "Exists",
            "ünïcødé",
            "a\u{0}b",
            "\u{202e}evil",
        ])
        .prop_map(str::to_string),
        "[0-9]{1,22}(ms|s|m|h|d|w|y|Ki|Mi|Gi|Ei|GiB|MB|B|m)?",
        "\\PC{0,24}",
        "[a-z0-9-]{60,70}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop::sample::select(vec![
            0i64,
            -1,
            1,
            2,
            100,
            101,
            1_000_000_000,
            i64::from(i32::MAX) + 1,
            i64::MAX,
            i64::MIN
        ])
        .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::num::f64::ANY.prop_map(Value::from),
        interesting_string().prop_map(Value::from),
    ]
}

fn any_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// One change at a random place: set (or replace) a key, or remove one.
#[derive(Clone, Debug)]
enum Mutation {
    Set {
        at: Index,
        key: String,
        value: Value,
    },
    Remove {
        at: Index,
        key: Index,
    },
}

fn mutation(names: Vec<String>) -> impl Strategy<Value = Mutation> {
    let key = prop_oneof![
        4 => prop::sample::select(names),
        1 => "[a-zA-Z]{1,10}",
    ];
    prop_oneof![
        4 => (any::<Index>(), key, any_value())
            .prop_map(|(at, key, value)| Mutation::Set { at, key, value }),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(at, key)| Mutation::Remove { at, key }),
    ]
}

/// JSON pointers of every object and array in `v`, the root first.
fn containers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            out.push(at.clone());
            for (k, x) in m {
                containers(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            out.push(at.clone());
            for (i, x) in a.iter().enumerate() {
                containers(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn apply(spec: &mut Value, m: &Mutation) {
    let mut places = Vec::new();
    containers(spec, String::new(), &mut places);
    let (at, set) = match m {
        Mutation::Set { at, key, value } => (at, Some((key, value))),
        Mutation::Remove { at, .. } => (at, None),
    };
    let place = at.get(&places).clone();
    let target = spec.pointer_mut(&place).unwrap();
    match (target, set) {
        (Value::Object(o), Some((key, value))) => {
            o.insert(key.clone(), value.clone());
        }
        (Value::Array(a), Some((key, value))) => {
            if a.is_empty() || key.len() % 2 == 0 {
                a.push(value.clone());
            } else {
                let i = key.len() % a.len();
                a[i] = value.clone();
            }
        }
        (Value::Object(o), None) if !o.is_empty() => {
            let Mutation::Remove { key, .. } = m else {
                unreachable!()
            };
            let k = key.get(&o.keys().cloned().collect::<Vec<_>>()).clone();
            o.remove(&k);
        }
        (Value::Array(a), None) if !a.is_empty() => {
            let Mutation::Remove { key, .. } = m else {
                unreachable!()
            };
            a.remove(key.index(a.len()));
        }
        _ => {}
    }
}

/// Validates and, when valid, builds and formats a stack; panics only on a bug.
fn exercise(stack: &ObservabilityStack) -> Result<(), TestCaseError> {
    if let Ok(valid) = validate(stack, &Dereferenced::offline()) {
        let resources = build(&valid, &Capabilities::current());
        for o in resources.to_values() {
            let name = o["metadata"]["name"].as_str().unwrap_or_default();
            if o["kind"] == "ClusterRoleBinding" {
                // RBAC names are path segments; sextant's join DNS labels with ':'
                // (of which the namespace's is the API server's to check: a
                // generated one need not be a name any server would take).
                prop_assert!(
                    !is_dns_label(&valid.namespace)
                        || (name.len() <= 253 && name.split(':').all(is_dns_label)),
                    "{} {name:?} is not DNS labels joined by ':'",
                    o["kind"]
                );
                continue;
            }
            prop_assert!(
                is_dns_label(name),
                "{} {name:?} is not a DNS label",
                o["kind"]
            );
        }
        prop_assert!(!cli::format(&resources, Format::Yaml).is_empty());
        prop_assert!(!cli::format(&resources, Format::Json).is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    /// Random values at random paths of valid specs: the CLI's parser, the typed
    /// deserializer, validate, build and format never panic, and whatever passes
    /// validation builds objects with valid names.
    #[test]
    fn random_values_at_random_paths_never_panic(
        base in prop::sample::select(base_specs()),
        name in prop_oneof![4 => Just("s".to_string()), 1 => "[a-z0-9.-]{0,45}"],
        mutations in prop::collection::vec(mutation(field_names()), 1..6),
    ) {
        let mut spec = base;
        for m in &mutations {
            apply(&mut spec, m);
        }
        let obj = object(&name, spec);
        // The CLI path: text in, unknown fields refused.
        let text = serde_json::to_string(&obj).unwrap();
        if let Ok(stack) = cli::parse("prop.json", &text) {
            exercise(&stack)?;
        }
        // The operator's path: the typed object as the API server would hand it over
        // (unknown fields ignored).
        if let Ok(stack) = serde_json::from_value::<ObservabilityStack>(obj) {
            exercise(&stack)?;
        }
    }

    /// The same for whole YAML documents with random values spliced in as text.
    #[test]
    fn random_yaml_text_never_panics(
        base in prop::sample::select(base_specs()),
        cut in any::<Index>(),
        junk in prop_oneof![interesting_string(), "[-:{}\\[\\],&*!|>'\"%@` \n#a-z0-9]{0,40}"],
    ) {
        let yaml = serde_yaml_ng::to_string(&object("s", base)).unwrap();
        let mut at = cut.index(yaml.len() + 1);
        while !yaml.is_char_boundary(at) {
            at -= 1;
        }
        let text = format!("{}{junk}{}", &yaml[..at], &yaml[at..]);
        if let Ok(stack) = cli::parse("prop.yaml", &text) {
            exercise(&stack)?;
        }
    }
}

#[test]
fn render_for_an_old_server_drops_what_it_cannot_serve_and_refuses_unknown_versions() {
    let sample = common::root().join("config/samples/production.yaml");
    let current = sextant(&["render"], &sample);
    assert!(current.status.success(), "{}", text_of(&current));
    let old = sextant(&["render", "--kube-version", "1.20"], &sample);
    assert!(old.status.success(), "{}", text_of(&old));
    let count = |out: &Output, kind: &str| {
        String::from_utf8_lossy(&out.stdout)
            .matches(&format!("kind: {kind}\n"))
            .count()
    };
    assert_eq!(count(&current, "HorizontalPodAutoscaler"), 1);
    assert_eq!(count(&old, "HorizontalPodAutoscaler"), 0);
    assert_eq!(count(&old, "PodDisruptionBudget"), 0);
    assert_eq!(count(&old, "StatefulSet"), count(&current, "StatefulSet"));

    for bad in ["2.0", "1.15", "1", "latest", ""] {
        let out = sextant(&["render", "--kube-version", bad], &sample);
        let text = text_of(&out);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {text}");
        assert!(out.stdout.is_empty(), "{bad:?}: printed objects");
        assert!(
            text.contains("--kube-version") && text.contains("1.16 or later"),
            "{bad:?}: the error names the flag and the rule: {text}"
        );
    }
}
