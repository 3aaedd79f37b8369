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
    built_from(SPEC, secrets())
}

/// The children of a stack with `spec`, its Secrets read as `secrets`.
fn built_from(spec: &str, secrets: BTreeMap<String, Option<Secret>>) -> Resources {
    let refs = Dereferenced {
        secrets: Some(secrets),
        ..Dereferenced::default()
    };
    let valid = validate(&common::with_spec(spec), &refs).unwrap_or_else(|e| panic!("{e}"));
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
    let env = secret_env(&pod.containers[0]);
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

const AUTH_SPEC: &str = r#"collector:
  serviceAccountAnnotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/collector
export:
  - name: amp
    signals: [metrics]
    prometheusRemoteWrite: {url: "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write"}
    sigv4:
      roleArn: arn:aws:iam::123456789012:role/amp-writer
      credentialsSecret: aws-keys
  - name: idp
    signals: [traces, logs]
    otlp: {endpoint: "https://otlp.vendor.example", protocol: http}
    oauth2:
      tokenURL: https://idp.example.com/oauth2/token
      clientId: sextant
      clientSecret: {secretName: idp, key: client-secret}
      scopes: [telemetry.write]
      endpointParams: {audience: otlp}
"#;

fn auth_secrets() -> BTreeMap<String, Option<Secret>> {
    let secret =
        |name: &str, data: &[(&str, &str)]| (name.to_string(), Some(common::secret(name, data)));
    BTreeMap::from([
        secret(
            "aws-keys",
            &[
                ("accessKeyId", "AKIA-e55d"),
                ("secretAccessKey", "aws-secret-6a1f"),
            ],
        ),
        secret("idp", &[("client-secret", "client-secret-93b2")]),
    ])
}

fn built_auth(secrets: BTreeMap<String, Option<Secret>>) -> Resources {
    built_from(AUTH_SPEC, secrets)
}

#[test]
fn oauth2_and_sigv4_destinations_authenticate_through_their_extensions() {
    let r = built_auth(auth_secrets());
    let c = collector_config(&r);
    let service_extensions = names(&c["service"]["extensions"]);
    for (exporter, ext) in [
        ("prometheusremotewrite/export-amp", "sigv4auth/export-amp"),
        ("otlp_http/export-idp", "oauth2client/export-idp"),
    ] {
        assert_eq!(
            c["exporters"][exporter]["auth"]["authenticator"].as_str(),
            Some(ext)
        );
        assert!(c["extensions"].get(ext).is_some(), "{ext} is not defined");
        assert!(
            service_extensions.iter().any(|e| e == ext),
            "{ext} not started"
        );
    }
    // The region comes from the workspace's host, and the role is assumed there.
    let sigv4 = &c["extensions"]["sigv4auth/export-amp"];
    assert_eq!(sigv4["region"].as_str(), Some("eu-west-1"));
    assert_eq!(sigv4["service"].as_str(), Some("aps"));
    assert_eq!(
        sigv4["assume_role"]["arn"].as_str(),
        Some("arn:aws:iam::123456789012:role/amp-writer")
    );
    assert_eq!(
        sigv4["assume_role"]["sts_region"].as_str(),
        Some("eu-west-1")
    );
    let oauth = &c["extensions"]["oauth2client/export-idp"];
    assert_eq!(oauth["client_id"].as_str(), Some("sextant"));
    assert_eq!(
        oauth["token_url"].as_str(),
        Some("https://idp.example.com/oauth2/token")
    );
    assert_eq!(names(&oauth["scopes"]), ["telemetry.write"]);
    assert_eq!(names(&oauth["endpoint_params"]["audience"]), ["otlp"]);
    // No value is rendered; the secret file and the AWS keys come from the Secrets.
    let text = serde_json::to_string(&r.to_values()).unwrap();
    for v in ["AKIA-e55d", "aws-secret-6a1f", "client-secret-93b2"] {
        assert!(!text.contains(v), "{v} is in a rendered object");
    }
    let pod = common::pod_of(&r, "s-collector");
    let file = oauth["client_secret_file"].as_str().unwrap();
    let (dir, key) = file.rsplit_once('/').unwrap();
    let mount = pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == dir)
        .unwrap_or_else(|| panic!("nothing mounted at {dir}"));
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == mount.name)
        .unwrap();
    let s = volume.secret.as_ref().unwrap();
    assert_eq!(s.secret_name.as_deref(), Some("idp"));
    assert_eq!(s.items.as_ref().unwrap()[0].path, key);
    let env = secret_env(&pod.containers[0]);
    assert_eq!(
        env["AWS_ACCESS_KEY_ID"],
        ("aws-keys".into(), "accessKeyId".into())
    );
    assert_eq!(
        env["AWS_SECRET_ACCESS_KEY"],
        ("aws-keys".into(), "secretAccessKey".into())
    );
    // IRSA: the collector's ServiceAccount carries the annotation.
    let account = r
        .service_accounts
        .iter()
        .find(|a| a.metadata.name.as_deref() == Some("s-collector"))
        .unwrap();
    assert_eq!(
        account.metadata.annotations.as_ref().unwrap()["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/collector"
    );
    let shown = serde_yaml_ng::to_string(&serde_json::json!({
        "extensions": serde_json::to_value(&c["extensions"]).unwrap(),
        "exporters": serde_json::to_value(&c["exporters"]).unwrap(),
        "service.extensions": serde_json::to_value(&c["service"]["extensions"]).unwrap(),
    }))
    .unwrap();
    insta::assert_snapshot!("export-oauth2-sigv4", shown);
}

