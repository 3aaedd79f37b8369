//! `spec.storage.objectStore`: the configs and pods of each store, snapshotted,
//! and the S3 settings sextant renders checked against a real S3-compatible
//! server (moto's server mode, PyPI `moto[server]`, installed by
//! `scripts/tools.sh install moto`; it checks SigV4 signatures once IAM is set up).
//!
//! The S3 test does not run Loki or Tempo (no container runs here). It reads the
//! rendered `loki.yaml` and `tempo.yaml`, resolves the pods' credential
//! environment variables through the Secret they name, and connects the way each
//! program turns those settings into a client, as read in their sources:
//! - Loki (grafana/loki v3.7.6 `pkg/storage/chunk/client/aws/s3_storage_client.go`,
//!   `s3ClientConfigFunc`): an endpoint without `://` gets `http://` when
//!   `insecure`, else `https://`; `s3forcepathstyle` selects path-style URLs;
//!   empty keys in the config leave the AWS SDK's chain to read
//!   `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`;
//! - Tempo (grafana/tempo v2.10.8 `tempodb/backend/s3/s3.go`, `createCore` and
//!   `fetchCreds`): minio-go with `Secure: !insecure` on the bare endpoint,
//!   `forcepathstyle` for path lookup, and minio's `EnvAWS` provider for the keys.
//!
//! Then it writes, reads back and deletes an object in each bucket with those
//! settings; a wrong secret key and a bucket that does not exist must fail.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use serde_json::{Value, json};
use sextant::build::{Resources, build};
use sextant::model::Capabilities;
use sextant::validate::{Dereferenced, validate};

/// A moto server, stopped (by its pid) when dropped.
struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto(server: &Path) -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        // The first four requests (IAM user, key, policy, attachment) pass without
        // a signature; every later one must be signed by a key that exists.
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "4")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not listen");
        std::thread::sleep(Duration::from_millis(200));
    }
    moto
}

fn script() -> PathBuf {
    common::root().join("tests/object_store/s3.py")
}

fn python(py: &Path, args: &[&str], stdin: &str) -> String {
    let out = common::pipe(Command::new(py).arg(script()).args(args), stdin.as_bytes());
    assert!(
        out.status.success(),
        "s3.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn built(spec: &str, secrets: BTreeMap<String, Option<Secret>>) -> Resources {
    let stack = common::with_spec(spec);
    let refs = Dereferenced {
        secrets: Some(secrets),
        ..Dereferenced::default()
    };
    let valid = validate(&stack, &refs).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        valid.missing_secrets.is_empty(),
        "{:?}",
        valid.missing_secrets
    );
    build(&valid, &Capabilities::current())
}

use common::config_file as config;

/// The value of environment variable `env` of `sts`'s container, read through
/// its secretKeyRef from `secrets`.
fn env_from_secret(
    r: &Resources,
    sts: &str,
    env: &str,
    secrets: &BTreeMap<String, Option<Secret>>,
) -> String {
    let pod = common::pod_of(r, sts);
    let var = pod.containers[0]
        .env
        .iter()
        .flatten()
        .find(|e| e.name == env)
        .unwrap_or_else(|| panic!("{sts} has no {env}"));
    let sel = var
        .value_from
        .as_ref()
        .and_then(|v| v.secret_key_ref.as_ref())
        .unwrap_or_else(|| panic!("{sts} {env} is not from a Secret"));
    let s = secrets[&sel.name].as_ref().unwrap();
    String::from_utf8(s.data.as_ref().unwrap()[&sel.key].0.clone()).unwrap()
}

/// What Loki and Tempo would connect to, from the rendered configs and pods.
fn targets(r: &Resources, secrets: &BTreeMap<String, Option<Secret>>) -> Vec<(String, Value)> {
    let loki = config(r, "s-loki-config", "loki.yaml");
    let tempo = config(r, "s-tempo-config", "tempo.yaml");
    let l = &loki["common"]["storage"]["s3"];
    let t = &tempo["storage"]["trace"]["s3"];
    assert_eq!(tempo["storage"]["trace"]["backend"], "s3");
    assert_eq!(loki["schema_config"]["configs"][0]["object_store"], "s3");
    // Neither config holds a key: both programs read them from the environment.
    for c in [l, t] {
        for key in [
            "access_key_id",
            "secret_access_key",
            "access_key",
            "secret_key",
        ] {
            assert!(c.get(key).is_none(), "a config holds {key}");
        }
    }
    let url = |endpoint: &Value, insecure: &Value| {
        let e = endpoint.as_str().unwrap();
        if e.contains("://") {
            e.to_string()
        } else if insecure.as_bool() == Some(true) {
            format!("http://{e}")
        } else {
            format!("https://{e}")
        }
    };
    let creds = |sts: &str| {
        (
            env_from_secret(r, sts, "AWS_ACCESS_KEY_ID", secrets),
            env_from_secret(r, sts, "AWS_SECRET_ACCESS_KEY", secrets),
        )
    };
    let (lid, lsecret) = creds("s-loki");
    let (tid, tsecret) = creds("s-tempo");
    vec![
        (
            "loki".into(),
            json!({
                "url": url(&l["endpoint"], &l["insecure"]),
                "region": l["region"],
                "bucket": l["bucketnames"],
                "path_style": l["s3forcepathstyle"],
                "id": lid,
                "secret": lsecret,
            }),
        ),
        (
            "tempo".into(),
            json!({
                // minio-go: https unless insecure, on a bare host.
                "url": url(&t["endpoint"], &t["insecure"]),
                "region": t["region"],
                "bucket": t["bucket"],
                "path_style": t["forcepathstyle"],
                "id": tid,
                "secret": tsecret,
            }),
        ),
    ]
}

