//! `promtool test rules` on rendered rule files: the rule file Prometheus's
//! ConfigMap holds, and a test group run over it, with the proof that a
//! wrong expectation fails.

use serde_json::{Value, json};
use sextant::build::build;
use sextant::model::{Capabilities, ValidatedStack};

/// The `recording-rules.yml` of the stack's Prometheus ConfigMap.
pub fn recording_rules(stack: &ValidatedStack) -> String {
    let r = build(stack, &Capabilities::current());
    let cm = r
        .config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(&format!("{}-prometheus-config", stack.name)))
        .expect("the Prometheus ConfigMap");
    cm.data.as_ref().expect("data")[sextant::render::prometheus::RECORDING_RULES_FILE].clone()
}

/// Runs `promtool test rules` on one test group over `files` (name, text),
/// evaluated every minute; `None` without promtool, `Err` with its output.
pub fn test(files: &[(&str, String)], group: &Value) -> Option<Result<(), String>> {
    let promtool = super::tool("promtool")?;
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let tests = json!({
        "rule_files": files.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        "evaluation_interval": "1m",
        "tests": [group],
    });
    let path = dir.path().join("tests.yml");
    std::fs::write(&path, serde_yaml_ng::to_string(&tests).unwrap()).unwrap();
    let (ok, out) = super::run(&promtool, &["test", "rules", path.to_str().unwrap()]);
    Some(if ok { Ok(()) } else { Err(out) })
}

/// The group passes over `files`, and fails once `wrong` is applied to it.
pub fn proves(files: &[(&str, String)], group: Value, wrong: impl Fn(&mut Value)) {
    let Some(result) = test(files, &group) else {
        return;
    };
    if let Err(out) = result {
        panic!("promtool test rules:\n{out}");
    }
    let mut bad = group;
    wrong(&mut bad);
    match test(files, &bad) {
        Some(Err(_)) => {}
        other => panic!("promtool passed a wrong expectation: {other:?}"),
    }
}

/// `promtool check rules` accepts each of `files`.
pub fn check(files: &[(&str, String)]) {
    let Some(promtool) = super::tool("promtool") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let (ok, out) = super::run(&promtool, &["check", "rules", path.to_str().unwrap()]);
        assert!(ok, "promtool check rules {name}:\n{out}\n{text}");
    }
}
