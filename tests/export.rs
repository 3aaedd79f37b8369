//! `spec.export`: the collector's config and pod for destinations outside the
//! stack, snapshotted. Every pipeline names only exporters and extensions the
//! config defines, each destination gets exactly the signals it asks for (a
//! disabled backend's signal still goes out), and no Secret value reaches any
//! rendered object: they arrive as environment variables and files only.
//!
//! Not run here: the collector itself (no container runs on this machine). The
//! exporters' keys were read at opentelemetry-collector v0.159.0 (`otlp_grpc`,
//! `otlp_http`, configtls, configopaque, the env provider); contrib's
//! `prometheusremotewrite`, `basicauth` and `bearertokenauth` in stored copies,
//! not at that tag (docs/export.md).

mod common;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use serde_yaml_ng::Value;
use sextant::build::{Resources, build};
use sextant::model::Capabilities;
use sextant::validate::{Dereferenced, validate};

const SPEC: &str = r#"tempo: {enabled: false}
export:
  - name: mimir
    signals: [metrics]
    prometheusRemoteWrite: {url: "https://mimir.example.com/api/v1/push"}
    headers: [{name: X-Scope-OrgID, value: team-a}]
    basicAuth: {secretName: mimir-creds}
  - name: vendor
    signals: [traces, logs]
    otlp: {endpoint: "otlp.vendor.example:4317"}
    headers: [{name: api-key, valueFrom: {secretName: vendor, key: api-key}}]
    caSecretName: vendor-ca
  - name: inhouse
    signals: [traces]
    otlp: {endpoint: "https://otlp.corp.example", protocol: http}
    bearerToken: {secretName: corp-token, key: token}
"#;

/// Values no rendered object may hold.
const SECRET_VALUES: [&str; 5] = [
    "user-7f3a",
    "pass-91cc",
    "key-52de",
    "token-0b44",
    "-----BEGIN CERTIFICATE-----ca-e1",
];

fn secrets() -> BTreeMap<String, Option<Secret>> {
    let secret =
        |name: &str, data: &[(&str, &str)]| (name.to_string(), Some(common::secret(name, data)));
    BTreeMap::from([
        secret(
            "mimir-creds",
            &[
                ("username", SECRET_VALUES[0]),
                ("password", SECRET_VALUES[1]),
            ],
        ),
        secret("vendor", &[("api-key", SECRET_VALUES[2])]),
        secret("corp-token", &[("token", SECRET_VALUES[3])]),
        secret("vendor-ca", &[("ca.crt", SECRET_VALUES[4])]),
    ])
}

fn built() -> Resources {
    let refs = Dereferenced {
        secrets: Some(secrets()),
        ..Dereferenced::default()
    };
    let valid = validate(&common::with_spec(SPEC), &refs).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        valid.missing_secrets.is_empty(),
        "{:?}",
        valid.missing_secrets
    );
    build(&valid, &Capabilities::current())
}

fn collector_config(r: &Resources) -> Value {
    let cm = r
        .config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("s-collector-config"))
        .unwrap();
    serde_yaml_ng::from_str(&cm.data.as_ref().unwrap()["config.yaml"]).unwrap()
}

fn names(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn destinations_get_their_signals_and_nothing_is_left_undefined() {
    let r = built();
    let c = collector_config(&r);
    let pipelines = c["service"]["pipelines"].as_mapping().unwrap();
    let mut by_exporter: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, p) in pipelines {
        let id = id.as_str().unwrap();
        for e in names(&p["exporters"]) {
            assert!(
                c["exporters"].get(e.as_str()).is_some(),
                "pipeline {id} names exporter {e}, which is not defined"
            );
            by_exporter.entry(e).or_default().push(id.to_string());
        }
    }
    assert_eq!(
        by_exporter["prometheusremotewrite/export-mimir"],
        ["metrics", "metrics/node"]
    );
    assert_eq!(
        by_exporter["otlp_grpc/export-vendor"],
        ["logs", "logs/node", "traces"]
    );
    assert_eq!(by_exporter["otlp_http/export-inhouse"], ["traces"]);
    // Tempo is disabled: its signal goes to the destinations only.
    assert_eq!(
        names(&c["service"]["pipelines"]["traces"]["exporters"]),
        ["otlp_grpc/export-vendor", "otlp_http/export-inhouse"]
    );
    assert!(c["exporters"].get("otlp_grpc/tempo").is_none());
    for ext in names(&c["service"]["extensions"]) {
        assert!(
            c["extensions"].get(ext.as_str()).is_some(),
            "service.extensions names {ext}, which is not defined"
        );
    }
    for (id, e) in c["exporters"].as_mapping().unwrap() {
        if let Some(a) = e["auth"]["authenticator"].as_str() {
            assert!(
                names(&c["service"]["extensions"]).iter().any(|x| x == a),
                "{id:?} authenticates with {a}, which the service does not start"
            );
        }
    }
}