fn check(py: &Path, targets: &[(String, Value)]) -> Vec<(String, String)> {
    let input = Value::Array(targets.iter().map(|(_, t)| t.clone()).collect());
    let out: Vec<String> =
        serde_json::from_str(&python(py, &["check"], &input.to_string())).unwrap();
    targets.iter().map(|(n, _)| n.clone()).zip(out).collect()
}

fn s3_spec(endpoint: &str, logs: &str, traces: &str) -> String {
    format!(
        "storage:\n  objectStore:\n    s3: {{endpoint: \"{endpoint}\", region: us-east-1, forcePathStyle: true, insecure: true}}\n    buckets: {{logs: {logs}, traces: {traces}}}\n    credentialsSecret: store-creds\n"
    )
}

#[test]
fn rendered_s3_settings_write_to_a_real_s3_server() {
    let (Some(server), Some(py)) = (common::tool("moto_server"), common::tool("moto-python"))
    else {
        return;
    };
    let moto = start_moto(&server);
    let key: Value = serde_json::from_str(&python(
        &py,
        &["setup", &moto.url, "sextant-logs", "sextant-traces"],
        "",
    ))
    .unwrap();
    let (id, secret_key) = (key["id"].as_str().unwrap(), key["secret"].as_str().unwrap());
    let endpoint = moto.url.trim_start_matches("http://");
    let secrets = |secret_key: &str| {
        BTreeMap::from([(
            "store-creds".to_string(),
            Some(common::secret(
                "store-creds",
                &[("accessKeyId", id), ("secretAccessKey", secret_key)],
            )),
        )])
    };

    let good = secrets(secret_key);
    let r = built(
        &s3_spec(endpoint, "sextant-logs", "sextant-traces"),
        good.clone(),
    );
    let results = check(&py, &targets(&r, &good));
    assert_eq!(
        results,
        vec![("loki".into(), "ok".into()), ("tempo".into(), "ok".into())],
        "Loki and Tempo write with the rendered settings"
    );

    // The check can fail: a wrong secret key, and buckets that do not exist.
    let wrong = secrets("not-the-secret-key");
    let r = built(
        &s3_spec(endpoint, "sextant-logs", "sextant-traces"),
        wrong.clone(),
    );
    for (who, result) in check(&py, &targets(&r, &wrong)) {
        assert_eq!(result, "SignatureDoesNotMatch", "{who} with a wrong key");
    }
    let r = built(
        &s3_spec(endpoint, "no-such-logs", "no-such-traces"),
        good.clone(),
    );
    for (who, result) in check(&py, &targets(&r, &good)) {
        assert_eq!(result, "NoSuchBucket", "{who} with a missing bucket");
    }
    drop(moto);
}

