//! The CRD: committed copy matches `sextant crd`, samples satisfy its schema and
//! CEL rules, and each CEL rule agrees with sextant's own validation.

mod common;

use kube::CustomResourceExt;
use serde_json::{Value, json};
use sextant::api::ObservabilityStack;
use sextant::validate::Dereferenced;
use sextant::validate::validate;

fn schema() -> Value {
    let crd = serde_json::to_value(ObservabilityStack::crd()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// Validates an object against the CRD's OpenAPI schema (types, patterns, enums,
/// ranges); returns the error messages.
fn schema_errors(object: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    validator
        .iter_errors(object)
        .map(|e| format!("{}: {}", e.instance_path(), e))
        .collect()
}

#[test]
fn committed_crd_matches_generated() {
    let committed =
        std::fs::read_to_string(common::root().join("crds/observabilitystacks.yaml")).unwrap();
    assert!(
        committed == sextant::cli::crd_yaml(),
        "crds/observabilitystacks.yaml is stale: run `make crds`"
    );
}

#[test]
fn crd_names_and_columns_are_the_contract() {
    let crd = ObservabilityStack::crd();
    let names = &crd.spec.names;
    assert_eq!(crd.spec.group, "observability.sextant.dev");
    assert_eq!(names.plural, "observabilitystacks");
    assert_eq!(
        names.short_names.as_deref(),
        Some(&["obs".to_string(), "obstack".to_string()][..])
    );
    assert_eq!(
        names.categories.as_deref(),
        Some(&["sextant".to_string()][..])
    );
    assert_eq!(crd.spec.scope, "Namespaced");
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    assert!(version.subresources.as_ref().unwrap().status.is_some());
    let columns: Vec<_> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| c.name.to_uppercase())
        .collect();
    assert_eq!(columns, ["READY", "REASON", "COLLECTORS", "DATA", "AGE"]);
}

#[test]
fn every_field_has_a_description() {
    fn walk(path: &str, s: &Value, missing: &mut Vec<String>) {
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                let p = format!("{path}.{k}");
                if v.get("description").is_none() {
                    missing.push(p.clone());
                }
                walk(&p, v, missing);
            }
        }
        if let Some(items) = s.get("items") {
            walk(&format!("{path}[]"), items, missing);
        }
    }
    let mut missing = Vec::new();
    walk("", &schema()["properties"]["spec"], &mut missing);
    walk("status", &schema()["properties"]["status"], &mut missing);
    // Fields of Kubernetes' own types (resources, label selectors, conditions) carry
    // upstream descriptions; every other field is ours and must have one.
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:#?}"
    );
}

#[test]
fn samples_satisfy_the_schema_and_cel_rules() {
    for (name, _) in common::samples() {
        let text =
            std::fs::read_to_string(common::root().join(format!("config/samples/{name}.yaml")))
                .unwrap();
        let raw: Value = serde_yaml_ng::from_str(&text).unwrap();
        let errs = schema_errors(&raw);
        assert!(errs.is_empty(), "{name}: {errs:#?}");
        let stack: ObservabilityStack = serde_json::from_value(raw).unwrap();
        stack
            .validate_cel()
            .unwrap_or_else(|e| panic!("{name}: CEL: {e:?}"));
    }
}

#[test]
fn schema_rejects_wrong_types_and_ranges() {
    let bad = json!({
        "apiVersion": "observability.sextant.dev/v1alpha1", "kind": "ObservabilityStack",
        "metadata": {"name": "x"},
        "spec": {
            "retention": {"metrics": "forever"},
            "collector": {"replicas": -3, "sampling": {"traceRatio": 2}},
            "prometheus": {"storage": {"size": "big"}},
            "storage": {"deletionPolicy": "Shred"},
            "tempo": {"replicas": "one"}
        }
    });
    let errs = schema_errors(&bad).join("\n");
    for field in [
        "/spec/retention/metrics",
        "/spec/collector/replicas",
        "/spec/collector/sampling/traceRatio",
        "/spec/prometheus/storage/size",
        "/spec/storage/deletionPolicy",
        "/spec/tempo/replicas",
    ] {
        assert!(
            errs.contains(field),
            "no schema error for {field} in:\n{errs}"
        );
    }
}

/// Each CEL rule of the CRD, broken, is caught by the CEL evaluator (as the API
/// server would) and by `validate` (as sextant always does).
#[test]
fn cel_rules_agree_with_validate() {
    let cases = [
        (
            "minmax",
            json!({"collector": {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}}),
            "maxReplicas must be >= minReplicas",
        ),
        (
            "contact",
            json!({"grafana": {"alerting": {"contactPoints": [{"name": "a", "type": "slack"}]}}}),
            "need secretRef",
        ),
        (
            "tiny-ratio",
            json!({"collector": {"sampling": {"traceRatio": 0.000000001}}}),
            "traceRatio must be 0 (keep no trace) or from 0.000001 to 1",
        ),
        (
            "email-without-smtp",
            json!({"grafana": {"alerting": {"contactPoints": [{"name": "m", "type": "email", "addresses": ["a@b.c"]}]}}}),
            "email contact points need spec.grafana.smtp",
        ),
    ];
    for (case, spec, message) in cases {
        let obj = json!({"apiVersion": "observability.sextant.dev/v1alpha1", "kind": "ObservabilityStack",
                         "metadata": {"name": "ok", "namespace": "ns"}, "spec": spec});
        let stack: ObservabilityStack = serde_json::from_value(obj).unwrap();
        let cel = stack.validate_cel().expect_err(case);
        assert!(
            format!("{cel:?}").contains(message),
            "{case}: CEL said {cel:?}"
        );
        assert!(
            validate(&stack, &Dereferenced::offline()).is_err(),
            "{case}: validate accepted it"
        );
    }
    for (case, name) in [
        ("long name", "a".repeat(41)),
        ("bad name", "1abc".to_string()),
    ] {
        let obj = json!({"apiVersion": "observability.sextant.dev/v1alpha1", "kind": "ObservabilityStack",
                         "metadata": {"name": name, "namespace": "ns"}, "spec": {}});
        let stack: ObservabilityStack = serde_json::from_value(obj).unwrap();
        assert!(stack.validate_cel().is_err(), "{case}: CEL accepted it");
        assert!(
            validate(&stack, &Dereferenced::offline()).is_err(),
            "{case}: validate accepted it"
        );
    }
}
