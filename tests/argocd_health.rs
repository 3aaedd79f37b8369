//! The Argo CD health check (`config/argocd/health.lua`) on statuses sextant's
//! own status code computes (`controller::status::compute`), run with Lua 5.1
//! (PyPI lupa, the language of Argo CD's gopher-lua) the way Argo CD runs a
//! `resource.customizations.health` script: the object as the global `obj`,
//! the returned table's `status` and `message` read. Each status sextant can
//! reach maps to the Argo CD health a user expects: Healthy only when the
//! current generation is reconciled and every component is ready.
//!
//! What this does not prove: Argo CD itself (not run here); gopher-lua and
//! Lua 5.1 differ in corners the script does not use (it uses only tables,
//! `ipairs`, comparisons and string concatenation).

mod common;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use sextant::api::ObservabilityStackStatus;
use sextant::controller::outcome::Outcome;
use sextant::controller::status::{Observation, WorkloadState, compute};
use sextant::model::{Component, ValidatedStack};
use sextant::validate::{Dereferenced, validate};

fn stack() -> ValidatedStack {
    validate(&common::with_spec("{}"), &Dereferenced::offline()).unwrap()
}

fn workloads(stack: &ValidatedStack, available: bool) -> Vec<(Component, Option<WorkloadState>)> {
    Component::ALL
        .iter()
        .filter(|c| stack.enabled(**c))
        .map(|c| {
            (
                *c,
                Some(WorkloadState {
                    desired: 1,
                    ready: i32::from(available),
                    available,
                    image: "img".into(),
                    companion: None,
                }),
            )
        })
        .collect()
}

fn observation(stack: &ValidatedStack, available: bool, reconciled: Outcome) -> Observation {
    Observation {
        workloads: workloads(stack, available),
        ..Observation::unapplied(Some(2), reconciled)
    }
}

fn applied() -> Outcome {
    Outcome::Applied {
        dashboards_skipped: vec![],
    }
}

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

/// The stack object Argo CD sees: metadata and the status.
fn object(generation: i64, status: &ObservabilityStackStatus, deleting: bool) -> Value {
    let mut metadata = json!({"name": "s", "namespace": "ns", "generation": generation});
    if deleting {
        metadata["deletionTimestamp"] = json!("2027-01-15T08:00:00Z");
    }
    json!({
        "apiVersion": "observability.sextant.dev/v1alpha1",
        "kind": "ObservabilityStack",
        "metadata": metadata,
        "spec": {},
        "status": serde_json::to_value(status).unwrap(),
    })
}

/// Runs health.lua on each object; `None` without lupa.
fn health(objects: &[Value]) -> Option<Vec<(String, String)>> {
    let python = common::tool("lupa-python")?;
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        common::root()
            .join("scripts/argocd-health.py")
            .display()
            .to_string(),
        common::root()
            .join("config/argocd/health.lua")
            .display()
            .to_string(),
    ];
    for (i, o) in objects.iter().enumerate() {
        let p = dir.path().join(format!("{i}.json"));
        std::fs::write(&p, serde_json::to_string(o).unwrap()).unwrap();
        args.push(p.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = common::run(&python, &args);
    assert!(ok, "{out}");
    Some(
        out.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["status"].as_str().unwrap().to_string(),
                    v["message"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect(),
    )
}

#[test]
fn every_status_sextant_writes_has_the_health_a_user_expects() {
    let stack = stack();
    let none = ObservabilityStackStatus::default();
    let ready = compute(
        Some(&stack),
        &none,
        &observation(&stack, true, applied()),
        now(),
    );
    let starting = compute(
        Some(&stack),
        &none,
        &observation(&stack, false, applied()),
        now(),
    );
    let invalid = compute(
        None,
        &ready,
        &Observation::unapplied(
            Some(2),
            Outcome::InvalidSpec("spec.slos[0].target: must be above 0".into()),
        ),
        now(),
    );
    let paused = compute(
        None,
        &ready,
        &Observation::unapplied(Some(2), Outcome::Paused),
        now(),
    );
    let failed = compute(
        Some(&stack),
        &ready,
        &observation(
            &stack,
            true,
            Outcome::ApplyFailed("admission webhook denied".into()),
        ),
        now(),
    );
    let blocked = compute(
        Some(&stack),
        &ready,
        &observation(
            &stack,
            true,
            Outcome::VolumeResizeBlocked(vec!["data-s-loki-0".into()]),
        ),
        now(),
    );
    let mut secret_obs = observation(&stack, true, applied());
    secret_obs.missing_secrets = vec![(
        Component::Grafana,
        "Secret alerting has no key pagerduty".into(),
    )];
    let missing_secret = compute(Some(&stack), &none, &secret_obs, now());

    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("ready", object(2, &ready, false), "Healthy", ""),
        (
            "starting",
            object(2, &starting, false),
            "Progressing",
            "not ready",
        ),
        (
            "a newer generation",
            object(3, &ready, false),
            "Progressing",
            "generation 3",
        ),
        (
            "no status yet",
            json!({"metadata": {"name": "s", "generation": 1}}),
            "Progressing",
            "operator",
        ),
        (
            "invalid",
            object(2, &invalid, false),
            "Degraded",
            "InvalidSpec: spec.slos[0].target",
        ),
        ("paused", object(2, &paused, false), "Suspended", "Paused"),
        (
            "apply failed",
            object(2, &failed, false),
            "Degraded",
            "ApplyFailed",
        ),
        (
            "resize blocked",
            object(2, &blocked, false),
            "Degraded",
            "VolumeResizeBlocked",
        ),
        (
            "missing secret",
            object(2, &missing_secret, false),
            "Degraded",
            "SecretNotFound",
        ),
        (
            "deleting",
            object(2, &ready, true),
            "Progressing",
            "Deleting",
        ),
    ];
    let objects: Vec<Value> = cases.iter().map(|c| c.1.clone()).collect();
    let Some(results) = health(&objects) else {
        return;
    };
    assert_eq!(results.len(), cases.len());
    for ((name, _, status, message), (got_status, got_message)) in cases.iter().zip(&results) {
        assert_eq!(got_status, status, "{name}: {got_message}");
        assert!(
            got_message.contains(message),
            "{name}: {got_message:?} lacks {message:?}"
        );
    }
    // The status the check reads is the one sextant writes: Ready was True
    // in the healthy case, and compute kept it through the invalid spec.
    assert!(sextant::controller::status::is_ready(&ready));
}

#[test]
fn the_argocd_configmap_carries_the_same_script() {
    let lua = std::fs::read_to_string(common::root().join("config/argocd/health.lua")).unwrap();
    let cm: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(common::root().join("config/argocd/argocd-cm.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "argocd-cm");
    // Argo CD's key: resource.customizations.health.<group>_<kind>.
    let key = "resource.customizations.health.observability.sextant.dev_ObservabilityStack";
    assert_eq!(cm["data"][key].as_str(), Some(lua.as_str()));
    // The reasons the script names are sextant's own.
    for reason in ["Paused", "SecretNotFound"] {
        assert!(lua.contains(&format!("\"{reason}\"")));
    }
    assert_eq!(sextant::api::reason::PAUSED, "Paused");
    assert_eq!(sextant::api::reason::SECRET_NOT_FOUND, "SecretNotFound");
}