/// The rendered configs, pods and ServiceAccounts of each store.
#[test]
fn each_store_renders_its_configs_and_pods() {
    let cases = [
        (
            "s3",
            "storage:\n  objectStore:\n    s3: {endpoint: \"s3.eu-west-1.amazonaws.com\", region: eu-west-1, caSecretName: corp-ca}\n    buckets: {logs: acme-logs, traces: acme-traces}\n    credentialsSecret: store-creds\n    logsSince: \"2027-01-15\"\n",
        ),
        (
            "s3-irsa",
            "storage:\n  objectStore:\n    s3: {region: eu-west-1}\n    buckets: {logs: acme-logs, traces: acme-traces}\n    serviceAccountAnnotations: {eks.amazonaws.com/role-arn: \"arn:aws:iam::123456789012:role/sextant\"}\n",
        ),
        (
            "gcs",
            "storage:\n  objectStore:\n    gcs: {}\n    buckets: {logs: acme-logs, traces: acme-traces}\n    credentialsSecret: store-creds\n",
        ),
        (
            "azure-key",
            "storage:\n  objectStore:\n    azure: {accountName: acmeobs}\n    buckets: {logs: acme-logs, traces: acme-traces}\n    credentialsSecret: store-creds\nloki:\n  retention:\n    streams: [{selector: '{app=~\"pay$\"}', period: 48h}]\n",
        ),
        (
            "azure-workload-identity",
            "storage:\n  objectStore:\n    azure: {accountName: acmeobs, endpointSuffix: blob.core.chinacloudapi.cn}\n    buckets: {logs: acme-logs, traces: acme-traces}\n    serviceAccountAnnotations: {azure.workload.identity/client-id: 00000000-0000-0000-0000-000000000000}\n",
        ),
    ];
    for (name, spec) in cases {
        let valid = validate(&common::with_spec(spec), &Dereferenced::offline())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let r = build(&valid, &Capabilities::current());
        let mut shown = String::new();
        for c in ["loki", "tempo"] {
            let cm = r
                .config_maps
                .iter()
                .find(|m| m.metadata.name.as_deref() == Some(&format!("s-{c}-config")))
                .unwrap();
            for (file, text) in cm.data.as_ref().unwrap() {
                shown.push_str(&format!("# {file}\n{text}"));
            }
            let pod = common::pod_of(&r, &format!("s-{c}"));
            let sts = r
                .stateful_sets
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(&format!("s-{c}")))
                .unwrap();
            let sa = r
                .service_accounts
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(&format!("s-{c}")))
                .unwrap();
            let parts = json!({
                "args": pod.containers[0].args,
                "env": pod.containers[0].env,
                "volumeMounts": pod.containers[0].volume_mounts,
                "volumes": pod.volumes,
                "podLabels": sts.spec.as_ref().unwrap().template.metadata.as_ref().unwrap().labels,
                "serviceAccountAnnotations": sa.metadata.annotations,
                "volumeClaimTemplates": sts.spec.as_ref().unwrap().volume_claim_templates.iter().flatten().map(|c| c.metadata.name.clone()).collect::<Vec<_>>(),
            });
            shown.push_str(&format!(
                "# {c} pod\n{}",
                serde_yaml_ng::to_string(&parts).unwrap()
            ));
        }
        insta::assert_snapshot!(format!("object-store-{name}"), shown);
    }
}

/// Loki with an Azure key reads its config through `-config.expand-env`: every
/// `$` of the rendered text is doubled, except the key's `${AZURE_STORAGE_KEY}`.
#[test]
fn azure_key_config_escapes_every_other_dollar() {
    let spec = "storage:\n  objectStore:\n    azure: {accountName: acmeobs}\n    buckets: {logs: acme-logs, traces: acme-traces}\n    credentialsSecret: store-creds\nloki:\n  retention:\n    streams: [{selector: '{app=~\"pay$|x\\\\\\\\d\"}', period: 48h}]\n";
    let valid = validate(&common::with_spec(spec), &Dereferenced::offline()).unwrap();
    let r = build(&valid, &Capabilities::current());
    let cm = r
        .config_maps
        .iter()
        .find(|m| m.metadata.name.as_deref() == Some("s-loki-config"))
        .unwrap();
    let text = &cm.data.as_ref().unwrap()["loki.yaml"];
    assert!(text.contains("account_key: ${AZURE_STORAGE_KEY}"), "{text}");
    assert!(text.contains("pay$$|x"), "{text}");
    assert_eq!(text.matches("${").count(), 1, "{text}");
    let pod = common::pod_of(&r, "s-loki");
    assert!(
        pod.containers[0]
            .args
            .iter()
            .flatten()
            .any(|a| a == "-config.expand-env=true")
    );
    // Tempo reads AZURE_STORAGE_KEY itself: no expansion, no key in its config.
    let pod = common::pod_of(&r, "s-tempo");
    assert!(
        !pod.containers[0]
            .args
            .iter()
            .flatten()
            .any(|a| a.starts_with("-config.expand-env"))
    );
}

/// A rotated object-store key restarts Loki and Tempo (both read it only at
/// start) and nothing else.
#[test]
fn a_rotated_store_key_rolls_loki_and_tempo_only() {
    let spec = s3_spec("minio.storage.svc:9000", "acme-logs", "acme-traces");
    let hashes = |secret_key: &str| {
        let r = built(
            &spec,
            BTreeMap::from([(
                "store-creds".to_string(),
                Some(common::secret(
                    "store-creds",
                    &[("accessKeyId", "AKIA1"), ("secretAccessKey", secret_key)],
                )),
            )]),
        );
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        for (name, t) in r
            .stateful_sets
            .iter()
            .map(|s| (s.metadata.name.clone(), &s.spec.as_ref().unwrap().template))
            .chain(
                r.deployments
                    .iter()
                    .map(|d| (d.metadata.name.clone(), &d.spec.as_ref().unwrap().template)),
            )
        {
            let a = t.metadata.as_ref().unwrap().annotations.as_ref().unwrap();
            out.insert(
                name.unwrap(),
                a[sextant::model::CONFIG_HASH_ANNOTATION].clone(),
            );
        }
        out
    };
    let before = hashes("one");
    let after = hashes("two");
    let changed: Vec<&String> = before
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert_eq!(changed, ["s-loki", "s-tempo"]);
}
