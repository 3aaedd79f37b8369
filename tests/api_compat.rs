//! The v1alpha1 API only grows (docs/api-versioning.md): the CRD of the previous
//! release (`tests/fixtures/previous-release/observabilitystacks.yaml`, copied
//! from commit 5753fb1, the last one landed before this release's work) is
//! compared field by field with the current one, and the previous release's
//! sample stacks are still accepted unchanged by sextant's own parser and
//! validation (the 1.36 CRD server test creates them with strict field
//! validation too).
//!
//! A field may be added; none may be removed or change its type, default or
//! pattern; enums may gain values, not lose them; bounds may widen, not
//! narrow; an existing object may not require a field it did not.

mod common;

use std::collections::BTreeSet;

use serde_json::Value;
use sextant::validate::{Dereferenced, validate};

fn crd(path: &str) -> Value {
    let text = std::fs::read_to_string(common::root().join(path)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn schema_of(crd: &Value, version: &str) -> Option<Value> {
    crd["spec"]["versions"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == version)
        .map(|v| v["schema"]["openAPIV3Schema"].clone())
}

/// Every way `new` breaks a stack valid under `old`, by path.
fn breaks(old: &Value, new: &Value, path: &str, out: &mut Vec<String>) {
    if new.is_null() {
        out.push(format!("{path}: removed"));
        return;
    }
    for key in [
        "type",
        "format",
        "pattern",
        "default",
        "x-kubernetes-list-type",
    ] {
        if old.get(key) != new.get(key) {
            out.push(format!(
                "{path}: {key} {:?} became {:?}",
                old.get(key),
                new.get(key)
            ));
        }
    }
    if let Some(values) = old.get("enum").and_then(Value::as_array) {
        let now: Vec<&Value> = new["enum"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        for v in values {
            if new.get("enum").is_some() && !now.contains(&v) {
                out.push(format!("{path}: enum value {v} removed"));
            }
        }
    } else if new.get("enum").is_some() {
        out.push(format!("{path}: became an enum"));
    }
    for key in ["maxLength", "maxItems", "maxProperties", "maximum"] {
        let (o, n) = (
            old.get(key).and_then(Value::as_f64),
            new.get(key).and_then(Value::as_f64),
        );
        if let Some(n) = n
            && o.is_none_or(|o| n < o)
        {
            out.push(format!("{path}: {key} narrowed from {o:?} to {n}"));
        }
    }
    for key in ["minLength", "minItems", "minProperties", "minimum"] {
        let (o, n) = (
            old.get(key).and_then(Value::as_f64),
            new.get(key).and_then(Value::as_f64),
        );
        if let Some(n) = n
            && o.is_none_or(|o| n > o)
        {
            out.push(format!("{path}: {key} raised from {o:?} to {n}"));
        }
    }
    let required = |s: &Value| -> BTreeSet<String> {
        s["required"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    for r in required(new).difference(&required(old)) {
        out.push(format!("{path}: now requires {r}"));
    }
    if let Some(props) = old.get("properties").and_then(Value::as_object) {
        for (name, child) in props {
            breaks(
                child,
                &new["properties"][name],
                &format!("{path}.{name}"),
                out,
            );
        }
    }
    if let Some(items) = old.get("items") {
        breaks(items, &new["items"], &format!("{path}[]"), out);
    }
    if let Some(extra) = old.get("additionalProperties").filter(|v| v.is_object()) {
        breaks(
            extra,
            &new["additionalProperties"],
            &format!("{path}.<key>"),
            out,
        );
    }
}

#[test]
fn the_current_crd_only_adds_to_the_previous_one() {
    let old = crd("tests/fixtures/previous-release/observabilitystacks.yaml");
    let new = crd("crds/observabilitystacks.yaml");
    assert_eq!(old["spec"]["names"], new["spec"]["names"]);
    let versions: Vec<&str> = old["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert!(versions.contains(&"v1alpha1"));
    let mut problems = Vec::new();
    for v in versions {
        match (schema_of(&old, v), schema_of(&new, v)) {
            (Some(o), Some(n)) => breaks(&o, &n, v, &mut problems),
            _ => problems.push(format!("{v}: no longer served")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_finds_what_would_break_a_stack() {
    let old = schema_of(
        &crd("tests/fixtures/previous-release/observabilitystacks.yaml"),
        "v1alpha1",
    )
    .unwrap();
    let mut new = old.clone();
    let spec = &mut new["properties"]["spec"]["properties"];
    spec.as_object_mut().unwrap().remove("paused");
    spec["collector"]["properties"]["replicas"]["type"] = "string".into();
    spec["retention"]["required"] = serde_json::json!(["metrics"]);
    let mut problems = Vec::new();
    breaks(&old, &new, "v1alpha1", &mut problems);
    let text = problems.join("\n");
    for expected in [
        "v1alpha1.spec.paused: removed",
        "v1alpha1.spec.collector.replicas: type",
        "v1alpha1.spec.retention: now requires metrics",
    ] {
        assert!(text.contains(expected), "{expected} not in\n{text}");
    }
}

#[test]
fn the_previous_release_stacks_are_accepted_unchanged() {
    let stacks: Vec<_> = common::yaml_files("tests/fixtures/previous-release")
        .into_iter()
        .filter(|p| !p.ends_with("observabilitystacks.yaml"))
        .collect();
    assert!(stacks.len() >= 3);
    for path in stacks {
        // cli::load refuses unknown fields, so a field dropped from the API
        // would fail here rather than be ignored.
        let stack = sextant::cli::load(path.to_str().unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        validate(&stack, &Dereferenced::offline())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