#[test]
fn no_secret_value_reaches_a_rendered_object() {
    let r = built();
    let text = serde_json::to_string(&r.to_values()).unwrap();
    for v in SECRET_VALUES {
        assert!(!text.contains(v), "{v} is in a rendered object");
    }
    // They arrive as the variables and files the config names.
    let c = collector_config(&r);
    let pod = common::pod_of(&r, "s-collector");
    let env: BTreeMap<String, (String, String)> = pod.containers[0]
        .env
        .iter()
        .flatten()
        .filter_map(|e| {
            let k = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
            Some((e.name.clone(), (k.name.clone(), k.key.clone())))
        })
        .collect();
    let basic = &c["extensions"]["basicauth/export-mimir"]["client_auth"];
    for (field, key) in [("username", "username"), ("password", "password")] {
        let reference = basic[field].as_str().unwrap();
        let var = reference
            .strip_prefix("${env:")
            .and_then(|v| v.strip_suffix('}'))
            .unwrap_or_else(|| panic!("{reference}"));
        assert_eq!(env[var], ("mimir-creds".into(), key.into()));
    }
    let header = c["exporters"]["otlp_grpc/export-vendor"]["headers"]["api-key"]
        .as_str()
        .unwrap();
    let var = &header["${env:".len()..header.len() - 1];
    assert_eq!(env[var], ("vendor".into(), "api-key".into()));
    let mounts: BTreeMap<String, String> = pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.mount_path.clone(), m.name.clone()))
        .collect();
    let token = c["extensions"]["bearertokenauth/export-inhouse"]["filename"]
        .as_str()
        .unwrap();
    let (dir, file) = token.rsplit_once('/').unwrap();
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| Some(&v.name) == mounts.get(dir))
        .unwrap_or_else(|| panic!("nothing mounted at {dir}"));
    let s = volume.secret.as_ref().unwrap();
    assert_eq!(s.secret_name.as_deref(), Some("corp-token"));
    assert_eq!(s.items.as_ref().unwrap()[0].path, file);
}

#[test]
fn the_collector_config_and_pod_of_three_destinations() {
    let r = built();
    let c = collector_config(&r);
    let pod = common::pod_of(&r, "s-collector");
    let shown = serde_yaml_ng::to_string(&serde_json::json!({
        "extensions": serde_json::to_value(&c["extensions"]).unwrap(),
        "exporters": serde_json::to_value(&c["exporters"]).unwrap(),
        "pipelines": serde_json::to_value(&c["service"]["pipelines"]).unwrap(),
        "service.extensions": serde_json::to_value(&c["service"]["extensions"]).unwrap(),
        "env": pod.containers[0].env,
        "volumeMounts": pod.containers[0].volume_mounts,
        "volumes": pod.volumes,
    }))
    .unwrap();
    insta::assert_snapshot!("export-three-destinations", shown);
}

/// The pod template's config hash of the collector built with `secrets`.
fn collector_hash(secrets: BTreeMap<String, Option<Secret>>) -> String {
    let refs = Dereferenced {
        secrets: Some(secrets),
        ..Dereferenced::default()
    };
    let valid = validate(&common::with_spec(SPEC), &refs).unwrap();
    let r = build(&valid, &Capabilities::current());
    let d = r
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some("s-collector"))
        .unwrap();
    d.spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .as_ref()
        .unwrap()[sextant::model::CONFIG_HASH_ANNOTATION]
        .clone()
}

/// A new header value, basic-auth password or CA restarts the collector (they
/// are read at start); a new bearer token does not (its extension re-reads the
/// file).
#[test]
fn values_read_at_start_roll_the_collector_and_the_token_does_not() {
    let before = collector_hash(secrets());
    assert_eq!(before, collector_hash(secrets()), "the hash is stable");
    let with = |name: &str, key: &str, value: &str| {
        let mut s = secrets();
        let secret = s.get_mut(name).unwrap().as_mut().unwrap();
        secret.data.as_mut().unwrap().insert(
            key.into(),
            k8s_openapi::ByteString(value.as_bytes().to_vec()),
        );
        s
    };
    for (name, key) in [
        ("vendor", "api-key"),
        ("mimir-creds", "password"),
        ("vendor-ca", "ca.crt"),
    ] {
        assert_ne!(
            before,
            collector_hash(with(name, key, "rotated")),
            "{name}/{key} did not change the hash"
        );
    }
    assert_eq!(
        before,
        collector_hash(with("corp-token", "token", "rotated"))
    );
}