/// The AWS keys are read at start (a rotation rolls the collector); the OAuth2
/// client secret is read again at each token refresh (no roll).
#[test]
fn aws_keys_roll_the_collector_and_the_client_secret_does_not() {
    let hash = |secrets| {
        let r = built_auth(secrets);
        let d = r
            .deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some("s-collector"))
            .unwrap()
            .clone();
        d.spec
            .unwrap()
            .template
            .metadata
            .unwrap()
            .annotations
            .unwrap()[sextant::model::CONFIG_HASH_ANNOTATION]
            .clone()
    };
    let with = |name: &str, key: &str| {
        let mut s = auth_secrets();
        let secret = s.get_mut(name).unwrap().as_mut().unwrap();
        secret
            .data
            .as_mut()
            .unwrap()
            .insert(key.into(), k8s_openapi::ByteString(b"rotated".to_vec()));
        s
    };
    let before = hash(auth_secrets());
    assert_ne!(before, hash(with("aws-keys", "secretAccessKey")));
    assert_eq!(before, hash(with("idp", "client-secret")));
}

use common::errors;

#[test]
fn oauth2_and_sigv4_are_refused_where_they_cannot_work() {
    let dest = |body: &str| format!("export:\n  - name: d\n{body}");
    let cases = [
        (
            dest("    signals: [traces]\n    otlp: {endpoint: \"otlp.example.com:4317\"}\n    sigv4: {region: eu-west-1}\n"),
            "spec.export[0].sigv4: signs HTTP requests only: use prometheusRemoteWrite or otlp with protocol: http",
        ),
        (
            dest("    signals: [metrics]\n    prometheusRemoteWrite: {url: \"https://mimir.example.com/api/v1/push\"}\n    sigv4: {}\n"),
            "spec.export[0].sigv4.region: is needed: it can be read only from an Amazon Managed Service for Prometheus URL (aps-workspaces.<region>.amazonaws.com)",
        ),
        (
            dest("    signals: [metrics]\n    prometheusRemoteWrite: {url: \"https://mimir.example.com/api/v1/push\"}\n    sigv4: {region: EU, roleArn: \"not-an-arn-at-all-really\"}\n"),
            "spec.export[0].sigv4.region: must be an AWS region such as eu-west-1 (lower case letters, digits and '-')",
        ),
        (
            dest("    signals: [metrics]\n    prometheusRemoteWrite: {url: \"https://mimir.example.com/api/v1/push\"}\n    sigv4: {region: eu-west-1, roleArn: \"not-an-arn-at-all-really\"}\n"),
            "spec.export[0].sigv4.roleArn: must be an IAM role ARN such as arn:aws:iam::123456789012:role/observability",
        ),
        (
            dest("    signals: [traces]\n    otlp: {endpoint: \"otlp.example.com:4317\", insecure: true}\n    oauth2: {tokenURL: \"https://idp.example.com/token\", clientId: c, clientSecret: {secretName: s, key: k}}\n"),
            "spec.export[0].otlp.insecure: must be false with oauth2: its token is sent over TLS only",
        ),
        (
            dest("    signals: [traces]\n    otlp: {endpoint: \"otlp.example.com:4317\"}\n    oauth2: {tokenURL: \"idp.example.com/token\", clientId: c, clientSecret: {secretName: s, key: k}, scopes: [\"a b\"]}\n"),
            "spec.export[0].oauth2.tokenURL: must be an http:// or https:// URL with a host",
        ),
        (
            dest("    signals: [traces]\n    otlp: {endpoint: \"otlp.example.com:4317\"}\n    oauth2: {tokenURL: \"https://idp.example.com/token\", clientId: c, clientSecret: {secretName: s, key: k}, scopes: [\"a b\"]}\n"),
            "spec.export[0].oauth2.scopes[0]: must be one OAuth2 scope token: printable ASCII without spaces, '\"', '\\' or '$'",
        ),
        (
            dest("    signals: [traces]\n    otlp: {endpoint: \"otlp.example.com:4317\"}\n    bearerToken: {secretName: t, key: token}\n    oauth2: {tokenURL: \"https://idp.example.com/token\", clientId: c, clientSecret: {secretName: s, key: k}}\n"),
            "spec.export[0]: set at most one of bearerToken, basicAuth, oauth2 and sigv4",
        ),
        (
            dest("    signals: [metrics]\n    prometheusRemoteWrite: {url: \"https://mimir.example.com/api/v1/push\"}\n    headers: [{name: Authorization, value: x}]\n    sigv4: {region: eu-west-1}\n"),
            "spec.export[0].headers[0].name: is set by sigv4: set one or the other",
        ),
        (
            "export:\n  - {name: a, signals: [metrics], prometheusRemoteWrite: {url: \"https://a.example.com/w\"}, sigv4: {region: eu-west-1, credentialsSecret: one}}\n  - {name: b, signals: [metrics], prometheusRemoteWrite: {url: \"https://b.example.com/w\"}, sigv4: {region: eu-west-1, credentialsSecret: two}}\n".to_string(),
            "spec.export[1].sigv4.credentialsSecret: must be spec.export[0]'s (one): the collector's environment holds one set of AWS keys",
        ),
        (
            "collector: {serviceAccountAnnotations: {\"bad key!\": x}}".to_string(),
            "spec.collector.serviceAccountAnnotations[\"bad key!\"]",
        ),
    ];
    for (spec, want) in cases {
        let errs = errors(&spec);
        assert!(
            errs.iter().any(|e| e.starts_with(want)),
            "expected {want:?} for\n{spec}\ngot {errs:#?}"
        );
    }
}

/// A container's variables read from Secrets: name -> (Secret, key).
fn secret_env(c: &k8s_openapi::api::core::v1::Container) -> BTreeMap<String, (String, String)> {
    c.env
        .iter()
        .flatten()
        .filter_map(|e| {
            let k = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
            Some((e.name.clone(), (k.name.clone(), k.key.clone())))
        })
        .collect()
}
