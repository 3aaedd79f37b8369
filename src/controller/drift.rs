//! Deciding whether a child needs a write: the applied-hash of the desired object,
//! and a drift check that the live object still holds every value sextant sets.
//!
//! Pure functions over JSON values.

use serde_json::Value;

use crate::digest::sha256_json_hex;
use crate::model::APPLIED_HASH_ANNOTATION;
use crate::units::{parse_cpu_millis, parse_quantity_bytes};

/// Hash of a desired object as it will be sent (before the annotation is added):
/// the SHA-256 of its compact JSON, streamed (the same digest as hashing
/// `desired.to_string()`, so the annotations of earlier releases still match).
pub fn applied_hash(desired: &Value) -> String {
    sha256_json_hex(desired)
}

/// Sets the applied-hash annotation on a desired object.
pub fn annotate(desired: &mut Value, hash: &str) {
    if let Some(meta) = desired.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(APPLIED_HASH_ANNOTATION.into(), Value::String(hash.into()));
        }
    }
}

/// The applied-hash annotation of a live object, if any.
pub fn live_hash(live: &Value) -> Option<&str> {
    live.get("metadata")?
        .get("annotations")?
        .get(APPLIED_HASH_ANNOTATION)?
        .as_str()
}

/// Whether the live object needs sextant's desired state applied: it was last
/// applied from a different spec, or someone changed a value sextant sets.
/// Values others add (defaults, other managers' fields) are not drift.
pub fn needs_apply(desired: &Value, hash: &str, live: Option<&Value>) -> bool {
    match live {
        None => true,
        Some(live) => live_hash(live) != Some(hash) || !is_subset(desired, live),
    }
}

/// Whether every value in `desired` is present and equal in `live`. Objects may
/// have extra keys; lists must have the same length and match element by element;
/// strings that are both Kubernetes quantities compare by value ("0.5" == "500m").
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| match l.get(k) {
            Some(lv) => is_subset(dv, lv),
            // The API server omits Go zero values (empty maps and lists, null,
            // false, 0, "") of `omitempty` fields.
            None => is_zero(dv),
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| is_subset(dv, lv))
        }
        (Value::Array(d), Value::Null) => d.is_empty(),
        (Value::Number(d), Value::Number(l)) => d.as_f64() == l.as_f64(),
        (Value::String(d), Value::String(l)) => d == l || same_quantity(d, l),
        (d, l) => d == l,
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
    }
}

fn same_quantity(a: &str, b: &str) -> bool {
    let starts_numeric = |s: &str| s.starts_with(|c: char| c.is_ascii_digit());
    if !starts_numeric(a) || !starts_numeric(b) {
        return false;
    }
    let millis = |s: &str| {
        parse_cpu_millis(s)
            .ok()
            .or_else(|| parse_quantity_bytes(s).ok().map(|b| b * 1000))
    };
    matches!((millis(a), millis(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extra_live_fields_are_not_drift() {
        let desired = json!({"spec": {"replicas": 2, "template": {"containers": [{"name": "a"}]}}});
        let live = json!({"spec": {"replicas": 2, "revisionHistoryLimit": 10,
                                    "template": {"containers": [{"name": "a", "terminationMessagePath": "/dev/x"}]}},
                          "status": {"readyReplicas": 2}});
        assert!(is_subset(&desired, &live));
    }

    #[test]
    fn changed_values_are_drift() {
        let desired = json!({"spec": {"replicas": 2}});
        assert!(!is_subset(&desired, &json!({"spec": {"replicas": 3}})));
        assert!(!is_subset(&desired, &json!({"spec": {}})));
        let list = json!({"a": [1, 2]});
        assert!(!is_subset(&list, &json!({"a": [1, 2, 3]})));
    }

    #[test]
    fn quantities_compare_by_value() {
        assert!(is_subset(&json!({"cpu": "0.5"}), &json!({"cpu": "500m"})));
        assert!(is_subset(
            &json!({"memory": "1024Mi"}),
            &json!({"memory": "1Gi"})
        ));
        assert!(!is_subset(
            &json!({"memory": "1G"}),
            &json!({"memory": "1Gi"})
        ));
        assert!(!is_subset(&json!({"name": "a"}), &json!({"name": "b"})));
    }

    #[test]
    fn zero_desired_values_match_absent_ones() {
        assert!(is_subset(
            &json!({"a": {}, "b": [], "c": null, "readOnly": false, "n": 0, "s": ""}),
            &json!({})
        ));
        assert!(!is_subset(&json!({"readOnly": true}), &json!({})));
    }

    #[test]
    fn hash_mismatch_or_missing_object_needs_apply() {
        let desired = json!({"metadata": {"name": "x"}, "data": {"k": "v"}});
        let hash = applied_hash(&desired);
        let mut live = desired.clone();
        annotate(&mut live, &hash);
        assert!(!needs_apply(&desired, &hash, Some(&live)));
        assert!(needs_apply(&desired, "other", Some(&live)));
        assert!(needs_apply(&desired, &hash, None));
        live["data"]["k"] = json!("edited by hand");
        assert!(needs_apply(&desired, &hash, Some(&live)));
    }
}
